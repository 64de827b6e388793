--[[
  extendLock: push the sync lock's expiry out, if the caller still holds it.

  KEYS[1] lock   {aud:ID}:lock
  ARGV[1] token  lock token of the caller
  ARGV[2] ms     new time to live, milliseconds

  Returns 1 when extended, 0 when the lock is no longer the caller's.
]]
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("PEXPIRE", KEYS[1], ARGV[2])
end
return 0
