// The daemon on real sockets: two daemons on one Redis see each other's swaps and share the
// scheduled syncs; `bitsync serve` stops gracefully on SIGTERM; and with its Redis stopped, a
// daemon keeps answering from its cache, reports degraded, and recovers when Redis is back.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDaemon, type Daemon } from "../../orchestrator/serve/daemon.js";
import { freePort } from "../../orchestrator/util/net.js";
import { SourceTable, members, newAudienceId } from "../helpers/audience.js";
import { startCli } from "../helpers/cli.js";
import { uniqueName, waitFor } from "../helpers/stack.js";

const silent = pino({ level: "silent" });
let table: SourceTable;

beforeAll(async () => {
  table = await SourceTable.create();
});

afterAll(async () => {
  await table.drop();
});

const json = async <T = Record<string, unknown>>(url: string, init?: RequestInit): Promise<T> => {
  const res = await fetch(url, init);
  return (await res.json()) as T;
};

function config(extra: Record<string, string>) {
  return table.config({
    BITSYNC_HTTP_HOST: "127.0.0.1",
    BITSYNC_HTTP_PORT: "0",
    BITSYNC_MAP_NAMESPACE: uniqueName("md"),
    BITSYNC_ADMIN_TOKEN: "tok",
    REDIS_CLUSTER_NODES: "",
    ...extra,
  });
}

describe("two daemons on one Redis", () => {
  it("each sees a swap made through the other, and scheduled syncs run once per round", async () => {
    const scheduledAud = newAudienceId();
    const aud = newAudienceId();
    await table.put(scheduledAud, 20261120, 0, members(500, 1_000_000, 1));
    await table.put(aud, 20261120, 0, [1, 2, 3]);
    const extra = { BITSYNC_AUDIENCES: `${scheduledAud}:3600` };
    const daemons: Daemon[] = [];
    try {
      daemons.push(await startDaemon(config(extra), silent, { consumer: false, defaultMetrics: false }));
      daemons.push(await startDaemon(config(extra), silent, { consumer: false, defaultMetrics: false }));
      const [one, two] = daemons as [Daemon, Daemon];
      // Both scheduled the audience at start; the lock let one sync it and the other skip.
      const info = await waitFor("the scheduled sync", async () => {
        const res = await fetch(`${two.url}/v1/audiences/${scheduledAud}`);
        return res.status === 200 ? ((await res.json()) as { version: number; retained: unknown[] }) : undefined;
      });
      expect(info.version).toBe(1);
      // Sync through one; the other answers from the new version.
      const synced = await json<{ version: number }>(`${one.url}/v1/audiences/${aud}/sync`, {
        method: "POST",
        headers: { authorization: "Bearer tok" },
      });
      expect(synced.version).toBe(1);
      expect(await json(`${two.url}/v1/audiences/${aud}/contains?bit=2`)).toMatchObject({ version: 1, member: true });
      await table.put(aud, 20261121, 0, [1, 3, 5]);
      const second = await json<{ version: number }>(`${one.url}/v1/audiences/${aud}/sync`, {
        method: "POST",
        headers: { authorization: "Bearer tok", "content-type": "application/json" },
        body: JSON.stringify({ force: true }),
      });
      expect(second.version).toBe(2);
      await waitFor("daemon two to hear the swap", async () => {
        const r = await json<{ version: number; member: boolean }>(`${two.url}/v1/audiences/${aud}/contains?bit=5`);
        return r.version === 2 && r.member ? true : undefined;
      });
      expect(await json(`${two.url}/v1/audiences/${aud}/contains?bit=2`)).toMatchObject({ version: 2, member: false });
    } finally {
      for (const d of daemons) await d.stop();
    }
  });
});

describe("bitsync serve", () => {
  it("stops gracefully on SIGTERM", async () => {
    const port = await freePort();
    const run = startCli(
      ["serve"],
      table.env({
        BITSYNC_HTTP_HOST: "127.0.0.1",
        BITSYNC_HTTP_PORT: String(port),
        BITSYNC_LOG_LEVEL: "info",
        BITSYNC_REGISTRATION_TOPIC: uniqueName("reg"),
        BITSYNC_CONSUMER_GROUP: uniqueName("grp"),
        BITSYNC_CONSUMER_SESSION_TIMEOUT_MS: "6000",
        BITSYNC_MAP_NAMESPACE: uniqueName("md"),
        REDIS_CLUSTER_NODES: "",
      }),
    );
    await waitFor(
      "the daemon to listen",
      async () => {
        try {
          return (await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200 ? true : undefined;
        } catch {
          return undefined;
        }
      },
      60_000,
    );
    run.child.kill("SIGTERM");
    const exit = await run.done;
    expect(exit.code, exit.stderr).toBe(0);
    expect(exit.stderr).toMatch(/"msg":"stopped"/);
  });
});

describe("Redis going away", () => {
  let redisProc: ChildProcess | undefined;
  let dir: string;
  let port: number;

  const startRedis = async (): Promise<void> => {
    redisProc = spawn(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--dbfilename", "dump.rdb", "--appendonly", "no"],
      {
        stdio: "ignore",
      },
    );
    await waitFor("redis to start", async () => {
      const probe = new Redis({ port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on("error", () => undefined); // refused until the server is up
      try {
        await probe.connect();
        return (await probe.ping()) === "PONG" ? true : undefined;
      } catch {
        return undefined;
      } finally {
        probe.disconnect();
      }
    });
  };

  afterAll(() => {
    redisProc?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  it("keeps answering cached segments, reports degraded, and recovers", async () => {
    dir = mkdtempSync(join(tmpdir(), "bitsync-redis-"));
    port = await freePort();
    await startRedis();
    const aud = newAudienceId();
    await table.put(aud, 20261120, 0, [10, 20, 30]);
    const daemon = await startDaemon(config({ REDIS_URL: `redis://127.0.0.1:${port}` }), silent, {
      consumer: false,
      defaultMetrics: false,
    });
    try {
      await json(`${daemon.url}/v1/audiences/${aud}/sync`, {
        method: "POST",
        headers: { authorization: "Bearer tok" },
      });
      expect(await json(`${daemon.url}/v1/audiences/${aud}/contains?bit=20`)).toMatchObject({ member: true });
      expect(await json(`${daemon.url}/readyz`)).toMatchObject({ status: "ready" });
      // Save, then stop Redis hard.
      const admin = new Redis({ port });
      await admin.save();
      admin.disconnect();
      redisProc!.kill("SIGKILL");
      await new Promise((r) => redisProc!.once("exit", r));
      await waitFor("readiness to degrade", async () =>
        (await json<{ status: string }>(`${daemon.url}/readyz`)).status === "degraded" ? true : undefined,
      );
      // The cached version and segment keep answering.
      for (const [bit, member] of [
        [20, true],
        [21, false],
        [30, true],
      ] as const) {
        const res = await fetch(`${daemon.url}/v1/audiences/${aud}/contains?bit=${bit}`);
        expect(res.status).toBe(200);
        expect(await res.json()).toMatchObject({ member });
      }
      await startRedis();
      await waitFor("readiness to recover", async () =>
        (await json<{ status: string }>(`${daemon.url}/readyz`)).status === "ready" ? true : undefined,
      );
      expect(await json(`${daemon.url}/v1/audiences/${aud}`)).toMatchObject({ version: 1 });
    } finally {
      await daemon.stop();
    }
  });
});

describe("bitsync serve without its Redis", () => {
  it("waits for it, then stops with a message naming it and exit code 2", async () => {
    const closed = await freePort();
    const run = await startCli(["serve", "--no-consumer"], {
      ...table.env(),
      REDIS_URL: `redis://:hunter2@127.0.0.1:${closed}`,
      BITSYNC_STARTUP_TIMEOUT_MS: "1500",
      BITSYNC_HTTP_PORT: "0",
    }).done;
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toContain(`Redis at redis://:***@127.0.0.1:${closed} did not answer within 1.5 s`);
    expect(run.stderr).not.toContain("hunter2");
    expect(run.stderr).not.toMatch(/^\s+at /m); // one line, no stack trace
  });
});
