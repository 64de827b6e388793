// A Redis Cluster master killed (SIGKILL) under a running `bitsync serve` and during a sync
// (issue 13, section 2), on a private cluster of three masters with one replica each: cached
// answers keep coming, /readyz says degraded until the replica is promoted and ready after,
// the sync cut off fails with one line (or, riding over the failover, completes whole), the
// next sync succeeds, no reader sees a torn or mixed version, and gc leaves only what the
// retained versions use.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRedisCluster } from "../../orchestrator/redis/cluster.js";
import { createSyncContext } from "../../orchestrator/sync/context.js";
import { audienceKeys } from "../../orchestrator/versions/keys.js";
import { SourceTable, newAudienceId } from "../helpers/audience.js";
import { lastJson } from "../helpers/cli.js";
import { waitFor } from "../helpers/stack.js";
import { denseBitmap } from "./helpers/bitmaps.js";
import { FAST, PACED_SYNC, http, serve, settle, stopServe, type Answer, type Served } from "./helpers/daemon.js";
import { cli, exitWithin, sleep, stopAll, tail } from "./helpers/procs.js";
import { PrivateRedisCluster } from "./helpers/servers.js";

let table: SourceTable;
let cluster: PrivateRedisCluster;

beforeAll(async () => {
  [table, cluster] = await Promise.all([SourceTable.create(), PrivateRedisCluster.start()]);
});

afterAll(async () => {
  await stopAll();
  await cluster?.dispose();
  await table?.drop();
});

/** Everything on the private cluster; REDIS_URL points at a port nothing listens on. */
const env = (extra: Record<string, string> = {}) =>
  table.env({ ...FAST, REDIS_CLUSTER_NODES: cluster.seeds, REDIS_URL: "redis://127.0.0.1:1", ...extra });

async function sync(audience: string, ...flags: string[]): Promise<{ version: number }> {
  const run = await exitWithin(cli(["sync", audience, "--json", ...flags], env()), 60_000, `bitsync sync ${audience}`);
  expect(run.code, run.stderr).toBe(0);
  return lastJson(run);
}

type Check = Answer<{ version: number; member: boolean }>;
const contains = (d: Served, audience: string, bit: number): Promise<Check> =>
  http(`${d.url}/v1/audiences/${audience}/contains?bit=${bit}`, { timeoutMs: 5000 });
const readyz = (d: Served) => http<{ status: string; redis: string }>(`${d.url}/readyz`);

/** A second audience id whose slot has the same master as `first`'s. */
async function neighbourOf(first: string): Promise<string> {
  const home = (await cluster.masterOf(audienceKeys(first).head)).port;
  for (;;) {
    const id = newAudienceId();
    if ((await cluster.masterOf(audienceKeys(id).head)).port === home) return id;
  }
}

describe("a Redis Cluster master killed", () => {
  it("under serving and a sync: answers continue, readiness follows the failover, the next sync works", async () => {
    const cached = newAudienceId();
    const syncing = await neighbourOf(cached);
    await table.put(cached, 20260101, 0, [10, 20, 30]);
    await table.put(syncing, 20260101, 0, [1, 2, 3]);
    expect((await sync(cached)).version).toBe(1);
    expect((await sync(syncing)).version).toBe(1);
    const daemon = await serve(env());
    expect(await contains(daemon, cached, 20)).toMatchObject({ status: 200, body: { version: 1, member: true } });
    expect(await contains(daemon, syncing, 2)).toMatchObject({ status: 200, body: { version: 1, member: true } });
    expect(await readyz(daemon)).toMatchObject({ status: 200, body: { status: "ready", redis: "up" } });

    // The next version of `syncing`: 20 segments, written one per round trip at 500 kB/s.
    const big = denseBitmap(320, 23);
    await table.put(syncing, 20260102, 0, big.bytes, big.cardinality);
    const writer = cli(["sync", syncing, "--force"], env(PACED_SYNC));
    const probe = createRedisCluster(cluster.seeds.split(","));
    probe.on("error", () => undefined);
    await waitFor("the sync to write", async () =>
      (await probe.scard(audienceKeys(syncing).segs).catch(() => 0)) > 2 ? true : undefined,
    );
    probe.disconnect();

    // Readers all along: `cached` must always answer right; `syncing` answers from one whole
    // version (1: bit 2 is in; 2 or later: as `big` says), or says 503 while its data is away.
    let stop = false;
    const wrong: unknown[] = [];
    let answered = 0;
    const readers = (async () => {
      while (!stop) {
        for (const bit of [10, 20, 30, 21]) {
          const a = await contains(daemon, cached, bit).catch((err: Error) => ({ status: 0, body: err.message }));
          if (a.status !== 200 || (a.body as { member: boolean }).member !== [10, 20, 30].includes(bit)) {
            wrong.push({ audience: "cached", bit, ...a });
          } else answered++;
        }
        for (const bit of [2, 100_000, 1_000_000]) {
          const a = await contains(daemon, syncing, bit).catch((err: Error) => ({ status: 0, body: err.message }));
          if (a.status === 503) continue;
          const body = a.body as { version: number; member: boolean };
          const want = body.version === 1 ? [1, 2, 3].includes(bit) : big.has(bit);
          if (a.status !== 200 || body.member !== want) wrong.push({ audience: "syncing", bit, ...a });
        }
        await sleep(20);
      }
    })();

    const home = await cluster.masterOf(audienceKeys(syncing).head);
    await cluster.kill(home);
    const degraded = await settle(
      5000,
      () => readyz(daemon),
      (r) => r.body.status === "degraded",
    );
    expect(degraded).toMatchObject({ status: 200, body: { status: "degraded", redis: "down" } });

    const exit = await exitWithin(writer, 60_000, "bitsync sync with its master killed mid-write");
    console.info(
      `failover: the sync cut off by the kill exited ${exit.code}: ${tail(exit.stderr, 1) || "(no output)"}`,
    );
    if (exit.code !== 0) {
      // Cut off: one line that says why.
      expect(exit.stderr.trimEnd().split("\n"), "stderr: one line with the reason").toEqual([
        expect.stringMatching(
          /^bitsync sync: Redis at the Redis Cluster of \S+ did not answer \(.+\); a version is switched whole or not at all/,
        ),
      ]);
    }
    // The replica takes over (node timeout 1 s), and the daemon is ready again on its own.
    const ready = await settle(
      30_000,
      () => readyz(daemon),
      (r) => r.body.status === "ready",
    );
    expect(ready, `the daemon's log ends:\n${tail(daemon.run.stderr())}`).toMatchObject({
      body: { status: "ready", redis: "up" },
    });
    await sleep(500);
    stop = true;
    await readers;
    expect(wrong, "answers during the failover").toEqual([]);
    expect(answered).toBeGreaterThan(20);

    // The next sync succeeds once a dead sync's lock lapses (BITSYNC_SYNC_LOCK_TTL_MS=2000).
    let next: { version: number } | undefined;
    for (let attempt = 0; attempt < 10 && !next; attempt++) {
      const run = await exitWithin(cli(["sync", syncing, "--json", "--force"], env()), 60_000, "the next sync");
      if (run.code === 0) next = lastJson(run);
      else if (/lock|held by/i.test(run.stderr)) await sleep(1000);
      else expect.fail(`the next sync failed: ${tail(run.stderr)}`);
    }
    expect(next?.version).toBeGreaterThan(1);
    const served = await settle(
      10_000,
      () => contains(daemon, syncing, 2),
      (a) => a.status === 200 && a.body.version === next!.version,
    );
    expect(served.body).toMatchObject({ version: next!.version, member: big.has(2) });
    for (const bit of [5, 70_000, 1_234_567, 20_000_000]) {
      expect((await contains(daemon, syncing, bit)).body.member, `bit ${bit}`).toBe(big.has(bit));
    }

    // gc leaves exactly what the retained versions use, and the audience's fixed keys.
    const gc = await exitWithin(cli(["gc", syncing], env()), 30_000, "bitsync gc");
    expect(gc.code, gc.stderr).toBe(0);
    const ctx = createSyncContext(
      table.config({ REDIS_CLUSTER_NODES: cluster.seeds, REDIS_URL: "redis://127.0.0.1:1" }),
    );
    try {
      const k = audienceKeys(syncing);
      const head = await ctx.store.head(syncing);
      const allowed = new Set([k.head, k.segs, k.versions, k.lock]);
      for (const v of head.retained) {
        allowed.add(k.info(v)).add(k.index(v));
        for (const e of (await ctx.store.index(syncing, v))?.entries ?? []) allowed.add(k.segment(e.hash));
      }
      const left = (await ctx.store.allKeys(syncing)).filter((key) => !allowed.has(key));
      expect(left, "keys no retained version uses, after gc").toEqual([]);
    } finally {
      await ctx.close();
    }
    await stopServe(daemon);
  });
});
