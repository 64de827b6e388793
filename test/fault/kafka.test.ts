// The Kafka mock stopped under the registration consumer: `bitsync map consume` gives up after
// BITSYNC_KAFKA_GIVE_UP_MS and exits non-zero saying so; `bitsync serve` keeps answering checks and
// says in /readyz (`consumer`) and /metrics (`bitsync_consumer_up`) that its consumer is down.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { SourceTable, newAudienceId } from "../helpers/audience.js";
import { waitFor } from "../helpers/stack.js";
import { FAST, http, serve, SLACK_MS, stopServe, consumerEnv } from "./helpers/daemon.js";
import { alive, cli, exitWithin, logLines, stopAll, tail, type Cli } from "./helpers/procs.js";
import { PrivateKafka, PrivateRedis } from "./helpers/servers.js";

const GIVE_UP_MS = Number(FAST.BITSYNC_KAFKA_GIVE_UP_MS);
let table: SourceTable;
let redis: PrivateRedis;
let kafka: PrivateKafka;

beforeAll(async () => {
  [table, redis, kafka] = await Promise.all([SourceTable.create(), PrivateRedis.start(), PrivateKafka.start()]);
});

beforeEach(() => kafka.ensureRunning()); // a new mock cluster, on new ports, after a test stopped it

afterAll(async () => {
  await stopAll();
  await table?.drop();
});

/** Topics, group and mapping namespace of their own, on the private Redis and Kafka. */
const env = () => consumerEnv(table, { redisUrl: redis.url, kafka: kafka.env }, "kf");

/** Waits until the process's consumer has joined its group and consumes. */
async function consuming(run: Cli): Promise<void> {
  await waitFor(
    "the registration consumer to start",
    () => {
      if (!alive(run.child)) throw new Error(`it exited:\n${tail(run.stderr())}`);
      return run.stderr().includes('"msg":"consuming registrations"') ? true : undefined;
    },
    30_000,
  );
}

describe("the Kafka mock stopped under the registration consumer", () => {
  it("bitsync map consume gives up after BITSYNC_KAFKA_GIVE_UP_MS and exits non-zero, saying so", async () => {
    const run = cli(["map", "consume"], env());
    await consuming(run);
    await kafka.kill();
    const exit = await exitWithin(run, GIVE_UP_MS + SLACK_MS, "bitsync map consume with its Kafka gone");
    expect(exit.code, tail(exit.stderr)).not.toBe(0);
    const gaveUp = logLines(exit.stderr).filter((l) => /gave up|giving up/i.test(String(l.msg)));
    expect(gaveUp, `a log line saying it gave up; its log ends:\n${tail(exit.stderr)}`).not.toEqual([]);
  });

  it("bitsync serve keeps answering checks; /readyz and /metrics say its consumer is down", async () => {
    const aud = newAudienceId();
    await table.put(aud, 20260101, 0, [1, 2, 3]);
    const e = env();
    const synced = await exitWithin(cli(["sync", aud], e), 60_000, "bitsync sync");
    expect(synced.code, synced.stderr).toBe(0);
    const daemon = await serve(e, { consumer: true });
    const readyz = () => http<{ consumer?: string }>(`${daemon.url}/readyz`);
    const metrics = async () => String((await http(`${daemon.url}/metrics`)).body);
    expect.soft((await readyz()).body.consumer, "consumer in /readyz before Kafka stops").toBe("running");
    expect.soft(await metrics(), "/metrics before Kafka stops").toMatch(/^bitsync_consumer_up 1$/m);

    await kafka.kill();
    const stopped = Date.now();
    const failed: unknown[] = [];
    const check = async () => {
      const a = await http<{ member: boolean }>(`${daemon.url}/v1/audiences/${aud}/contains?bit=2`);
      if (a.status !== 200 || a.body.member !== true) failed.push(a);
    };
    // Checks go on while the consumer retries and gives up; the daemon stays up all along.
    let consumer: string | undefined;
    while (Date.now() - stopped < GIVE_UP_MS + SLACK_MS) {
      await check();
      consumer = (await readyz()).body.consumer;
      if (Date.now() - stopped > GIVE_UP_MS + 2000 && consumer !== undefined && consumer !== "running") break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(alive(daemon.run.child), `the daemon exited:\n${tail(daemon.run.stderr())}`).toBe(true);
    expect(failed, "checks while its Kafka is gone").toEqual([]);
    expect(["retrying", "stopped"], `consumer in /readyz after Kafka stopped`).toContain(consumer);
    expect(await metrics()).toMatch(/^bitsync_consumer_up 0$/m);
    await check();
    expect(failed).toEqual([]);
    await stopServe(daemon);
  });
});
