--[[
  gc: delete what no retained version references, for the caller holding the sync lock.
  The caller computes the victims from a snapshot of the head; the generation check makes
  sure no swap or rollback happened since that snapshot.

  KEYS[1] head      {aud:ID}:head      hash: current, retained, seq, generation, updatedAt
  KEYS[2] lock      {aud:ID}:lock      the sync lock's token
  KEYS[3] segs      {aud:ID}:segs      set of segment hashes present
  KEYS[4] versions  {aud:ID}:versions  set of versions begun and not yet collected
  KEYS[5..] victims keys to delete: info/index keys of dropped versions, unreferenced segments

  ARGV[1] token        lock token of the caller
  ARGV[2] generation   head generation of the caller's snapshot ("" when there is no head)
  ARGV[3] nSegs        how many of ARGV[4..] are segment hashes (the rest are versions)
  ARGV[4..]            segment hashes to remove from segs, then versions to remove from versions

  Returns the number of keys deleted.
  Errors:  -1 the caller does not hold the lock
           -2 the head changed since the snapshot
]]
local rcall = redis.call
if rcall("GET", KEYS[2]) ~= ARGV[1] then return -1 end
local generation = rcall("HGET", KEYS[1], "generation") or ""
if generation ~= ARGV[2] then return -2 end
local deleted = 0
for i = 5, #KEYS do
  deleted = deleted + rcall("DEL", KEYS[i])
end
local nSegs = tonumber(ARGV[3])
for i = 4, #ARGV do
  if i - 4 < nSegs then
    rcall("SREM", KEYS[3], ARGV[i])
  else
    rcall("SREM", KEYS[4], ARGV[i])
  end
end
return deleted
