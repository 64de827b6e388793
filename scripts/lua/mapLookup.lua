--[[
  mapLookup: the seq of each uid of one allocator group, or -1 when the uid is not mapped.

  KEYS[1]  meta   {map:G}:m   hash: groups, b0, level, split (see mapAllocate.lua)
  Reads the forward buckets {map:G}:f:B of the same hash tag.

  ARGV[1]  groups  G (must match the mapping's)
  ARGV[2]  group   this group's index g
  ARGV[3], ...     uids

  Returns one integer per uid: seq (the bit is seq * G + g), or -1 when it is not mapped.
  Errors:  -1 (alone) the mapping was created with another group count

  A script, not plain HGETs: the bucket of a uid moves when its bucket splits, and the script
  reads the split state and the bucket in one atomic step.
]]
local rcall = redis.call
local meta = KEYS[1]
local tag = string.sub(meta, 1, -2) -- "{map:G}:"
local groups = tonumber(ARGV[1])

-- #include idhash

local m = rcall("HMGET", meta, "groups", "b0", "level", "split")
local out = {}
if not m[1] then
  for i = 3, #ARGV do out[#out + 1] = -1 end
  return out
end
if tonumber(m[1]) ~= groups then return -1 end
local b0, level, split = tonumber(m[2]), tonumber(m[3]), tonumber(m[4])
for i = 3, #ARGV do
  local uid = ARGV[i]
  local s = rcall("HGET", tag .. "f:" .. bucketOf(hash(uid), groups, b0, level, split), uid)
  out[#out + 1] = s and tonumber(s) or -1
end
return out
