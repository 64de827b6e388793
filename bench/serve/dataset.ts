// The generated dataset bench:serve measures: N mapped users (uid + corpId, mapped in Redis under
// a namespace of the bench's own) and audiences of different densities over their bits, stored in
// MariaDB as StarRocks BITMAP values and synced into Redis. A run that finds the same dataset
// already in place (same parameters, every audience served) reuses it.
import mysql from "mysql2/promise";
import { configFromEnv, type Config } from "../../orchestrator/config/config.js";
import { createMappingContext } from "../../orchestrator/mapping/context.js";
import { createAudienceTable, starrocksValue } from "../../orchestrator/demo/warehouse.js";
import { createSyncContext } from "../../orchestrator/sync/context.js";
import { syncAudience } from "../../orchestrator/sync/sync.js";
import { mulberry32 } from "../../orchestrator/util/prng.js";
import { BitmapCore } from "../../orchestrator/wasm/core.js";

export const NAMESPACE = "benchserve";
export const TABLE = "bench_serve_bmp";
const IMP_DATE = 20261201;
const MARKER = "bench:serve:dataset";
const SEED = 1201;

export interface AudienceSpec {
  id: string;
  name: string;
  density: number;
}

export const AUDIENCES: readonly AudienceSpec[] = [
  { id: "9001", name: "dense (50%)", density: 0.5 },
  { id: "9002", name: "medium (10%)", density: 0.1 },
  { id: "9003", name: "sparse (1%)", density: 0.01 },
  { id: "9004", name: "rare (0.1%)", density: 0.001 },
];

export interface Dataset {
  config: Config;
  users: number;
  uids: string[];
  /** Indices of each audience's members among the users, by audience id. */
  members: Map<string, Uint32Array>;
  cardinality: Map<string, number>;
  reused: boolean;
}

/** The same formula as the demo's: distinct for every i below the prime 4294967291. */
export function uidOf(i: number): string {
  return `u${String((i * 2654435761) % 4294967291).padStart(10, "0")}`;
}

function pickMembers(users: number, density: number, seed: number): Uint32Array {
  const rnd = mulberry32(seed);
  const out: number[] = [];
  for (let i = 0; i < users; i++) if (rnd() < density) out.push(i);
  return Uint32Array.from(out);
}

/** The bench's configuration: the stack's env, plus the dataset's namespace and table. */
export function benchConfig(extra: Record<string, string> = {}): Config {
  return configFromEnv({ ...process.env, ...benchEnv(), ...extra });
}

export function benchEnv(): Record<string, string> {
  return {
    BITSYNC_MAP_NAMESPACE: NAMESPACE,
    REDIS_CLUSTER_NODES: "",
    BITSYNC_SOURCE_DIALECT: "mysql",
    BITSYNC_SOURCE_TABLE: TABLE,
    BITSYNC_SOURCE_COUNT_COLUMN: "cnt",
    BITSYNC_AUDIENCES: "",
    BITSYNC_LOG_LEVEL: "warn",
  };
}

export async function prepareDataset(opts: {
  users: number;
  fresh: boolean;
  log: (line: string) => void;
}): Promise<Dataset> {
  const config = benchConfig();
  const uids = Array.from({ length: opts.users }, (_, i) => uidOf(i));
  const members = new Map(AUDIENCES.map((a, k) => [a.id, pickMembers(opts.users, a.density, SEED + k)]));
  const cardinality = new Map([...members].map(([id, m]) => [id, m.length]));
  const fingerprint = JSON.stringify({ v: 1, users: opts.users, seed: SEED, audiences: AUDIENCES });

  const sync = createSyncContext(config);
  try {
    if (!opts.fresh && (await sync.redis.get(MARKER)) === fingerprint) {
      const heads = await Promise.all(AUDIENCES.map((a) => sync.store.head(a.id)));
      if (heads.every((h) => h.current !== null)) {
        opts.log(`dataset: reusing ${opts.users} mapped users and ${AUDIENCES.length} audiences (--fresh rebuilds)`);
        return { config, users: opts.users, uids, members, cardinality, reused: true };
      }
    }
    await sync.redis.del(MARKER);

    // ---- mapping: every user gets a bit ---------------------------------------------------
    let t = performance.now();
    const mapping = createMappingContext(config);
    const bits = new Uint32Array(opts.users);
    try {
      await mapping.mapper.clear();
      mapping.mapper.presize(opts.users);
      const batch = 20_000;
      const inflight: Promise<void>[] = [];
      for (let o = 0; o < opts.users; o += batch) {
        const entries = uids.slice(o, o + batch).map((uid, k) => ({ uid, corpId: `corp-${(o + k) % 50}` }));
        inflight.push(
          mapping.mapper.allocate(entries).then((r) => r.mappings.forEach((m, k) => (bits[o + k] = m.bit))),
        );
        if (inflight.length >= 4) await inflight.shift();
      }
      await Promise.all(inflight);
    } finally {
      await mapping.close();
    }
    opts.log(`dataset: mapped ${opts.users} users in ${((performance.now() - t) / 1000).toFixed(1)} s`);

    // ---- the warehouse's audiences, then their sync -----------------------------------------
    t = performance.now();
    const core = BitmapCore.create({ budgetBytes: 64 << 20 });
    const conn = await mysql.createConnection(config.mysqlUrl);
    try {
      await createAudienceTable(conn, TABLE);
      for (const a of AUDIENCES) {
        const m = members.get(a.id)!;
        const audienceBits = Array.from(m, (i) => bits[i]!);
        await conn.execute(`INSERT INTO ${TABLE} VALUES (?, ?, 0, ?, ?)`, [
          a.id,
          IMP_DATE,
          starrocksValue(core, audienceBits),
          m.length,
        ]);
      }
    } finally {
      await conn.end();
    }
    for (const a of AUDIENCES) {
      // A fresh start: the bench audiences' keys are the bench's own.
      const stale = await sync.redis.keys(`{aud:${a.id}}:*`);
      if (stale.length > 0) await sync.redis.del(...stale);
      const r = await syncAudience(sync.deps, a.id);
      opts.log(`dataset: audience ${a.id} ${a.name}: ${r.cardinality} members, ${r.segments} segments`);
    }
    opts.log(`dataset: audiences built and synced in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    await sync.redis.set(MARKER, fingerprint);
    return { config, users: opts.users, uids, members, cardinality, reused: false };
  } finally {
    await sync.close();
  }
}
