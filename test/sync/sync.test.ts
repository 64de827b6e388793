// The sync end to end on the real stack: MariaDB (mysql dialect, StarRocks-serialized BLOBs) ->
// versioned segments in Redis -> the in-process cache, checked against a roaring-wasm oracle.
import { afterEach, describe, expect, it, onTestFinished } from "vitest";
import { SegmentCache } from "../../orchestrator/cache/segment-cache.js";
import { audienceKeys } from "../../orchestrator/versions/keys.js";
import { audienceInfo, collectGarbage, rollbackAudience } from "../../orchestrator/versions/admin.js";
import { DriftError, IntegrityError } from "../../orchestrator/sync/errors.js";
import { RollbackError, SyncConflictError, UnknownAudienceError } from "../../orchestrator/versions/errors.js";
import { syncAudience } from "../../orchestrator/sync/sync.js";
import { BitmapCore } from "../../orchestrator/wasm/core.js";
import { audienceKeyNames, members, newAudienceId, sourceFixture, type SourceTable } from "../helpers/audience.js";
import { RoaringBitmap32, portable64 } from "../helpers/roaring.js";
import { commandsProcessed, flushScripts, testRedis, waitFor } from "../helpers/stack.js";
import { containsMany } from "../helpers/cache.js";

const fx = sourceFixture();
const { redis } = fx;
afterEach(async () => {
  // Exercise the NOSCRIPT reload path: the next script call must load its script again.
  await flushScripts(redis);
});

function cacheFor(ctx: ReturnType<SourceTable["context"]>, budgetBytes = 64 << 20): SegmentCache {
  return new SegmentCache(ctx.store, BitmapCore.create({ budgetBytes }), { budgetBytes, pollMs: 0 });
}

describe("sync", () => {
  it("syncs an audience end to end; the cache answers like roaring-wasm", async () => {
    const aud = newAudienceId();
    const m = members(50_000, 30_000_000, 1);
    await fx.table.put(aud, 20261120, 0, m);
    const ctx = fx.table.context();
    try {
      const res = await syncAudience(ctx.deps, aud);
      expect(res.version).toBe(1);
      expect(res.cardinality).toBe(m.length);
      expect(res.segments).toBe(new Set(m.map((x) => Math.floor(x / 2 ** 20))).size);
      expect(res.written).toBe(res.segments);

      const oracle = new RoaringBitmap32(m);
      const cache = cacheFor(ctx);
      const probes = [...m.slice(0, 2000), ...members(5000, 32_000_000, 2)];
      for (const x of probes.slice(0, 500)) expect((await cache.contains(aud, x)).member).toBe(oracle.has(x));
      const many = await containsMany(cache, aud, probes);
      expect(many.version).toBe(1);
      expect(many.members).toEqual(probes.map((x) => oracle.has(x)));

      // Paging over the whole audience equals the oracle, and the cost does not depend on the start.
      const all: number[] = [];
      let rank: number | null = 0;
      while (rank !== null) {
        const page: Awaited<ReturnType<typeof cache.page>> = await cache.page(aud, { version: 1, rank }, 7_777);
        all.push(...page.bits);
        rank = page.nextRank;
      }
      expect(all).toEqual(m);
      const deep = await cache.page(aud, { rank: m.length - 3 }, 10);
      expect(deep.bits).toEqual(m.slice(-3));
      expect(deep.nextRank).toBeNull();

      const info = await audienceInfo(ctx.store, aud);
      expect(info).toMatchObject({ audience: aud, version: 1, cardinality: m.length, segments: res.segments });
      expect(info.info.source).toMatchObject({ impDate: 20261120, hashParts: [0], dialect: "mysql" });
      oracle.dispose();
      await cache.stop();
    } finally {
      await ctx.close();
    }
  });

  it("stores segments over 64 KB as a hash of pieces that fill jemalloc's classes exactly", async () => {
    const aud = newAudienceId();
    const m = members(700_000, 2 * 2 ** 20, 30); // two dense segments: 16 bitsets each
    await fx.table.put(aud, 20261120, 0, m);
    const ctx = fx.table.context();
    try {
      const res = await syncAudience(ctx.deps, aud);
      expect(res.segments).toBe(2);
      const idx = (await ctx.store.index(aud, res.version))!;
      let stored = 0;
      for (const e of idx.entries) {
        expect(e.bytes).toBeGreaterThan(65_530);
        const key = audienceKeys(aud).segment(e.hash);
        expect(await redis.type(key)).toBe("hash");
        stored += Number(await redis.memory("USAGE", key, "SAMPLES", "0"));
      }
      expect(stored / res.bytesWritten).toBeLessThan(1.01);
      const oracle = new Set(m);
      const cache = cacheFor(ctx);
      const probes = members(5000, 2 * 2 ** 20, 31);
      expect((await containsMany(cache, aud, probes)).members).toEqual(probes.map((x) => oracle.has(x)));
      await cache.stop();
    } finally {
      await ctx.close();
    }
  });

  it("reads the latest imp_date by default and unions its hash parts", async () => {
    const aud = newAudienceId();
    const a = members(3000, 5_000_000, 3);
    const b = members(3000, 5_000_000, 4); // overlaps a in places and shares segments
    await fx.table.put(aud, 20261101, 0, [1, 2, 3]);
    await fx.table.put(aud, 20261102, 0, a);
    await fx.table.put(aud, 20261102, 1, b);
    const ctx = fx.table.context();
    try {
      const res = await syncAudience(ctx.deps, aud);
      const union = [...new Set([...a, ...b])].sort((x, y) => x - y);
      expect(res.impDate).toBe(20261102);
      expect(res.cardinality).toBe(union.length);
      const cache = cacheFor(ctx);
      const page = await cache.page(aud, { rank: 0 }, union.length + 10);
      expect(page.bits).toEqual(union);

      const older = await syncAudience(ctx.deps, aud, { impDate: 20261101, force: true });
      expect(older.cardinality).toBe(3);
      await cache.stop();
    } finally {
      await ctx.close();
    }
  });

  it("reuses identical segments (delta sync) and reports it", async () => {
    const aud = newAudienceId();
    const m = members(20_000, 10_000_000, 5); // ~10 segments of 2^20
    await fx.table.put(aud, 20261120, 0, m);
    const ctx = fx.table.context();
    try {
      const first = await syncAudience(ctx.deps, aud);
      // Change only segment 3.
      const changed = [...m.filter((x) => Math.floor(x / 2 ** 20) !== 3), 3 * 2 ** 20 + 17];
      await fx.table.put(aud, 20261121, 0, changed);
      const second = await syncAudience(ctx.deps, aud);
      expect(second.version).toBe(first.version + 1);
      expect(second.written).toBe(1);
      expect(second.reused).toBe(second.segments - 1);
      // The replaced segment of the old version is still there for rollback (retained)...
      const keys = audienceKeys(aud);
      const before = await redis.scard(keys.segs);
      expect(before).toBe(first.segments + 1);
    } finally {
      await ctx.close();
    }
  });

  it("refuses a cardinality drift beyond the guard unless forced; the served version stays", async () => {
    const aud = newAudienceId();
    await fx.table.put(aud, 20261120, 0, members(1000, 1_000_000, 6));
    const ctx = fx.table.context({ BITSYNC_SYNC_MAX_DRIFT: "0.2" });
    try {
      await syncAudience(ctx.deps, aud);
      await fx.table.put(aud, 20261121, 0, members(500, 1_000_000, 7));
      await expect(syncAudience(ctx.deps, aud)).rejects.toThrow(DriftError);
      expect((await ctx.store.head(aud)).current).toBe(1);
      const forced = await syncAudience(ctx.deps, aud, { force: true });
      expect(forced.cardinality).toBe(500);
    } finally {
      await ctx.close();
    }
  });

  it("fails on corrupt source bytes or a count mismatch; the served version stays", async () => {
    const aud = newAudienceId();
    const m = members(1000, 1_000_000, 8);
    await fx.table.put(aud, 20261120, 0, m);
    const ctx = fx.table.context();
    try {
      await syncAudience(ctx.deps, aud);
      const good = (await import("../helpers/audience.js")).starrocksBytes(m);
      const corrupt = Buffer.from(good);
      corrupt.writeUInt16LE(0xffff, 1 + 8); // first container's key: unsorted/out of place
      await fx.table.put(aud, 20261121, 0, corrupt);
      await expect(syncAudience(ctx.deps, aud)).rejects.toThrow(IntegrityError);
      await fx.table.put(aud, 20261121, 0, good.subarray(0, good.length - 5));
      await expect(syncAudience(ctx.deps, aud)).rejects.toThrow(/hash_part 0/);
      await fx.table.put(aud, 20261121, 0, m, m.length + 1); // the source's count disagrees
      await expect(syncAudience(ctx.deps, aud)).rejects.toThrow(/source counts/);
      const head = await ctx.store.head(aud);
      expect(head.current).toBe(1);
      const cache = cacheFor(ctx);
      expect((await cache.contains(aud, m[0]!)).member).toBe(true);
      await cache.stop();
    } finally {
      await ctx.close();
    }
  });

  it("lets one of two concurrent syncs win; the other fails clearly", async () => {
    const aud = newAudienceId();
    await fx.table.put(aud, 20261120, 0, members(200_000, 50_000_000, 9));
    const a = fx.table.context();
    const b = fx.table.context();
    try {
      const results = await Promise.allSettled([syncAudience(a.deps, aud), syncAudience(b.deps, aud)]);
      const ok = results.filter((r) => r.status === "fulfilled");
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
      expect(ok).toHaveLength(1);
      expect(failed).toHaveLength(1);
      expect(failed[0]!.reason).toBeInstanceOf(SyncConflictError);
      expect(String(failed[0]!.reason.message)).toMatch(/already being synced/);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("rolls back to a retained version, and refuses one that is not retained", async () => {
    const aud = newAudienceId();
    const ctx = fx.table.context({ BITSYNC_RETAIN_VERSIONS: "2" });
    try {
      for (const [i, n] of [1000, 1100, 1200].entries()) {
        await fx.table.put(aud, 20261120 + i, 0, members(n, 1_000_000, 10 + i));
        await syncAudience(ctx.deps, aud);
      }
      const info = await audienceInfo(ctx.store, aud);
      expect(info.retained.map((r) => r.version)).toEqual([3, 2]);
      const cache = cacheFor(ctx);
      await expect(rollbackAudience(ctx.store, aud, 1)).rejects.toThrow(RollbackError);
      const rb = await rollbackAudience(ctx.store, aud);
      expect(rb).toMatchObject({ from: 3, to: 2 });
      cache.invalidate(aud);
      const page = await cache.page(aud, { rank: 0 }, 5000);
      expect(page.version).toBe(2);
      expect(page.bits).toEqual(members(1100, 1_000_000, 11));
      // The dropped version 1 and its segments were collected.
      expect(await redis.exists(audienceKeys(aud).info(1))).toBe(0);
      await cache.stop();
    } finally {
      await ctx.close();
    }
  });

  it("gives every key a TTL, and keys expire unless refreshed", async () => {
    const aud = newAudienceId();
    await fx.table.put(aud, 20261120, 0, members(500, 3_000_000, 13));
    const ctx = fx.table.context({ BITSYNC_VERSION_TTL_SECONDS: "2" });
    try {
      await syncAudience(ctx.deps, aud);
      const keys = await scanAudience(aud);
      expect(keys.length).toBeGreaterThan(4);
      for (const k of keys) {
        const ttl = await redis.pttl(k);
        expect(ttl, k).toBeGreaterThan(0);
        expect(ttl, k).toBeLessThanOrEqual(2000);
      }
      await new Promise((r) => setTimeout(r, 2300));
      expect(await scanAudience(aud)).toEqual([]);
      await expect(audienceInfo(ctx.store, aud)).rejects.toThrow(UnknownAudienceError);
    } finally {
      await ctx.close();
    }
  });

  it("collects what a crashed sync left behind", async () => {
    const aud = newAudienceId();
    await fx.table.put(aud, 20261120, 0, members(1000, 3_000_000, 14));
    const ctx = fx.table.context();
    try {
      await syncAudience(ctx.deps, aud);
      // What a crash after writing leaves: a begun version and a registered segment, never swapped.
      const keys = audienceKeys(aud);
      const lock = await ctx.store.lock(aud);
      const { version } = await ctx.store.begin(aud, lock);
      await ctx.store.writeSegments(aud, [{ hash: "AAAAAAAAAAAAAAAAAAAAAA", blob: new Uint8Array(8) }]);
      await lock.release();
      expect(await redis.exists(keys.segment("AAAAAAAAAAAAAAAAAAAAAA"))).toBe(1);
      const res = await collectGarbage(ctx.store, aud);
      expect(res.segments).toBe(1);
      expect(await redis.exists(keys.segment("AAAAAAAAAAAAAAAAAAAAAA"))).toBe(0);
      expect(await redis.sismember(keys.versions, String(version))).toBe(0);
      expect((await ctx.store.head(aud)).current).toBe(1);
    } finally {
      await ctx.close();
    }
  });
});

describe("segment cache", () => {
  /** 100k members over ~20 segments of ~8-10 KB, synced, and a cache of 40 kB (about four segments). */
  async function withSmallCache(use: (cache: SegmentCache, aud: string, m: number[]) => Promise<void>): Promise<void> {
    const aud = newAudienceId();
    const m = members(100_000, 20_000_000, 15);
    await fx.table.put(aud, 20261120, 0, m);
    const ctx = fx.table.context();
    try {
      await syncAudience(ctx.deps, aud);
      const cache = cacheFor(ctx, 40_000);
      try {
        await use(cache, aud, m);
      } finally {
        await cache.stop();
      }
    } finally {
      await ctx.close();
    }
  }

  it("evicts under a small byte budget and still answers correctly", async () => {
    await withSmallCache(async (cache, aud, m) => {
      const oracle = new Set(m);
      const probes = members(3000, 20_000_000, 16);
      for (const x of probes) expect((await cache.contains(aud, x)).member).toBe(oracle.has(x));
      const stats = cache.stats();
      expect(stats.evictions).toBeGreaterThan(0);
      expect(stats.residentBytes).toBeLessThanOrEqual(40_000);
      expect((await containsMany(cache, aud, probes)).members).toEqual(probes.map((x) => oracle.has(x)));
    });
  });

  it("keeps a segment in use resident while it cycles through the others", async () => {
    await withSmallCache(async (cache, aud, m) => {
      const oracle = new Set(m);
      const hot = m[0]!; // in segment 0
      await cache.contains(aud, hot);
      for (let seg = 1; seg < 19; seg++) {
        const x = seg * 2 ** 20 + 12_345;
        expect((await cache.contains(aud, x)).member).toBe(oracle.has(x));
        // The hot segment is asked between every two others: it must never be loaded again.
        const misses = cache.stats().misses;
        expect((await cache.contains(aud, hot)).member).toBe(true);
        expect(cache.stats().misses, `segment 0 evicted after segment ${seg}`).toBe(misses);
      }
      expect(cache.stats().evictions).toBeGreaterThan(10);
    });
  });

  it("answers empty segments without I/O", async () => {
    const aud = newAudienceId();
    await fx.table.put(aud, 20261120, 0, [5, 6, 7]);
    const ctx = fx.table.context();
    try {
      await syncAudience(ctx.deps, aud);
      const cache = cacheFor(ctx);
      await cache.contains(aud, 5); // loads the head, the view and segment 0
      const before = cache.stats();
      const commands = await commandCount();
      for (let s = 1; s < 200; s++) expect((await cache.contains(aud, s * 2 ** 20 + 5)).member).toBe(false);
      expect(cache.stats().misses).toBe(before.misses);
      expect((await commandCount()) - commands).toBeLessThan(5); // only the INFO calls themselves
      await cache.stop();
    } finally {
      await ctx.close();
    }
  });

  it("syncs audiences kept in the Roaring 64-bit portable format (BITSYNC_SOURCE_FORMAT=portable64)", async () => {
    const aud = newAudienceId();
    // Members on both sides of 2^32: two buckets of the 64-bit format, several segments.
    const m = [...members(3000, 3_000_000, 31), ...members(2000, 3_000_000, 32).map((x) => 2 ** 32 + x)];
    await fx.table.put(aud, 20261120, 0, Buffer.from(portable64(m)), m.length);
    const ctx = fx.table.context({ BITSYNC_SOURCE_FORMAT: "portable64" });
    try {
      const res = await syncAudience(ctx.deps, aud);
      expect(res.cardinality).toBe(m.length);
      const cache = cacheFor(ctx);
      const probes = [...m.filter((_, i) => i % 7 === 0), ...members(500, 3_000_000, 33), 2 ** 32 + 3_000_001];
      const inM = new Set(m);
      for (const x of probes) expect((await cache.contains(aud, x)).member, String(x)).toBe(inM.has(x));
      const page = await cache.page(aud, { rank: 2998 }, 4);
      expect(page.bits).toEqual(m.slice(2998, 3002));
    } finally {
      await ctx.close();
    }
  });

  it("switches to the new version on the swap notification", async () => {
    const aud = newAudienceId();
    await fx.table.put(aud, 20261120, 0, [1, 2, 3]);
    const ctx = fx.table.context({ BITSYNC_SYNC_MAX_DRIFT: "100" });
    const sub = testRedis();
    try {
      await syncAudience(ctx.deps, aud);
      const cache = cacheFor(ctx);
      await cache.start(sub, fx.table.config().swapChannel);
      expect(await cache.contains(aud, 4)).toEqual({ version: 1, member: false });
      await fx.table.put(aud, 20261121, 0, [1, 2, 3, 4]);
      await syncAudience(ctx.deps, aud);
      const deadline = Date.now() + 5000;
      let seen = await cache.contains(aud, 4);
      while (seen.version !== 2 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
        seen = await cache.contains(aud, 4);
      }
      expect(seen).toEqual({ version: 2, member: true });
      await cache.stop();
    } finally {
      sub.disconnect();
      await ctx.close();
    }
  });

  it("notices a swap by polling the head when the notification is lost", async () => {
    const aud = newAudienceId();
    await fx.table.put(aud, 20261120, 0, [1, 2, 3]);
    const ctx = fx.table.context({ BITSYNC_SYNC_MAX_DRIFT: "100" });
    try {
      await syncAudience(ctx.deps, aud);
      // No subscriber at all: only the poll can tell the cache.
      const budgetBytes = 1 << 20;
      const cache = new SegmentCache(ctx.store, BitmapCore.create({ budgetBytes }), { budgetBytes, pollMs: 100 });
      const sub = testRedis();
      onTestFinished(() => sub.disconnect());
      await cache.start(sub, "bitsync:test:nobody-publishes-here");
      expect(await cache.contains(aud, 4)).toEqual({ version: 1, member: false });
      await fx.table.put(aud, 20261121, 0, [1, 2, 3, 4]);
      await syncAudience(ctx.deps, aud);
      const seen = await waitFor("the poll to notice version 2", async () => {
        const r = await cache.contains(aud, 4);
        return r.version === 2 ? r : undefined;
      });
      expect(seen.member).toBe(true);
      await cache.stop();
    } finally {
      await ctx.close();
    }
  });

  it("readers never see a mix of versions during a stream of swaps", async () => {
    const aud = newAudienceId();
    // Two contents with a marker bit each: every answer must match one content exactly.
    const contentA = [...members(4000, 8_000_000, 17), 8_000_001];
    const contentB = [...members(4000, 8_000_000, 18), 8_000_002];
    const sets = { A: new Set(contentA), B: new Set(contentB) };
    const probes = [
      8_000_001,
      8_000_002,
      ...contentA.slice(0, 300),
      ...contentB.slice(0, 300),
      ...members(400, 8_000_000, 19),
    ];
    const ctx = fx.table.context({ BITSYNC_SYNC_MAX_DRIFT: "100" });
    const sub = testRedis();
    try {
      await fx.table.put(aud, 20261120, 0, contentA);
      await syncAudience(ctx.deps, aud);
      const readers = [cacheFor(ctx), cacheFor(ctx, 30_000)];
      await readers[0]!.start(sub, fx.table.config().swapChannel);
      let stop = false;
      let checks = 0;
      const versionsSeen = new Set<number>();
      const read = async (cache: SegmentCache): Promise<void> => {
        while (!stop) {
          const { version, members: got } = await containsMany(cache, aud, probes);
          versionsSeen.add(version);
          const content = got[0] ? sets.A : sets.B;
          expect(got[0] !== got[1]).toBe(true);
          expect(got).toEqual(probes.map((x) => content.has(x)));
          checks++;
          cache.invalidate(aud); // re-read the head every time on the second reader
        }
      };
      const running = readers.map((c) => read(c));
      for (let i = 0; i < 8; i++) {
        await fx.table.put(aud, 20261121 + i, 0, i % 2 === 0 ? contentB : contentA);
        await syncAudience(ctx.deps, aud);
      }
      stop = true;
      await Promise.all(running);
      expect(checks).toBeGreaterThan(20);
      expect(versionsSeen.size).toBeGreaterThan(2);
      for (const c of readers) await c.stop();
    } finally {
      sub.disconnect();
      await ctx.close();
    }
  });
});

async function scanAudience(aud: string): Promise<string[]> {
  return (await audienceKeyNames(redis, aud)).filter((k) => !k.endsWith(":lock"));
}

function commandCount(): Promise<number> {
  return commandsProcessed(redis);
}
