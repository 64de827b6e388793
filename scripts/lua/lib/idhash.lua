-- Shared by the mapping scripts (the loader inlines it where a script says "-- #include idhash").
-- The uid hash: the first 32 bits of SHA-1 over the uid's bytes. redis.sha1hex runs in C, several
-- times faster than any hash written in Lua 5.1; orchestrator/mapping/hash.ts computes the same
-- in TypeScript, and a test holds the two equal.
local floor = math.floor

local function hash(s)
  return tonumber(string.sub(redis.sha1hex(s), 1, 8), 16)
end

-- The forward bucket of hash h under linear hashing: b0 * 2^level buckets, of which the first
-- `split` have already been split in two (their halves use one more bit of the hash).
local function bucketOf(h, groups, b0, level, split)
  local hb = floor(h / groups)
  local width = b0 * 2 ^ level
  local b = hb % width
  if b < split then b = hb % (2 * width) end
  return b
end
