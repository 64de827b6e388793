// The demo of the audience sync on the local stack: a few audiences stored in MariaDB the way
// StarRocks serializes them, synced into Redis as versions, then answered from the segment cache;
// a second sync shows delta reuse, and a rollback goes back.
import type { Redis } from "ioredis";
import mysql from "mysql2/promise";
import { SegmentCache } from "../cache/segment-cache.js";
import { configFromEnv } from "../config/config.js";
import { audienceInfo, rollbackAudience } from "../sync/admin.js";
import { createSyncContext } from "../sync/context.js";
import { syncAudience } from "../sync/sync.js";
import { mulberry32 } from "../util/prng.js";
import { BitmapCore } from "../wasm/core.js";

const TABLE = "demo_user_group_bmp";

interface DemoAudience {
  id: string;
  name: string;
  members: Uint32Array;
}

function audience(id: string, name: string, count: number, space: number, seed: number): DemoAudience {
  const rnd = mulberry32(seed);
  const set = new Set<number>();
  while (set.size < count) set.add(Math.floor(rnd() * space));
  return { id, name, members: Uint32Array.from(set).sort() };
}

/** StarRocks BITMAP32: type byte 2, then the portable bitmap (one segment of 2^32 bits). */
function starrocksValue(core: BitmapCore, members: Uint32Array): Buffer {
  const whole = core.segment(members, 32).segments[0];
  return Buffer.concat([Buffer.from([2]), Buffer.from(whole?.blob ?? Uint8Array.of(0x3a, 0x30, 0, 0, 0, 0, 0, 0))]);
}

async function purge(redis: Redis, id: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `{aud:${id}}:*`, "COUNT", 1000);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== "0");
}

export async function runSyncDemo(print: (line: string) => void): Promise<void> {
  const env = process.env;
  if (!env.MYSQL_URL || !env.REDIS_URL) {
    print("sync demo skipped: MYSQL_URL and REDIS_URL are not set (npm run demo starts the local stack)");
    return;
  }
  const core = BitmapCore.create();
  const audiences = [
    audience("1001", "attended in the last 3 days", 400_000, 10_000_000, 1),
    audience("1002", "grade 7, active", 2_000_000, 10_000_000, 2),
    audience("1003", "churn risk", 5_000, 10_000_000, 3),
  ];
  const conn = await mysql.createConnection(env.MYSQL_URL);
  const config = configFromEnv({
    ...env,
    BITSYNC_SOURCE_DIALECT: "mysql",
    BITSYNC_SOURCE_TABLE: TABLE,
    BITSYNC_SOURCE_COUNT_COLUMN: "cnt",
    BITSYNC_LOG_LEVEL: env.BITSYNC_LOG_LEVEL ?? "warn",
  });
  const ctx = createSyncContext(config);
  const cache = new SegmentCache(ctx.store, BitmapCore.create({ budgetBytes: 64 << 20 }), {
    budgetBytes: 64 << 20,
    pollMs: 0,
  });
  try {
    // Each run starts from scratch: the demo audiences' keys and table are the demo's own.
    for (const a of audiences) await purge(ctx.redis, a.id);
    await conn.query(`DROP TABLE IF EXISTS ${TABLE}`);
    await conn.query(
      `CREATE TABLE ${TABLE} (user_group_id BIGINT NOT NULL, imp_date INT NOT NULL, hash_part INT NOT NULL, ` +
        `bmp LONGBLOB, cnt BIGINT, PRIMARY KEY (user_group_id, imp_date, hash_part))`,
    );
    // Two hash parts per audience, split by member parity, as a warehouse would by hash(uid).
    for (const a of audiences) {
      for (const part of [0, 1]) {
        const members = a.members.filter((m) => m % 2 === part);
        await conn.execute(`INSERT INTO ${TABLE} VALUES (?, 20261122, ?, ?, ?)`, [
          a.id,
          part,
          starrocksValue(core, members),
          members.length,
        ]);
      }
    }
    print(`source: MariaDB table ${TABLE}, ${audiences.length} audiences × 2 hash parts, StarRocks BITMAP bytes`);

    for (const a of audiences) {
      const r = await syncAudience(ctx.deps, a.id);
      print(
        `sync ${a.id} (${a.name}): version ${r.version}, ${r.cardinality} members, ${r.segments} segments, ` +
          `${r.written} written, ${r.reused} reused, ${Object.values(r.ms)
            .reduce((x, y) => x + (y ?? 0), 0)
            .toFixed(0)} ms`,
      );
    }

    const probe = audiences[0]!;
    const inside = probe.members[probe.members.length >> 1]!;
    const c1 = await cache.contains(probe.id, inside);
    const c2 = await cache.contains(probe.id, inside + 1);
    print(`contains(${probe.id}, ${inside}) = ${c1.member}; contains(${probe.id}, ${inside + 1}) = ${c2.member}`);
    const page = await cache.page(probe.id, { rank: 0 }, 5);
    print(`first page of ${probe.id}: ${page.bits.join(", ")} (version ${page.version}, next rank ${page.nextRank})`);

    // The warehouse rebuilds the audience the next day with a few new members in one segment.
    const grown = Uint32Array.from([...probe.members, 5_000_001, 5_000_003]).sort();
    for (const part of [0, 1]) {
      const members = grown.filter((m) => m % 2 === part);
      await conn.execute(`INSERT INTO ${TABLE} VALUES (?, 20261123, ?, ?, ?)`, [
        probe.id,
        part,
        starrocksValue(core, members),
        members.length,
      ]);
    }
    const r2 = await syncAudience(ctx.deps, probe.id);
    print(
      `re-sync ${probe.id} at imp_date ${r2.impDate}: version ${r2.version}, ${r2.written} segment written, ` +
        `${r2.reused} reused (delta sync)`,
    );
    const rb = await rollbackAudience(ctx.store, probe.id);
    const info = await audienceInfo(ctx.store, probe.id);
    print(
      `rollback ${probe.id}: version ${rb.to} is current again; retained ${info.retained.map((v) => v.version).join(", ")}`,
    );
    print(
      `look inside: BITSYNC_KEEP_STACK=1 npm run demo, then eval "$(bash scripts/stack.sh env)" and ` +
        `BITSYNC_SOURCE_DIALECT=mysql BITSYNC_SOURCE_TABLE=${TABLE} node dist/orchestrator/cli/main.js info ${probe.id} --json`,
    );
  } finally {
    await cache.stop();
    await ctx.close();
    await conn.end();
  }
}
