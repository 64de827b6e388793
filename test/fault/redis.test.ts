// Redis restarted empty, and stopped and started, under a running `bitsync serve` and during a
// sync (issue 10, sections 1 and 7): the daemon never answers from a version Redis lost, keeps
// answering what it has cached, says in its own words why it cannot answer the rest, and
// recovers on its own; a sync cut off fails with one line and the next one works.
import { Redis } from "ioredis";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { audienceKeys } from "../../orchestrator/versions/keys.js";
import { SourceTable, newAudienceId } from "../helpers/audience.js";
import { lastJson } from "../helpers/cli.js";
import { waitFor } from "../helpers/stack.js";
import { denseBitmap } from "./helpers/bitmaps.js";
import { FAST, PACED_SYNC, http, serve, settle, stopServe, type Answer, type Served } from "./helpers/daemon.js";
import { cli, exitWithin, logLines, sleep, stopAll } from "./helpers/procs.js";
import { PrivateRedis } from "./helpers/servers.js";

let table: SourceTable;
let redis: PrivateRedis;

beforeAll(async () => {
  [table, redis] = await Promise.all([SourceTable.create(), PrivateRedis.start()]);
});

beforeEach(() => redis.ensureRunning());

afterAll(async () => {
  await stopAll();
  await table?.drop();
});

const env = (extra: Record<string, string> = {}) => table.env({ ...FAST, REDIS_URL: redis.url, ...extra });
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

async function sync(audience: string, ...flags: string[]): Promise<{ version: number }> {
  const run = await exitWithin(cli(["sync", audience, "--json", ...flags], env()), 60_000, `bitsync sync ${audience}`);
  expect(run.code, run.stderr).toBe(0);
  return lastJson(run);
}

type Check = Answer<{ version: number; member: boolean; error?: string; message?: string }>;
const contains = (d: Served, audience: string, bit: number): Promise<Check> =>
  http(`${d.url}/v1/audiences/${audience}/contains?bit=${bit}`);
const readyz = (d: Served) => http<{ status: string; redis: string }>(`${d.url}/readyz`);
/** /readyz once it says ready again (15 s at most), as Redis comes back. */
const readyAgain = (d: Served) =>
  settle(
    15_000,
    () => readyz(d),
    (r) => r.body.status === "ready",
  );

/** A client of the private Redis that fails at once while it is away. */
const probeClient = () => new Redis(redis.url, { maxRetriesPerRequest: 0, retryStrategy: () => null });

describe("Redis restarted empty under a running daemon", () => {
  it("answers from the new version 1 as a fresh daemon does, and no cursor of the lost one reads it", async () => {
    const aud = newAudienceId();
    await table.put(aud, 20260101, 0, range(0, 1000));
    expect((await sync(aud)).version).toBe(1);
    const daemon = await serve(env());
    expect(await contains(daemon, aud, 5)).toMatchObject({ status: 200, body: { version: 1, member: true } });
    const page = await http<{ items: { bit: number }[]; next: string }>(
      `${daemon.url}/v1/audiences/${aud}/members?limit=10`,
    );
    expect(page.body.items.map((i) => i.bit)).toEqual(range(0, 10));

    await redis.restartEmpty();
    await table.put(aud, 20260102, 0, range(5000, 6000));
    // Redis forgot everything, so the new sync is version 1 again: the number of the lost one.
    expect((await sync(aud, "--force")).version).toBe(1);

    // The head poll runs every 200 ms: within a few seconds the daemon answers from the new data.
    const answers = await settle(
      10_000,
      async () => [(await contains(daemon, aud, 5)).body, (await contains(daemon, aud, 5000)).body],
      ([old, now]) => old?.member === false && now?.member === true,
    );
    expect(answers, "bit 5 (lost version) and bit 5000 (new version 1)").toMatchObject([
      { version: 1, member: false },
      { version: 1, member: true },
    ]);
    const fresh = await serve(env());
    for (const bit of [0, 5, 999, 5000, 5999, 6000]) {
      expect((await contains(daemon, aud, bit)).body, `bit ${bit}`).toEqual((await contains(fresh, aud, bit)).body);
    }
    // A cursor issued on the lost version must not page through the new one as if it were that version.
    for (const d of [daemon, fresh]) {
      const stale = await http(`${d.url}/v1/audiences/${aud}/members?limit=10&cursor=${page.body.next}`);
      expect([400, 410], `the lost version's cursor got ${stale.status} ${JSON.stringify(stale.body)}`).toContain(
        stale.status,
      );
    }
    await Promise.all([stopServe(daemon), stopServe(fresh)]);
  });
});

describe("Redis stopped and started", () => {
  it("during checks: cached audiences answer, the rest get bitsync's own 503 at once, and it recovers", async () => {
    const cached = newAudienceId();
    const uncached = newAudienceId();
    await table.put(cached, 20260101, 0, [10, 20, 30]);
    await table.put(uncached, 20260101, 0, [1, 2, 3]);
    await sync(cached);
    await sync(uncached);
    const daemon = await serve(env());
    expect(await contains(daemon, cached, 20)).toMatchObject({ status: 200, body: { member: true } });
    expect(await readyz(daemon)).toMatchObject({ status: 200, body: { status: "ready", redis: "up" } });

    await redis.stop();
    const wrong: unknown[] = [];
    for (let i = 0; i < 40; i++) {
      const bit = [10, 20, 30, 21][i % 4]!;
      const a = await contains(daemon, cached, bit);
      if (a.status !== 200 || a.body.member !== [10, 20, 30].includes(bit)) wrong.push({ bit, ...a });
      await sleep(25);
    }
    expect(wrong, "checks of the cached audience while Redis is away").toEqual([]);
    const ready = await settle(
      5000,
      () => readyz(daemon),
      (r) => r.body.status === "degraded",
    );
    expect(ready).toMatchObject({ status: 200, body: { status: "degraded", redis: "down" } });
    const miss = await contains(daemon, uncached, 2);
    expect(miss.status, JSON.stringify(miss.body)).toBe(503);
    expect(miss.ms, "time to the 503 of an uncached audience, ms").toBeLessThan(2000);
    for (const internal of ["Stream isn't writeable", "enableOfflineQueue", "maxRetriesPerRequest", "ECONNREFUSED"]) {
      expect(miss.body.message, "the 503's message is bitsync's own").not.toContain(internal);
    }
    // An outage fails every uncached request alike: the log says so once per 5 s, not once a request.
    const burst = performance.now();
    for (let i = 0; i < 30; i++) expect((await contains(daemon, uncached, i)).status).toBe(503);
    const lines = logLines(daemon.run.stderr()).filter((l) => String(l.msg).startsWith("request failed"));
    expect(lines.length, "request-failed log lines for 31 requests").toBeLessThanOrEqual(
      1 + Math.ceil((performance.now() - burst) / 5000),
    );
    expect(lines[0]).toMatchObject({ level: 40, suppressedSinceLast: 0 });

    await redis.start();
    // Nothing restarts the daemon: it reconnects on its own (Redis came back empty: sync again).
    expect(await readyAgain(daemon)).toMatchObject({ body: { status: "ready", redis: "up" } });
    await sync(uncached);
    expect(
      await settle(
        5000,
        () => contains(daemon, uncached, 2),
        (a) => a.status === 200,
      ),
    ).toMatchObject({
      status: 200,
      body: { member: true },
    });
    await stopServe(daemon);
  });

  it("during a sync: it fails with one line, the served version stays, and the next sync works", async () => {
    const aud = newAudienceId();
    const keys = audienceKeys(aud);
    await table.put(aud, 20260101, 0, [1, 2, 3]);
    expect((await sync(aud)).version).toBe(1);
    const daemon = await serve(env());
    expect(await contains(daemon, aud, 2)).toMatchObject({ status: 200, body: { version: 1, member: true } });
    const big = denseBitmap(320, 11); // 20 segments, 2.6 MB
    await table.put(aud, 20260102, 0, big.bytes, big.cardinality);

    // One segment per round trip at 500 kB/s: the write lasts seconds, so Redis stops mid-write.
    const run = cli(["sync", aud, "--force"], env(PACED_SYNC));
    const probe = probeClient();
    try {
      await waitFor("the sync to write", async () => ((await probe.scard(keys.segs)) > 1 ? true : undefined), 30_000);
    } finally {
      probe.disconnect();
    }
    await redis.save(); // so that it comes back as a Redis with persistence would
    await redis.stop();
    const exit = await exitWithin(run, 15_000, "bitsync sync with its Redis stopped mid-write");
    expect(exit.code).not.toBe(0);
    expect(exit.stderr.trimEnd().split("\n"), "stderr: one line with the reason").toEqual([
      expect.stringMatching(/^bitsync sync: \S/),
    ]);
    expect(await contains(daemon, aud, 2)).toMatchObject({ status: 200, body: { version: 1, member: true } });

    await redis.start({ keepData: true });
    expect(await readyAgain(daemon)).toMatchObject({ body: { status: "ready" } });
    expect(await http(`${daemon.url}/v1/audiences/${aud}`)).toMatchObject({ status: 200, body: { version: 1 } });
    // The dead sync's lock lapses (BITSYNC_SYNC_LOCK_TTL_MS=2000); then the next sync goes through.
    const lock = probeClient();
    try {
      await waitFor("the dead sync's lock to lapse", async () => ((await lock.exists(keys.lock)) ? undefined : true));
    } finally {
      lock.disconnect();
    }
    const next = await sync(aud, "--force");
    expect(next.version).toBeGreaterThan(1);
    const member = range(0, 65536).find((b) => big.has(b))!;
    expect(
      await settle(
        5000,
        () => contains(daemon, aud, member),
        (a) => a.body.version === next.version,
      ),
    ).toMatchObject({ status: 200, body: { version: next.version, member: true } });
    await stopServe(daemon);
  });
});
