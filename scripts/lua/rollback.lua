--[[
  rollback: point the head back at a retained version.

  KEYS[1] head   {aud:ID}:head       hash: epoch, current, retained, seq, generation, updatedAt
  KEYS[2] info   {aud:ID}:v:V:info   info of the target version

  ARGV[1] target    the version to make current
  ARGV[2] expected  version the caller saw as current (compare-and-set)
  ARGV[3] channel   pub/sub channel for change notifications
  ARGV[4] audience  audience id, for the notification
  ARGV[5] now       caller's clock, ms

  Returns the new generation.
  Errors:  -2 the head moved: current is no longer ARGV[2]
           -4 the target is not a retained version
           -5 the target's keys have expired or were collected
]]
local rcall = redis.call
local current = rcall("HGET", KEYS[1], "current") or ""
if current ~= ARGV[2] then return -2 end
local retained = rcall("HGET", KEYS[1], "retained") or ""
local found = false
for v in string.gmatch(retained, "[^,]+") do
  if v == ARGV[1] then found = true end
end
if not found then return -4 end
local info = rcall("GET", KEYS[2])
if not info or not string.find(info, '"complete":true', 1, true) then return -5 end
local generation = rcall("HINCRBY", KEYS[1], "generation", 1)
rcall("HSET", KEYS[1], "current", ARGV[1], "updatedAt", ARGV[5])
rcall("PUBLISH", ARGV[3], cjson.encode({
  audience = ARGV[4],
  epoch = rcall("HGET", KEYS[1], "epoch") or "",
  version = tonumber(ARGV[1]),
  generation = generation,
}))
return generation
