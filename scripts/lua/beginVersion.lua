--[[
  beginVersion: allocate the next version number of an audience, for the sync holding its lock.

  KEYS[1] head      {aud:ID}:head      hash: epoch, current, retained, seq, generation, updatedAt
  KEYS[2] lock      {aud:ID}:lock      the sync lock's token
  KEYS[3] versions  {aud:ID}:versions  set of versions begun and not yet collected

  ARGV[1] token     lock token of the caller
  ARGV[2] ttl       seconds before the versions set expires unless refreshed (0: never)
  ARGV[3] epoch     a fresh random id, kept as the head's epoch if the head has none yet: version
                    numbers restart when Redis loses the head, so readers tell versions apart by
                    (epoch, version), never by the number alone

  Returns { version, current, epoch } where current is "" when the audience has no version yet.
  Errors:  -1 the caller does not hold the lock
]]
local rcall = redis.call
if rcall("GET", KEYS[2]) ~= ARGV[1] then return -1 end
rcall("HSETNX", KEYS[1], "epoch", ARGV[3])
local version = rcall("HINCRBY", KEYS[1], "seq", 1)
rcall("SADD", KEYS[3], version)
local ttl = tonumber(ARGV[2])
if ttl > 0 then
  rcall("EXPIRE", KEYS[3], ttl)
  rcall("EXPIRE", KEYS[1], ttl)
end
local current = rcall("HGET", KEYS[1], "current") or ""
return { version, current, rcall("HGET", KEYS[1], "epoch") }
