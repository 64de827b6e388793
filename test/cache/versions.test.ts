// The segment cache against a Redis that loses an audience's data: versions are told apart by
// the head's epoch, so a version number reused by a new head never answers from the old one's
// cache; and what no retained version uses is dropped when a swap is heard.
import { describe, expect, it } from "vitest";
import { SegmentCache, VersionGoneError } from "../../orchestrator/cache/segment-cache.js";
import { audienceKeys } from "../../orchestrator/versions/keys.js";
import { syncAudience } from "../../orchestrator/sync/sync.js";
import { BitmapCore } from "../../orchestrator/wasm/core.js";
import { members, newAudienceId, sourceFixture } from "../helpers/audience.js";
import { scanKeys } from "../../orchestrator/redis/cluster.js";
import { testRedis, waitFor } from "../helpers/stack.js";
import { containsMany } from "../helpers/cache.js";

const fx = sourceFixture();
const { redis } = fx;

const range = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i);

/** What Redis loses in a restart without persistence, for this audience alone. */
async function loseAudience(aud: string): Promise<void> {
  const keys = await scanKeys(redis, audienceKeys(aud).head.replace(/:head$/, ":*"));
  if (keys.length > 0) await redis.del(...keys);
}

describe("a head recreated after Redis lost the audience", () => {
  it("version 1 of the new head answers, not the cached version 1 of the old one", async () => {
    const aud = newAudienceId();
    const channel = `bitsync:test:${aud}`;
    await fx.table.put(aud, 20261201, 0, range(0, 1000));
    const ctx = fx.table.context({ BITSYNC_SWAP_CHANNEL: channel });
    const core = BitmapCore.create({ budgetBytes: 16 << 20 });
    const cache = new SegmentCache(ctx.store, core, { budgetBytes: 16 << 20, pollMs: 100 });
    const subscriber = testRedis();
    await cache.start(subscriber, channel);
    try {
      expect((await syncAudience(ctx.deps, aud)).version).toBe(1);
      expect(await cache.contains(aud, 5)).toEqual({ version: 1, member: true });
      const old = await cache.page(aud, { rank: 0 }, 10);

      await loseAudience(aud);
      await fx.table.put(aud, 20261201, 0, range(5000, 1000));
      expect((await syncAudience(ctx.deps, aud)).version).toBe(1);

      await waitFor("the cache to follow the new head", async () => {
        const r = await cache.contains(aud, 5);
        return r.member ? undefined : r;
      });
      expect(await cache.contains(aud, 5000)).toEqual({ version: 1, member: true });
      // A cursor of the old head's version 1 is gone, not a walk through the new version 1.
      await expect(cache.page(aud, { version: old.version, epoch: old.epoch, rank: 3 }, 10)).rejects.toThrow(
        VersionGoneError,
      );
      const fresh = await cache.page(aud, { rank: 0 }, 3);
      expect(fresh.bits).toEqual([5000, 5001, 5002]);
      expect(fresh.epoch).not.toBe(old.epoch);
    } finally {
      await cache.stop();
      subscriber.disconnect();
      await ctx.close();
    }
  });

  it("a reader that polls, without notifications, also drops the old head's versions", async () => {
    const aud = newAudienceId();
    await fx.table.put(aud, 20261201, 0, range(0, 100));
    const ctx = fx.table.context();
    const core = BitmapCore.create({ budgetBytes: 16 << 20 });
    const cache = new SegmentCache(ctx.store, core, { budgetBytes: 16 << 20, pollMs: 50 });
    const subscriber = testRedis();
    // A channel nobody publishes on: only the poll can notice.
    await cache.start(subscriber, `bitsync:test:silent:${aud}`);
    try {
      await syncAudience(ctx.deps, aud);
      expect((await cache.contains(aud, 7)).member).toBe(true);
      await loseAudience(aud);
      await fx.table.put(aud, 20261201, 0, range(200, 100));
      await syncAudience(ctx.deps, aud);
      await waitFor("the poll to notice the new epoch", async () =>
        (await cache.contains(aud, 7)).member ? undefined : true,
      );
      expect((await cache.contains(aud, 250)).member).toBe(true);
    } finally {
      await cache.stop();
      subscriber.disconnect();
      await ctx.close();
    }
  });
});

describe("segments of versions no longer retained", () => {
  it("are dropped when the swap is heard: resident bytes follow the retained versions", async () => {
    const aud = newAudienceId();
    const channel = `bitsync:test:${aud}`;
    const ctx = fx.table.context({ BITSYNC_SWAP_CHANNEL: channel, BITSYNC_SYNC_MAX_DRIFT: "100" });
    const core = BitmapCore.create({ budgetBytes: 64 << 20 });
    const cache = new SegmentCache(ctx.store, core, { budgetBytes: 64 << 20, pollMs: 0 });
    const subscriber = testRedis();
    await cache.start(subscriber, channel);
    const space = 16 * 2 ** 20; // 16 segments, each new in every version
    try {
      let largest = 0;
      for (let round = 0; round < 12; round++) {
        const m = members(20_000, space, 100 + round);
        await fx.table.put(aud, 20261201, 0, m);
        const res = await syncAudience(ctx.deps, aud);
        await waitFor("the swap notice", async () =>
          (await cache.contains(aud, m[0]!)).version === res.version ? true : undefined,
        );
        // Touch every segment of the version, so each one is resident.
        await containsMany(cache, aud, m);
        largest = Math.max(largest, (await ctx.store.info(aud, res.version))!.bytes);
      }
      // The retained versions (3) and the one being loaded bound it, not the 12 synced.
      const { residentBytes, evictions } = cache.stats();
      expect(evictions).toBe(0);
      expect(residentBytes).toBeLessThanOrEqual(4 * largest);
    } finally {
      await cache.stop();
      subscriber.disconnect();
      await ctx.close();
    }
  });
});
