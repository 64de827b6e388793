// Audiences on the stack's Redis Cluster, whatever project runs this file: every key of an audience
// on the one master of its {aud:ID} slot, audiences spread over the masters, REDIS_URL unused,
// swap notices heard by subscribers on every node, and /readyz pinging every master.
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SegmentCache } from "../../orchestrator/cache/segment-cache.js";
import { createRedisCluster, pingEvery, scanKeys } from "../../orchestrator/redis/cluster.js";
import { createService } from "../../orchestrator/serve/service.js";
import { syncAudience } from "../../orchestrator/sync/sync.js";
import { audienceInfo, collectGarbage, rollbackAudience } from "../../orchestrator/versions/admin.js";
import { audienceKeys } from "../../orchestrator/versions/keys.js";
import { BitmapCore } from "../../orchestrator/wasm/core.js";
import { SourceTable, members, newAudienceId } from "../helpers/audience.js";
import { stackEnv, uniqueName, waitFor } from "../helpers/stack.js";

const env = stackEnv();
const cluster = createRedisCluster(env.redisClusterNodes);
/** Plain connections to each master. */
let masters: Redis[] = [];
let table: SourceTable;
/** Points bitsync at the cluster, and REDIS_URL at a port nothing listens on. */
const CLUSTER_ENV = { REDIS_CLUSTER_NODES: env.redisClusterNodes.join(","), REDIS_URL: "redis://127.0.0.1:1" };

beforeAll(async () => {
  table = await SourceTable.create();
  await cluster.ping();
  masters = cluster.nodes("master").map((n) => new Redis({ host: n.options.host, port: n.options.port }));
});

afterAll(async () => {
  await table.drop();
  cluster.disconnect();
  for (const m of masters) m.disconnect();
});

/** How many keys of the audience each master holds (SCAN on each node). */
async function keysPerMaster(aud: string): Promise<number[]> {
  return Promise.all(masters.map(async (m) => (await scanKeys(m, `{aud:${aud}}:*`)).length));
}

describe("audiences on Redis Cluster", () => {
  it("sync, info, rollback and gc use the cluster only; each audience on one master, audiences on several", async () => {
    const ctx = table.context(CLUSTER_ENV);
    try {
      const auds = Array.from({ length: 12 }, () => newAudienceId());
      const used = new Set<number>();
      for (const [i, aud] of auds.entries()) {
        const m = members(3000, 40_000_000, 50 + i);
        await table.put(aud, 20261201, 0, m);
        const res = await syncAudience(ctx.deps, aud);
        expect(res.cardinality).toBe(m.length);
        const perMaster = await keysPerMaster(aud);
        // Every key on one node: each script and pipeline of the audience ran on one master.
        expect(perMaster.filter((n) => n > 0)).toHaveLength(1);
        expect(perMaster.reduce((a, b) => a + b)).toBe(await ctx.store.allKeys(aud).then((k) => k.length));
        used.add(perMaster.findIndex((n) => n > 0));
      }
      // 12 random ids over 3 masters: all three hold some (a 1 in 3^11 chance otherwise).
      expect(used.size).toBeGreaterThan(1);
      // A second version, a rollback to the first, then gc of what neither retains any more.
      const first = auds[0]!;
      await table.put(first, 20261202, 0, members(3000, 40_000_000, 99));
      await syncAudience(ctx.deps, first, { force: true });
      expect((await audienceInfo(ctx.store, first)).version).toBe(2);
      expect(await rollbackAudience(ctx.store, first)).toMatchObject({ from: 2, to: 1 });
      expect((await audienceInfo(ctx.store, first)).cardinality).toBe(3000);
      expect(await collectGarbage(ctx.store, first)).toEqual({ keys: 0, segments: 0, versions: 0 });
    } finally {
      await ctx.close();
    }
  });

  it("a swap notice reaches subscribers on every node; a cache on the cluster follows it", async () => {
    const channel = uniqueName("bitsync:test:swaps");
    const ctx = table.context({ ...CLUSTER_ENV, BITSYNC_SWAP_CHANNEL: channel, BITSYNC_SYNC_MAX_DRIFT: "100" });
    const heard: string[][] = masters.map(() => []);
    const subs = masters.map((m) => m.duplicate());
    try {
      await Promise.all(
        subs.map(async (s, i) => {
          s.on("message", (_ch: string, msg: string) => heard[i]!.push(msg));
          await s.subscribe(channel);
        }),
      );
      const aud = newAudienceId();
      await table.put(aud, 20261201, 0, [1, 2, 3]);
      await syncAudience(ctx.deps, aud);
      const cache = new SegmentCache(ctx.store, BitmapCore.create({ budgetBytes: 1 << 20 }), {
        budgetBytes: 1 << 20,
        pollMs: 0, // no polling: only the notice can tell the cache
      });
      const subscriber = cluster.duplicate();
      await cache.start(subscriber, channel);
      try {
        expect(await cache.contains(aud, 4)).toEqual({ version: 1, member: false });
        await table.put(aud, 20261202, 0, [1, 2, 3, 4]);
        await syncAudience(ctx.deps, aud);
        await waitFor("the cache to hear version 2", async () =>
          (await cache.contains(aud, 4)).version === 2 ? true : undefined,
        );
        expect(await cache.contains(aud, 4)).toEqual({ version: 2, member: true });
        await waitFor("every node's subscriber to hear both swaps", () =>
          heard.every((h) => h.length >= 2) ? true : undefined,
        );
        for (const h of heard) expect(h.map((m) => (JSON.parse(m) as { version: number }).version)).toEqual([1, 2]);
      } finally {
        await cache.stop();
        subscriber.disconnect();
      }
    } finally {
      for (const s of subs) s.disconnect();
      await ctx.close();
    }
  });

  it("serves over the cluster, REDIS_URL unused; /readyz pings every master", async () => {
    const aud = newAudienceId();
    await table.put(aud, 20261201, 0, [10, 20, 30]);
    const service = await createService(table.config({ ...CLUSTER_ENV, BITSYNC_MAP_NAMESPACE: uniqueName("mcl") }));
    try {
      await service.runSync(aud);
      const res = await service.app.inject({ method: "GET", url: `/v1/audiences/${aud}/contains?bit=20` });
      expect(res.json()).toEqual({ audience: aud, version: 1, member: true });
      const ready = await service.app.inject({ method: "GET", url: "/readyz" });
      expect(ready.json()).toMatchObject({ status: "ready", redis: "up" });
      expect(await pingEvery(service.sync.redis, 500)).toBe(true);
      // The audience's keys are where its slot says, and nowhere else.
      const slotOwner = await keysPerMaster(aud);
      expect(slotOwner.filter((n) => n > 0)).toHaveLength(1);
      expect(await cluster.exists(audienceKeys(aud).head)).toBe(1);
    } finally {
      await service.mapping.mapper.clear();
      await service.close();
    }
  });
});
