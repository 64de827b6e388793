--[[
  mapReverse: the reverse entries ("cid:uid") of many seqs of one allocator group, in one reply.

  KEYS[1]  meta   {map:G}:m   (names the group's hash tag; not read)
  Reads the reverse buckets {map:G}:r:K of the same hash tag (K = seq // REVERSE_BUCKET_SEQS, field seq % it; lib/reverse.lua).
  Their names are built here, as mapLookup.lua builds its buckets', rather than passed in KEYS:
  a page touches a varying number of buckets, and a script with a varying key count fails under
  ioredis' auto-pipelining on Redis Cluster ("All keys in the pipeline should belong to the same
  slots allocation group", seen in the cluster test). Every name carries KEYS[1]'s hash tag, so
  the script still touches one slot.

  ARGV[1]  seqs, comma-separated decimal integers

  Returns one string: each seq's entry in order, joined by "\n"; an empty entry for a seq never
  handed out. Entries never hold "\n": IDs with control characters are refused at allocation.

  A script, not HMGETs from the client, for the client's sake: one request and one reply string
  per group instead of a command of ~60 arguments and ~60 replies per bucket, which cost the
  serving process more than Redis spends on the script.
]]
local rcall = redis.call
local unpack = unpack
local floor = math.floor
-- #include reverse
local tag = string.sub(KEYS[1], 1, -2) -- "{map:G}:"
local out = {}
local n = 0
-- Runs of seqs in one bucket (a page's seqs ascend, so a bucket is one run): one HMGET each.
local bucket, fields = nil, {}
local function flush()
  if bucket == nil then return end
  local values = rcall("HMGET", tag .. "r:" .. bucket, unpack(fields))
  for i = 1, #values do
    n = n + 1
    out[n] = values[i] or ""
  end
end
for s in string.gmatch(ARGV[1], "%d+") do
  local seq = tonumber(s)
  local b = floor(seq / REVERSE_BUCKET_SEQS)
  if b ~= bucket then
    flush()
    bucket, fields = b, {}
  end
  fields[#fields + 1] = seq % REVERSE_BUCKET_SEQS
end
flush()
return table.concat(out, "\n")
