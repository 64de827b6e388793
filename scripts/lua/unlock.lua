--[[
  unlock: release the sync lock if the caller still holds it.

  KEYS[1] lock   {aud:ID}:lock
  ARGV[1] token  lock token of the caller

  Returns 1 when released, 0 when the lock was not the caller's (expired or taken over).
]]
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0
