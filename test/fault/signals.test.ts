// SIGTERM and SIGINT with Redis or Kafka stopped or frozen, for `bitsync serve`, `bitsync map
// consume` and `bitsync sync` side by side: each exits within BITSYNC_SHUTDOWN_TIMEOUT_MS + slack
// (naming what it still waited for if that deadline passed), and at once, non-zero, on a second
// signal. The same with MariaDB frozen is in mariadb.test.ts.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { SourceTable, newAudienceId } from "../helpers/audience.js";
import { waitFor } from "../helpers/stack.js";
import { expectStopped, http, serve, SHUTDOWN_MS, SLACK_MS, consumerEnv } from "./helpers/daemon.js";
import { alive, cli, exitWithin, sleep, stopAll, tail, type Cli } from "./helpers/procs.js";
import { PrivateKafka, PrivateRedis } from "./helpers/servers.js";

let table: SourceTable;
let redis: PrivateRedis;
let kafka: PrivateKafka;
const AUD = newAudienceId();

beforeAll(async () => {
  [table, redis, kafka] = await Promise.all([SourceTable.create(), PrivateRedis.start(), PrivateKafka.start()]);
  await table.put(AUD, 20260101, 0, [1, 2, 3]);
});

// Each case starts from an empty Redis and a live Kafka mock (new ports when the last one was killed).
beforeEach(() => Promise.all([redis.restartEmpty(), kafka.ensureRunning()]));

afterAll(async () => {
  await stopAll();
  await table?.drop();
});

const env = () => consumerEnv(table, { redisUrl: redis.url, kafka: kafka.env }, "sg");

interface Proc {
  name: string;
  run: Cli;
}

/** `bitsync serve`; with Redis frozen, a check of an audience it has not cached stays in flight. */
async function startServe(consumer: boolean): Promise<Proc & { url: string }> {
  const d = await serve(env(), { consumer });
  return { name: `bitsync serve${consumer ? "" : " --no-consumer"}`, run: d.run, url: d.url };
}

async function startConsume(): Promise<Proc> {
  const run = cli(["map", "consume"], env());
  await waitFor(
    "bitsync map consume to consume",
    () => {
      if (!alive(run.child)) throw new Error(`it exited:\n${tail(run.stderr())}`);
      return run.stderr().includes('"msg":"consuming registrations"') ? true : undefined;
    },
    30_000,
  );
  return { name: "bitsync map consume", run };
}

/** A sync started with the fault in place (it may fail on its own before any signal: fine). */
function startSync(): Proc {
  return { name: "bitsync sync", run: cli(["sync", AUD, "--force"], env()) };
}

/** A request the daemon is busy with while Redis is frozen: its drain has something to wait for. */
function inFlight(url: string): void {
  void http(`${url}/v1/audiences/${newAudienceId()}/contains?bit=1`, { timeoutMs: 30_000 }).catch(() => undefined);
}

/**
 * Signals each process; with `second`, signals again 500 ms later whatever has not exited. Every
 * process is checked; the failures are reported together.
 */
async function stopEach(procs: Proc[], first: NodeJS.Signals[], second?: NodeJS.Signals): Promise<void> {
  const results = await Promise.allSettled(
    procs.map(async (p, i) => {
      const signal = first[i % first.length]!;
      p.run.child.kill(signal);
      if (second) {
        await sleep(500);
        if (!alive(p.run.child)) return; // the first signal ended it at once: nothing to cut short
        p.run.child.kill(second);
        const exit = await exitWithin(p.run, 2000, `${p.name} after ${signal}, then ${second}`);
        expect(exit.code, `${p.name}: exit code after a second signal`).not.toBe(0);
      } else {
        const exit = await exitWithin(p.run, SHUTDOWN_MS + SLACK_MS, `${p.name} after ${signal}`);
        expectStopped(exit, `${p.name} after ${signal}`);
      }
    }),
  );
  const failures = results.flatMap((r) => (r.status === "rejected" ? [String(r.reason)] : []));
  expect(failures, failures.join("\n\n")).toEqual([]);
}

describe("Redis gone", () => {
  it("stopped: serve, map consume and sync stop within their deadline on SIGTERM / SIGINT", async () => {
    const procs: Proc[] = await Promise.all([startServe(false), startConsume()]);
    await redis.kill();
    procs.push(startSync());
    await sleep(1000);
    await stopEach(procs, ["SIGTERM", "SIGINT"]);
  });

  it("frozen: serve, map consume and sync stop within their deadline on SIGINT / SIGTERM", async () => {
    const [daemon, consume] = await Promise.all([startServe(false), startConsume()]);
    redis.freeze();
    const sync = startSync();
    inFlight(daemon.url);
    await sleep(1000);
    await stopEach([daemon, consume, sync], ["SIGINT", "SIGTERM"]);
  });

  it("frozen: a second signal makes serve, map consume and sync exit at once, non-zero", async () => {
    const [daemon, consume] = await Promise.all([startServe(false), startConsume()]);
    redis.freeze();
    const sync = startSync();
    inFlight(daemon.url);
    await sleep(1000);
    await stopEach([daemon, consume, sync], ["SIGTERM", "SIGINT"], "SIGTERM");
  });
});

describe("Kafka gone", () => {
  it("stopped: serve and map consume stop within their deadline on SIGINT / SIGTERM", async () => {
    const procs = await Promise.all([startServe(true), startConsume()]);
    await kafka.kill();
    await sleep(500); // well within BITSYNC_KAFKA_GIVE_UP_MS: they are still retrying
    await stopEach(procs, ["SIGINT", "SIGTERM"]);
  });

  it("frozen: serve and map consume stop within their deadline on SIGTERM / SIGINT", async () => {
    const procs = await Promise.all([startServe(true), startConsume()]);
    kafka.freeze();
    await sleep(500);
    await stopEach(procs, ["SIGTERM", "SIGINT"]);
  });

  it("frozen: a second signal makes serve and map consume exit at once, non-zero", async () => {
    const procs = await Promise.all([startServe(true), startConsume()]);
    kafka.freeze();
    await sleep(500);
    await stopEach(procs, ["SIGINT", "SIGTERM"], "SIGINT");
  });
});
