// The sync end to end with BITSYNC_SOURCE_DIALECT=starrocks: the dialect's exact SQL
// (bitmap_to_base64, bitmap_count) runs on the stack's MariaDB, where stored functions emulate
// StarRocks (test/helpers/mariadb.ts), against a `user_group_bmp` table in a throwaway database.
// What the sync serves is checked against a roaring-wasm oracle.
import mysql from "mysql2/promise";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SegmentCache } from "../../orchestrator/cache/segment-cache.js";
import { configFromEnv } from "../../orchestrator/config/config.js";
import { audienceKeys } from "../../orchestrator/versions/keys.js";
import { audienceInfo } from "../../orchestrator/versions/admin.js";
import { createSyncContext, type SyncContext } from "../../orchestrator/sync/context.js";
import { IntegrityError } from "../../orchestrator/sync/errors.js";
import { syncAudience } from "../../orchestrator/sync/sync.js";
import { BitmapCore } from "../../orchestrator/wasm/core.js";
import { members, newAudienceId } from "../helpers/audience.js";
import {
  createBitmapTable,
  createStarRocksDatabase,
  starRocksBitmap,
  starRocksSingle,
  type TestDatabase,
} from "../helpers/mariadb.js";
import { range, RoaringBitmap32 } from "../helpers/roaring.js";
import { stackEnv } from "../helpers/stack.js";
import { containsMany } from "../helpers/cache.js";

const TABLE = "user_group_bmp";
const env = stackEnv();
let db: TestDatabase;
let ctx: SyncContext;

beforeAll(async () => {
  db = await createStarRocksDatabase();
  await createBitmapTable(db.conn, TABLE);
  // The source reads this database only: same server and credentials as the stack, another path.
  const stack = new URL(env.mysqlUrl);
  const url = new URL(db.url);
  expect([url.protocol, url.username, url.password, url.host]).toEqual([
    stack.protocol,
    stack.username,
    stack.password,
    stack.host,
  ]);
  expect(url.pathname).toBe(`/${db.name}`);
  const config = configFromEnv({
    ...process.env,
    MYSQL_URL: db.url,
    BITSYNC_SOURCE_DIALECT: "starrocks",
    BITSYNC_SOURCE_TABLE: TABLE,
    BITSYNC_SOURCE_COLUMNS: "user_group_id,imp_date,hash_part,bmp",
    BITSYNC_SOURCE_COUNT_COLUMN: "-",
    BITSYNC_VERSION_TTL_SECONDS: "3600",
    BITSYNC_SYNC_MAX_DRIFT: "0.5",
    BITSYNC_LOG_LEVEL: "silent",
  });
  expect(config).toMatchObject({ sourceDialect: "starrocks", sourceTable: TABLE, mysqlUrl: db.url });
  // A NULL bitmap is logged as a warning; keep the test output clean.
  ctx = createSyncContext(config, pino({ level: "silent" }));
});

afterAll(async () => {
  await ctx?.close();
  await db?.drop();
  // The database is gone.
  const admin = await mysql.createConnection(env.mysqlUrl);
  try {
    const [rows] = await admin.query<mysql.RowDataPacket[]>("SHOW DATABASES LIKE ?", [db.name]);
    expect(rows).toEqual([]);
  } finally {
    await admin.end();
  }
});

async function put(audience: string, impDate: number, hashPart: number, bmp: Buffer | null): Promise<void> {
  await db.conn.query(`INSERT INTO ${TABLE} (user_group_id, imp_date, hash_part, bmp) VALUES (?, ?, ?, ?)`, [
    audience,
    impDate,
    hashPart,
    bmp,
  ]);
}

/** StarRocks SET (code 10): u32 count, then u64 values, as written (not deduplicated here). */
function starRocksSet(values: readonly number[]): Buffer {
  const b = Buffer.alloc(1 + 4 + 8 * values.length);
  b[0] = 10;
  b.writeUInt32LE(values.length, 1);
  values.forEach((v, i) => b.writeBigUInt64LE(BigInt(v), 5 + 8 * i));
  return b;
}

function cacheFor(budgetBytes = 64 << 20): SegmentCache {
  return new SegmentCache(ctx.store, BitmapCore.create({ budgetBytes }), { budgetBytes, pollMs: 0 });
}

/** Every member of `version`, page by page; checks each page's version and size on the way. */
async function walk(cache: SegmentCache, audience: string, version: number, pageSize: number): Promise<number[]> {
  const all: number[] = [];
  let rank: number | null = 0;
  let pages = 0;
  while (rank !== null) {
    const page: Awaited<ReturnType<SegmentCache["page"]>> = await cache.page(audience, { version, rank }, pageSize);
    expect(page.version).toBe(version);
    expect(page.bits.length).toBeLessThanOrEqual(pageSize);
    all.push(...page.bits);
    rank = page.nextRank;
    pages++;
  }
  expect(pages).toBe(Math.max(1, Math.ceil(all.length / pageSize)));
  return all;
}

describe("sync with the starrocks dialect (MariaDB emulating StarRocks' bitmap functions)", () => {
  it("reads the latest imp_date, unions its hash parts, and serves exactly the union", async () => {
    const aud = newAudienceId();
    const other = newAudienceId();
    // The older date: one part, which must not leak into the latest version.
    const old = members(2000, 3_000_000, 301);
    await put(aud, 20261201, 0, starRocksBitmap(old));
    // Another audience's later date must not decide this audience's latest date.
    await put(other, 20261230, 0, starRocksBitmap([1, 2, 3]));

    // The latest date: parts of every shape StarRocks serializes.
    const sparse = members(20_000, 40_000_000, 302); // array containers, cookie 12346
    const dense = members(300_000, 2 ** 21, 303); // bitset containers (~9400 per 2^16)
    const runs = [...range(5_000_000, 5_070_000), ...range(2 ** 25 - 10, 2 ** 25 + 10)]; // run containers, cookie 12347
    const overlap = [...sparse.slice(0, 5000), ...members(3000, 40_000_000, 304)]; // shares members and segments
    const high = 4_000_000_000; // above 2^31, type code 1 (SINGLE32)
    const parts: [number, Buffer | null, number[]][] = [
      [0, starRocksBitmap(sparse), sparse],
      [1, starRocksBitmap(dense), dense],
      [2, starRocksBitmap(runs, true), runs],
      [3, starRocksSingle(high), [high]],
      [7, starRocksBitmap(overlap, true), overlap],
      [8, Buffer.from([0]), []], // the empty value (type code 0)
      [9, null, []], // a NULL bitmap: read as empty
      [10, starRocksSet([6_000_000, 7, 2 ** 32 - 1]), [6_000_000, 7, 2 ** 32 - 1]], // SET (type code 10), 64-bit form
    ];
    for (const [hp, bmp] of parts) await put(aud, 20261202, hp, bmp);

    const oracle = new RoaringBitmap32(parts.flatMap(([, , m]) => m));
    const union = oracle.toArray();
    try {
      const res = await syncAudience(ctx.deps, aud);
      expect(res).toMatchObject({
        audience: aud,
        version: 1,
        previous: null,
        impDate: 20261202,
        cardinality: oracle.size,
        segments: new Set(union.map((x) => Math.floor(x / 2 ** 20))).size,
        reused: 0,
      });
      expect(res.written).toBe(res.segments);
      const info = await audienceInfo(ctx.store, aud);
      expect(info).toMatchObject({ version: 1, cardinality: oracle.size, segments: res.segments });
      expect(info.info).toMatchObject({ min: union[0], max: 2 ** 32 - 1 });
      expect(info.info.source).toEqual({
        dialect: "starrocks",
        table: TABLE,
        impDate: 20261202,
        hashParts: [0, 1, 2, 3, 7, 8, 9, 10],
      });

      const cache = cacheFor();
      try {
        // Membership: members of several parts and of the older date, the edges of the runs and of the
        // largest values, and seeded probes over the whole range (mostly non-members).
        const probes = [
          ...members(4000, 2 ** 26, 305),
          ...sparse.slice(0, 3000),
          ...dense.slice(0, 3000),
          ...old.slice(0, 1000),
          ...[4_999_999, 5_000_000, 5_070_000, 5_070_001, 2 ** 25 - 11, 2 ** 25 + 10, 2 ** 25 + 11],
          ...[high - 1, high, high + 1, 2 ** 32 - 1, 0],
        ];
        const many = await containsMany(cache, aud, probes);
        expect(many.version).toBe(1);
        expect(many.members).toEqual(probes.map((x) => oracle.has(x)));
        for (const x of probes.slice(-12)) expect((await cache.contains(aud, x)).member, String(x)).toBe(oracle.has(x));

        // A full walk in pages that do not line up with segments.
        expect(await walk(cache, aud, 1, 9_973)).toEqual(union);
        const deep = await cache.page(aud, { rank: union.length - 2 }, 10);
        expect(deep).toEqual({ epoch: expect.any(String), version: 1, bits: union.slice(-2), nextRank: null });
      } finally {
        await cache.stop();
      }

      // An explicit older date, then the latest again: its segments are still retained, so reused.
      const older = await syncAudience(ctx.deps, aud, { impDate: 20261201, force: true });
      expect(older).toMatchObject({ version: 2, impDate: 20261201, cardinality: old.length });
      const again = await syncAudience(ctx.deps, aud, { force: true });
      expect(again).toMatchObject({ version: 3, impDate: 20261202, cardinality: oracle.size, written: 0 });
      expect(again.reused).toBe(again.segments);
      const cache2 = cacheFor();
      try {
        expect(await walk(cache2, aud, 2, 777)).toEqual(old);
        expect(await walk(cache2, aud, 3, 65_536)).toEqual(union);
      } finally {
        await cache2.stop();
      }
    } finally {
      oracle.dispose();
    }
  });

  it("fails on a corrupt stored bitmap; the served version stays", async () => {
    const aud = newAudienceId();
    const served = members(5000, 6_000_000, 311);
    await put(aud, 20261201, 0, starRocksBitmap(served));
    const first = await syncAudience(ctx.deps, aud);
    expect(first.version).toBe(1);

    const next = members(3000, 6_000_000, 312);
    await put(aud, 20261202, 0, starRocksBitmap(next));

    // Each value still has a header bitmap_count can sum, but its body is not a valid bitmap.
    const base = members(2500, 6_000_000, 313);
    const good = starRocksBitmap(base);
    const unsorted = Buffer.from(good);
    unsorted.writeUInt16LE(0xffff, 1 + 8); // first container's key: keys out of order
    const truncated = good.subarray(0, good.length - 3);
    // One bitset container whose header cardinality disagrees with its bits.
    const bitset = starRocksBitmap(members(5000, 65_536, 314));
    expect(bitset.readUInt16LE(1 + 8 + 2)).toBe(4999); // key 0, cardinality - 1
    const miscounted = Buffer.from(bitset);
    miscounted.writeUInt16LE(5999, 1 + 8 + 2);
    // A run container whose header cardinality is wrong (the runs themselves are valid).
    const runs = starRocksBitmap(range(100, 20_000), true);
    const runMiscounted = Buffer.from(runs);
    expect(runMiscounted.readUInt32LE(1)).toBe(12347); // one container, runs
    expect(runMiscounted.readUInt16LE(1 + 4 + 1 + 2)).toBe(19_900);
    runMiscounted.writeUInt16LE(19_000, 1 + 4 + 1 + 2);

    // A SET (type code 10) listing a value twice: bitmap_count says 3, the members are 2.
    const dupSet = starRocksSet([10, 10, 20]);

    const cases: [string, Buffer, RegExp][] = [
      ["unsorted keys", unsorted, /UNSORTED_KEYS/],
      ["truncated", truncated, /TRUNCATED/],
      ["bitset cardinality", miscounted, /BAD_CARDINALITY/],
      ["run cardinality", runMiscounted, /BAD_CARDINALITY/],
      ["set with a duplicate", dupSet, /decoded 2 members but the source counts 3/],
    ];
    const cache = cacheFor();
    try {
      for (const [what, bytes, reason] of cases) {
        await db.conn.query(`DELETE FROM ${TABLE} WHERE user_group_id = ? AND imp_date = 20261202 AND hash_part = 4`, [
          aud,
        ]);
        await put(aud, 20261202, 4, bytes);
        const err = await syncAudience(ctx.deps, aud).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err, what).toBeInstanceOf(IntegrityError);
        expect((err as Error).message, what).toMatch(/^audience \d+, imp_date 20261202, hash_part 4: /);
        expect((err as Error).message, what).toMatch(reason);
        expect((err as Error).message, what).toMatch(/the served version is unchanged$/);

        const head = await ctx.store.head(aud);
        expect(head.current, what).toBe(1);
        expect(head.retained, what).toEqual([1]);
        cache.invalidate(aud);
        const page = await cache.page(aud, { rank: 0 }, served.length + 1);
        expect(page, what).toEqual({ epoch: expect.any(String), version: 1, bits: served, nextRank: null });
        // The lock was released: nothing is left holding the audience.
        expect(await ctx.redis.exists(audienceKeys(aud).lock), what).toBe(0);
      }

      // With the bad part fixed, the same sync goes through.
      await db.conn.query(`DELETE FROM ${TABLE} WHERE user_group_id = ? AND hash_part = 4`, [aud]);
      await put(aud, 20261202, 4, good);
      const fixed = await syncAudience(ctx.deps, aud);
      const union = [...new Set([...next, ...base])].sort((x, y) => x - y);
      expect(fixed).toMatchObject({ version: 2, previous: 1, impDate: 20261202, cardinality: union.length });
      cache.invalidate(aud);
      expect(await walk(cache, aud, 2, 1_000)).toEqual(union);
    } finally {
      await cache.stop();
    }
  });
});
