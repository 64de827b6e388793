-- Shared by the mapping scripts (the loader inlines it where a script says "-- #include reverse").
-- Seqs per reverse bucket {map:G}:r:K (K = floor(seq / REVERSE_BUCKET_SEQS), field seq % it): a
-- small hash, kept a listpack. orchestrator/mapping/keys.ts has the same constant; test/contracts
-- fails when the two differ.
local REVERSE_BUCKET_SEQS = 128
