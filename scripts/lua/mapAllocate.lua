--[[
  mapAllocate: give each uid of one allocator group its bit, atomically and idempotently; or
  restore mappings with known bits (rebuilding from the downstream topic).

  KEYS[1]  meta   {map:G}:m   hash: groups, b0, load, level, split, seq, n, corps; and id, the
                              mapping's identity (written by mapIdentity.lua, kept here)
  Every other key this script touches shares KEYS[1]'s hash tag (same slot on Redis Cluster):
           {map:G}:f:B   forward bucket B, a small hash uid -> seq (linear hashing over uids)
           {map:G}:r:K   reverse bucket K = floor(seq / REVERSE_BUCKET_SEQS), a small hash (seq % it) -> "cid:uid"
           {map:G}:c     corpId -> cid (corps interned per group: a few bytes per ID, not the corpId)
           {map:G}:ci    cid -> corpId

  ARGV[1]  groups  G, the allocator group count (must match the mapping's, fixed forever)
  ARGV[2]  group   this group's index g; every uid must hash to it (hash mod G == g)
  ARGV[3]  b0      initial forward buckets (used when the group is created)
  ARGV[4]  load    mean uids per forward bucket before a bucket is split
  ARGV[5]  mode    "alloc" or "restore"
  ARGV[6..] runs of one corpId: corpId, count, then `count` entries of
                   alloc:   uid, hash
                   restore: uid, hash, seq
           hash is the uid's hash (lib/idhash.lua), computed by the client: hashing every uid
           here with redis.sha1hex cost about 2 µs a uid, a third of the script. This script
           hashes again, and refuses the call on any disagreement (-3) before writing: every
           entry of a call of up to 64, every 64th of a larger one, and every uid over 55 bytes
           or not ASCII (where the client's own SHA-1 gives way to node:crypto's).
  The bit of a uid is seq * G + g: seq counts up from 0 per group and is never reused.

  Returns one integer per entry, in order:
    alloc:   seq when the uid was already mapped; -(seq + 1) when this call mapped it
    restore: -(seq + 1) when restored; the uid's seq when it was already mapped (the caller
             compares); -1 when the seq belongs to another uid (nothing written)
  Errors:  the integer -1 alone: the mapping was created with another group count
           the integer -2 alone: a uid does not belong to this group (the caller hashes differently)
           the integer -3 alone: a uid's hash is not the one given (the caller hashes differently)
  Nothing is written before the errors are checked.

  Why linear hashing: forward buckets must stay small (listpack encoding: <= 128 entries) as the
  mapping grows from nothing to hundreds of millions, with no capacity set in advance and no
  reader ever looking in the wrong bucket (lookups run in a script too: mapLookup.lua).
]]
local rcall = redis.call
local meta = KEYS[1]
local tag = string.sub(meta, 1, -2) -- "{map:G}:"
local groups = tonumber(ARGV[1])
local group = tonumber(ARGV[2])
local restore = ARGV[5] == "restore"
local per = restore and 3 or 2 -- ARGV per entry

-- #include idhash
-- #include reverse

local m = rcall("HMGET", meta, "groups", "b0", "load", "level", "split", "seq", "n", "corps")
if m[1] and tonumber(m[1]) ~= groups then return -1 end

-- Before anything is written: every entry's group, and hashes re-computed here for every entry of a
-- call of up to 64 (the consumer's calls are small), every 64th entry of a larger one, and every uid
-- the client's own one-block SHA-1 does not cover (over 55 bytes, or not ASCII).
local nargs = #ARGV
local entries = 0
do
  local i = 6
  while i <= nargs do
    local count = tonumber(ARGV[i + 1])
    entries = entries + count
    i = i + 2 + per * count
  end
end
local checkAll = entries <= 64
local checked = 0
do
  local i = 6
  while i <= nargs do
    local count = tonumber(ARGV[i + 1])
    i = i + 2
    for _ = 1, count do
      local uid, h = ARGV[i], tonumber(ARGV[i + 1])
      if not h or h < 0 or h >= 4294967296 or h % 1 ~= 0 then return -3 end
      if h % groups ~= group then return -2 end
      if (checkAll or checked % 64 == 0 or #uid > 55 or string.find(uid, "[\128-\255]")) and hash(uid) ~= h then
        return -3
      end
      checked = checked + 1
      i = i + per
    end
  end
end

if not m[1] then
  m = { ARGV[1], ARGV[3], ARGV[4], "0", "0", "0", "0", "0" }
  rcall("HSET", meta, "groups", m[1], "b0", m[2], "load", m[3], "level", 0, "split", 0, "seq", 0, "n", 0, "corps", 0)
end
local b0, load = tonumber(m[2]), tonumber(m[3])
local level, split = tonumber(m[4]), tonumber(m[5])
local seq, n, corps = tonumber(m[6]), tonumber(m[7]), tonumber(m[8])

local cids = {}
local function cidOf(corp)
  local cid = cids[corp]
  if cid then return cid end
  cid = rcall("HGET", tag .. "c", corp)
  if not cid then
    cid = tostring(corps)
    corps = corps + 1
    rcall("HSET", tag .. "c", corp, cid)
    rcall("HSET", tag .. "ci", cid, corp)
  end
  cids[corp] = cid
  return cid
end

local out = {}
local reverse = {} -- reverse bucket -> { field, value, ... }: one HSET per bucket
local i = 6
while i <= nargs do
  local prefix = cidOf(ARGV[i]) .. ":" -- reverse values are "cid:uid"
  local count = tonumber(ARGV[i + 1])
  i = i + 2
  for _ = 1, count do
    local uid = ARGV[i]
    local fkey = tag .. "f:" .. bucketOf(tonumber(ARGV[i + 1]), groups, b0, level, split)
    local s = seq
    if restore then
      s = tonumber(ARGV[i + 2])
      if rcall("HEXISTS", tag .. "r:" .. floor(s / REVERSE_BUCKET_SEQS), s % REVERSE_BUCKET_SEQS) == 1 then
        local have = rcall("HGET", fkey, uid)
        out[#out + 1] = have and tonumber(have) or -1
        s = nil
      end
    end
    if s then
      if rcall("HSETNX", fkey, uid, s) == 1 then
        local rb = floor(s / REVERSE_BUCKET_SEQS)
        local list = reverse[rb]
        if not list then
          list = {}
          reverse[rb] = list
        end
        list[#list + 1] = s % REVERSE_BUCKET_SEQS
        list[#list + 1] = prefix .. uid
        out[#out + 1] = -(s + 1)
        n = n + 1
        if s >= seq then seq = s + 1 end
      else
        out[#out + 1] = tonumber(rcall("HGET", fkey, uid))
      end
    end
    i = i + per
  end
end
for rb, list in pairs(reverse) do
  rcall("HSET", tag .. "r:" .. rb, unpack(list))
end

-- Split buckets, one at a time, while the mean load is over the target. A split rewrites both
-- halves from scratch, so neither keeps a hashtable encoding it may have grown into.
while n > load * (b0 * 2 ^ level + split) do
  local width = b0 * 2 ^ level
  local from = tag .. "f:" .. split
  local all = rcall("HGETALL", from)
  local stay, move = {}, {}
  for i = 1, #all, 2 do
    local dest = bucketOf(hash(all[i]), groups, b0, level, split + 1) == split and stay or move
    dest[#dest + 1] = all[i]
    dest[#dest + 1] = all[i + 1]
  end
  rcall("DEL", from)
  if #stay > 0 then rcall("HSET", from, unpack(stay)) end
  if #move > 0 then rcall("HSET", tag .. "f:" .. (split + width), unpack(move)) end
  split = split + 1
  if split == width then
    level = level + 1
    split = 0
  end
end

rcall("HSET", meta, "level", level, "split", split, "seq", seq, "n", n, "corps", corps)
return out
