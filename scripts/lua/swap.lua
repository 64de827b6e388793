--[[
  swap: make a completely written version current, atomically (compare-and-set on the head).

  KEYS[1]  head      {aud:ID}:head      hash: epoch, current, retained, seq, generation, updatedAt
  KEYS[2]  lock      {aud:ID}:lock      the sync lock's token
  KEYS[3]  info      {aud:ID}:v:V:info  JSON info of the new version; written last, so its
                                        presence with "complete":true marks the version complete
  KEYS[4]  index     {aud:ID}:v:V:index binary per-segment index of the new version
  KEYS[5]  segs      {aud:ID}:segs      set of segment hashes present
  KEYS[6..] segments {aud:ID}:s:HASH    every segment key the new version references

  ARGV[1] token      lock token of the caller
  ARGV[2] expected   version the caller saw as current ("" when there was none)
  ARGV[3] version    the new version
  ARGV[4] keep       how many versions to retain (the new one included)
  ARGV[5] ttl        seconds every key of the version lives unless refreshed (0: no expiry)
  ARGV[6] channel    pub/sub channel for change notifications
  ARGV[7] audience   audience id, for the notification
  ARGV[8] now        caller's clock, ms

  Returns { generation, retained } (retained: comma-separated versions, newest first).
  Errors:  -1 the caller does not hold the lock
           -2 the head moved: current is no longer ARGV[2]
           -3 the version is not completely written (info, index or a segment is missing)
]]
local rcall = redis.call
if rcall("GET", KEYS[2]) ~= ARGV[1] then return -1 end
local current = rcall("HGET", KEYS[1], "current") or ""
if current ~= ARGV[2] then return -2 end

local info = rcall("GET", KEYS[3])
if not info or not string.find(info, '"complete":true', 1, true) then return -3 end
if rcall("EXISTS", KEYS[4]) == 0 then return -3 end
for i = 6, #KEYS do
  if rcall("EXISTS", KEYS[i]) == 0 then return -3 end
end

local keep = tonumber(ARGV[4])
local retained = { ARGV[3] }
local old = rcall("HGET", KEYS[1], "retained") or ""
for v in string.gmatch(old, "[^,]+") do
  if #retained >= keep then break end
  if v ~= ARGV[3] then retained[#retained + 1] = v end
end
local list = table.concat(retained, ",")
local generation = rcall("HINCRBY", KEYS[1], "generation", 1)
rcall("HSET", KEYS[1], "current", ARGV[3], "retained", list, "updatedAt", ARGV[8])

local ttl = tonumber(ARGV[5])
if ttl > 0 then
  for i = 1, #KEYS do
    if i ~= 2 then rcall("EXPIRE", KEYS[i], ttl) end
  end
end
rcall("PUBLISH", ARGV[6], cjson.encode({
  audience = ARGV[7],
  epoch = rcall("HGET", KEYS[1], "epoch") or "",
  version = tonumber(ARGV[3]),
  generation = generation,
}))
return { generation, list }
