--[[
  mapIdentity: give one allocator group the mapping's identity, unless it already has one, and
  return the identity the group holds. Import checkpoints record it, so that a checkpoint of a
  mapping that was lost (or of another one) is never taken for this mapping's.

  KEYS[1]  meta   {map:G}:m   hash: groups, ... (see mapAllocate.lua), and id
  ARGV[1]  groups  G, the allocator group count (must match the mapping's when it has one)
  ARGV[2]  id      the identity to store when the group has none (random, made by the caller)

  Returns the group's identity (a string): ARGV[2] when this call stored it, else the one it had.
  Errors:  the integer -1 alone: the mapping was created with another group count (the mapping
           scripts' GROUP_COUNT, as in mapAllocate and mapLookup)

  HSETNX: the first identity stored in a group is never replaced, so callers racing to create
  the mapping all read back the same one. The caller stores group 0's identity in every other
  group (see orchestrator/mapping/identity.ts). Only the field id is written: mapAllocate.lua
  still creates the rest of the meta (with its presized b0) on the group's first allocation.
]]
local meta = KEYS[1]
local groups = redis.call("HGET", meta, "groups")
if groups and tonumber(groups) ~= tonumber(ARGV[1]) then return -1 end
redis.call("HSETNX", meta, "id", ARGV[2])
return redis.call("HGET", meta, "id")
