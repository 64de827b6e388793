// bench:sync — one audience of 50M members in a 200M bit space, stored in MariaDB (mysql dialect,
// StarRocks-serialized BLOB), synced end to end into Redis; compared in the same run with the
// physical floor: the same segment bytes written with plain pipelined SETs.
//
//   npm run bench:sync [-- --json] [-- --members 50000000] [-- --space 200000000] [-- --runs 3]
//
// Needs the local stack (REDIS_URL, MYSQL_URL): `eval "$(bash scripts/stack.sh env)"`.
import { parseArgs } from "node:util";
import mysql from "mysql2/promise";
import { Redis } from "ioredis";
import { configFromEnv } from "../orchestrator/config/config.js";
import { createSyncContext } from "../orchestrator/sync/context.js";
import { syncAudience, type SyncResult } from "../orchestrator/sync/sync.js";
import { BitmapCore } from "../orchestrator/wasm/core.js";
import { randomMembers } from "./fixtures.js";

const { values: args } = parseArgs({
  options: {
    json: { type: "boolean", default: false },
    members: { type: "string", default: "50000000" },
    space: { type: "string", default: "200000000" },
    runs: { type: "string", default: "3" },
  },
});
const memberCount = Number(args.members);
const space = Number(args.space);
const runs = Number(args.runs);
const log = (line: string): void => {
  if (!args.json) console.error(line);
};

if (!process.env.REDIS_URL || !process.env.MYSQL_URL) {
  console.error('bench:sync needs the local stack: eval "$(bash scripts/stack.sh env)" first');
  process.exit(2);
}

const table = `bench_ugb_${process.pid}`;
const baseId = 9_000_000_000 + (Date.now() % 1_000_000) * 1000;
const ids = Array.from({ length: runs }, (_, i) => String(baseId + i));

// ---- fixture -------------------------------------------------------------------------------
let t0 = performance.now();
// The whole bitmap as one portable blob: one "segment" of 2^32 bits. (roaring-wasm's addMany
// loses its heap view when its memory grows mid-call, so it cannot build a bitmap this large.)
const portable = BitmapCore.create({ budgetBytes: 1 << 30 }).segment(randomMembers(memberCount, space, 2026), 32)
  .segments[0]!.blob;
const value = Buffer.concat([Buffer.from([2]), Buffer.from(portable)]);
log(
  `fixture: ${memberCount} members in ${space} bits, portable ${portable.length} B (${(performance.now() - t0).toFixed(0)} ms)`,
);

const conn = await mysql.createConnection(process.env.MYSQL_URL);
await conn.query(
  `CREATE TABLE ${table} (user_group_id BIGINT NOT NULL, imp_date INT NOT NULL, hash_part INT NOT NULL, ` +
    `bmp LONGBLOB, cnt BIGINT, PRIMARY KEY (user_group_id, imp_date, hash_part))`,
);
t0 = performance.now();
for (const id of ids)
  await conn.execute(`INSERT INTO ${table} VALUES (?, 20261122, 0, ?, ?)`, [id, value, memberCount]);
log(`stored ${runs} copies in MariaDB table ${table} (${(performance.now() - t0).toFixed(0)} ms)`);

const config = configFromEnv({
  ...process.env,
  BITSYNC_SOURCE_DIALECT: "mysql",
  BITSYNC_SOURCE_TABLE: table,
  BITSYNC_SOURCE_COUNT_COLUMN: "cnt",
  BITSYNC_LOG_LEVEL: "silent",
});
const ctx = createSyncContext(config);
const redis = new Redis(config.redisUrl);

const purge = async (pattern: string): Promise<void> => {
  let cursor = "0";
  do {
    const [next, found] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 1000);
    if (found.length > 0) await redis.del(...found);
    cursor = next;
  } while (cursor !== "0");
};

try {
  // Runs alternate the subject and the baseline, and each deletes what it wrote before the next
  // starts: both then write into memory Redis has already allocated (as in steady state), and
  // drift on a shared machine hits both alike.
  const results: SyncResult[] = [];
  const syncMs: number[] = [];
  const floorMs: number[] = [];
  const pipelineMs: number[] = [];
  const directMs: number[] = [];
  const readMs: number[] = [];
  const direct = new Redis(config.redisUrl, { enableAutoPipelining: false });
  let redisBytes = 0;
  let keys = 0;
  for (const [r, id] of ids.entries()) {
    // ---- subject: an end-to-end sync of a fresh audience (no delta reuse) -------------------
    let t = performance.now();
    const result = await syncAudience(ctx.deps, id);
    syncMs.push(performance.now() - t);
    results.push(result);
    log(`sync ${id}: ${syncMs[r]!.toFixed(0)} ms ${JSON.stringify(result.ms)}`);

    if (r === 0) {
      // ---- Redis bytes of one audience -------------------------------------------------------
      let cursor = "0";
      do {
        const [next, found] = await redis.scan(cursor, "MATCH", `{aud:${id}}:*`, "COUNT", 1000);
        for (const k of found) {
          redisBytes += Number(await redis.memory("USAGE", k, "SAMPLES", "0"));
          keys++;
        }
        cursor = next;
      } while (cursor !== "0");
    }

    // ---- reference: the source read alone, the same query the sync runs -----------------------
    t = performance.now();
    await ctx.deps.source.read(id);
    readMs.push(performance.now() - t);

    // ---- baseline: the same segment bytes, plain pipelined SETs ------------------------------
    const index = (await ctx.store.index(id, result.version))!;
    const blobs: Buffer[] = [];
    for (const e of index.entries) blobs.push((await ctx.store.segment(id, e.hash, e.bytes))!);
    if (r < ids.length - 1) await purge(`{aud:${id}}:*`);
    // Every SET in flight at once, the fastest plain write there is: both ioredis' pipeline object
    // and bare commands on a connection without auto-pipelining; the floor is the faster.
    const prefix = `bench:floor:${process.pid}:${r}:`;
    t = performance.now();
    const pipe = redis.pipeline();
    for (let i = 0; i < blobs.length; i++) pipe.set(prefix + i, blobs[i]!);
    await pipe.exec();
    const piped = performance.now() - t;
    await redis.del(...blobs.map((_, i) => prefix + i));
    t = performance.now();
    await Promise.all(blobs.map((b, i) => direct.set(prefix + i, b)));
    const bare = performance.now() - t;
    await redis.del(...blobs.map((_, i) => prefix + i));
    pipelineMs.push(piped);
    directMs.push(bare);
    floorMs.push(Math.min(piped, bare));
  }
  direct.disconnect();
  const first = results[0]!;

  // ---- delta: the last audience again, every segment reused ---------------------------------
  const t = performance.now();
  const again = await syncAudience(ctx.deps, ids[ids.length - 1]!, { force: true });
  const deltaMs = performance.now() - t;

  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const figures = {
    sync_ms_median: median(syncMs),
    sync_ms: syncMs,
    raw_write_ms_median: median(floorMs),
    raw_write_ms: floorMs,
    raw_write_pipeline_object_ms_median: median(pipelineMs),
    raw_write_bare_commands_ms_median: median(directMs),
    source_read_ms_median: median(readMs),
    source_read_ms: readMs,
    delta_sync_ms: deltaMs,
    delta_reused_segments: again.reused,
    steps_ms_first_sync: first.ms,
    portable_bytes: portable.length,
    segment_bytes: first.bytesWritten,
    segments: first.segments,
    redis_bytes: redisBytes,
    redis_keys: keys,
  };
  const ratios = {
    sync_vs_raw_write: figures.sync_ms_median / figures.raw_write_ms_median,
    sync_vs_raw_write_pipeline_object: figures.sync_ms_median / figures.raw_write_pipeline_object_ms_median,
    redis_bytes_vs_portable: redisBytes / portable.length,
    // What reading the value alone costs against the floor: the sync cannot take less than this
    // plus the write unless the two overlap.
    source_read_vs_raw_write: figures.source_read_ms_median / figures.raw_write_ms_median,
  };
  const setup = { members: memberCount, space, runs, segment_bits: config.segmentBits, node: process.version };
  log(`sync (median of ${runs})      ${figures.sync_ms_median.toFixed(0)} ms`);
  log(`raw pipelined SETs (floor)   ${figures.raw_write_ms_median.toFixed(0)} ms`);
  log(`source read alone            ${figures.source_read_ms_median.toFixed(0)} ms`);
  log(`delta re-sync (all reused)   ${deltaMs.toFixed(0)} ms, ${again.reused}/${again.segments} segments reused`);
  log(`redis bytes                  ${redisBytes} B in ${keys} keys for ${portable.length} B portable`);
  log(`ratio sync_vs_raw_write        ${ratios.sync_vs_raw_write.toFixed(2)}x   (target <= 3)`);
  log(`ratio source_read_vs_raw_write ${ratios.source_read_vs_raw_write.toFixed(2)}x   (reference)`);
  log(`ratio redis_bytes_vs_portable  ${ratios.redis_bytes_vs_portable.toFixed(3)}x  (target <= 1.05)`);
  if (args.json) console.log(JSON.stringify({ bench: "sync", setup, figures, ratios }));
} finally {
  for (const id of ids) await purge(`{aud:${id}}:*`);
  await conn.query(`DROP TABLE IF EXISTS ${table}`);
  await conn.end();
  redis.disconnect();
  await ctx.close();
}
