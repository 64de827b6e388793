// What the ID mapping holds in Redis: IDs and seqs per group (from the groups' meta hashes), and
// the Redis bytes it takes per ID (MEMORY USAGE, sampled). For `bitsync map stats` and benchmarks.
import type { RedisLike } from "../redis/cluster.js";
import { REVERSE_BUCKET_SEQS, type MapKeys } from "./keys.js";

export interface GroupStats {
  group: number;
  ids: number;
  nextSeq: number;
  forwardBuckets: number;
  corps: number;
}

export interface MappingStats {
  groups: number;
  ids: number;
  /** One past the highest bit handed out (the bit space the warehouse sees). */
  bitSpan: number;
  perGroup: GroupStats[];
}

export interface MappingMemory {
  totalBytes: number;
  keys: number;
  /** Keys measured; the rest extrapolated. */
  sampled: number;
  exact: boolean;
  bytesPerId: number | null;
}

export async function mappingStats(redis: RedisLike, keys: MapKeys, groups: number): Promise<MappingStats> {
  const perGroup = await Promise.all(
    Array.from({ length: groups }, async (_, group): Promise<GroupStats> => {
      const m = await redis.hgetall(keys.meta(group));
      const level = Number(m.level ?? 0);
      const b0 = Number(m.b0 ?? 0);
      return {
        group,
        ids: Number(m.n ?? 0),
        nextSeq: Number(m.seq ?? 0),
        forwardBuckets: m.b0 === undefined ? 0 : b0 * 2 ** level + Number(m.split ?? 0),
        corps: Number(m.corps ?? 0),
      };
    }),
  );
  const ids = perGroup.reduce((n, g) => n + g.ids, 0);
  const bitSpan = perGroup.reduce(
    (n, g) => (g.nextSeq > 0 ? Math.max(n, (g.nextSeq - 1) * groups + g.group + 1) : n),
    0,
  );
  return { groups: groups, ids, bitSpan, perGroup };
}

/**
 * Redis bytes of the mapping (MEMORY USAGE: values, key names and per-key overhead), per ID.
 * Exact when there are at most `sample` buckets of each kind, else extrapolated from `sample`
 * random forward and reverse buckets.
 */
export async function mappingMemory(
  redis: RedisLike,
  keys: MapKeys,
  groups: number,
  sample = 200,
): Promise<MappingMemory> {
  const stats = await mappingStats(redis, keys, groups);
  const usage = async (key: string): Promise<number> => Number((await redis.memory("USAGE", key, "SAMPLES", "0")) ?? 0);
  const fixed: string[] = [];
  const forward: string[] = [];
  const reverse: string[] = [];
  for (const g of stats.perGroup) {
    if (g.forwardBuckets === 0) continue;
    fixed.push(keys.meta(g.group), keys.corps(g.group), keys.corpIds(g.group));
    for (let b = 0; b < g.forwardBuckets; b++) forward.push(keys.forward(g.group, b));
    for (let s = 0; s < g.nextSeq; s += REVERSE_BUCKET_SEQS) reverse.push(keys.reverse(g.group, s));
  }
  let sampled = 0;
  const total = async (names: string[]): Promise<number> => {
    if (names.length <= sample) {
      sampled += names.length;
      return (await Promise.all(names.map(usage))).reduce((a, b) => a + b, 0);
    }
    // Evenly spaced picks: buckets differ by position only through the split state.
    const picks = Array.from({ length: sample }, (_, i) => names[Math.floor(((i + 0.5) * names.length) / sample)]!);
    sampled += picks.length;
    const sum = (await Promise.all(picks.map(usage))).reduce((a, b) => a + b, 0);
    return (sum / picks.length) * names.length;
  };
  const bytes = (await total(fixed)) + (await total(forward)) + (await total(reverse));
  const count = fixed.length + forward.length + reverse.length;
  return {
    totalBytes: Math.round(bytes),
    keys: count,
    sampled,
    exact: sampled === count,
    bytesPerId: stats.ids > 0 ? bytes / stats.ids : null,
  };
}
