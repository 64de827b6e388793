// `bitsync serve` with BITSYNC_HTTP_WORKERS=2, as an operator runs it: one port, metrics summed
// over the workers, a killed worker replaced while the other keeps answering, SIGTERM stopping
// them all, and a worker that cannot start stopping the whole daemon with a reason.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../orchestrator/util/net.js";
import { SourceTable, newAudienceId } from "../helpers/audience.js";
import { startCli } from "../helpers/cli.js";
import { uniqueName, waitFor } from "../helpers/stack.js";

let table: SourceTable;
beforeAll(async () => {
  table = await SourceTable.create();
});
afterAll(async () => {
  await table.drop();
});

function children(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe("bitsync serve on two workers", () => {
  it("shares one port, sums the workers' metrics, replaces a dead worker and stops on SIGTERM", async () => {
    const aud = newAudienceId();
    await table.put(aud, 20261120, 0, [3, 5, 8]);
    const port = await freePort();
    const { child, done } = startCli(["serve", "--no-consumer"], {
      ...table.env(),
      BITSYNC_HTTP_WORKERS: "2",
      BITSYNC_HTTP_HOST: "127.0.0.1",
      BITSYNC_HTTP_PORT: String(port),
      BITSYNC_MAP_NAMESPACE: uniqueName("mc"),
      BITSYNC_AUDIENCES: `${aud}:3600`,
      REDIS_CLUSTER_NODES: "",
      BITSYNC_LOG_LEVEL: "info",
    });
    const base = `http://127.0.0.1:${port}`;
    try {
      const workers = await waitFor("two workers", () =>
        children(child.pid!).length === 2 ? children(child.pid!) : undefined,
      );
      // Worker 1 alone runs the scheduled sync.
      await waitFor("the scheduled sync", async () => {
        const res = await fetch(`${base}/v1/audiences/${aud}`).catch(() => undefined);
        return res?.status === 200 ? true : undefined;
      });
      // New connections each, so both workers answer some.
      const n = 40;
      for (let i = 0; i < n; i++) {
        const res = await fetch(`${base}/v1/audiences/${aud}/contains?bit=${i}`, { headers: { connection: "close" } });
        expect(await res.json()).toEqual({ audience: aud, version: 1, member: [3, 5, 8].includes(i) });
      }
      const metrics = await (await fetch(`${base}/metrics`)).text();
      const count =
        /bitsync_http_request_duration_seconds_count\{method="GET",route="\/v1\/audiences\/:id\/contains",status="200"\} (\d+)/.exec(
          metrics,
        );
      expect(Number(count?.[1]), metrics.slice(0, 2000)).toBe(n);
      const synced = /bitsync_sync_duration_seconds_count\{result="ok"\} (\d+)/.exec(metrics);
      expect(Number(synced?.[1])).toBe(1);

      // Kill one worker: the other keeps answering, and the primary starts a new one.
      process.kill(workers[0]!, "SIGKILL");
      // Once the primary has seen it go (the new one starts a second later), the other answers.
      await waitFor("the primary to see the worker gone", () => (children(child.pid!).length === 1 ? true : undefined));
      for (let i = 0; i < 10; i++) {
        const res = await fetch(`${base}/healthz`, {
          headers: { connection: "close" },
          signal: AbortSignal.timeout(5000),
        });
        expect(res.status).toBe(200);
      }
      const replaced = await waitFor("a new worker", () => {
        const now = children(child.pid!);
        return now.length === 2 && !now.includes(workers[0]!) ? now : undefined;
      });
      await waitFor("the new worker to serve", async () => {
        const res = await fetch(`${base}/v1/audiences/${aud}/contains?bit=5`, {
          headers: { connection: "close" },
          signal: AbortSignal.timeout(5000),
        });
        return res.status === 200 ? true : undefined;
      });

      child.kill("SIGTERM");
      const run = await done;
      expect(run.code, run.stderr).toBe(0);
      for (const pid of replaced) expect(alive(pid)).toBe(false);
      expect(run.stderr).toMatch(/worker \d died; starting another/);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });

  it("stops with the reason when a worker cannot start", async () => {
    const closed = await freePort();
    const run = await startCli(["serve", "--no-consumer"], {
      ...table.env(),
      BITSYNC_HTTP_WORKERS: "2",
      BITSYNC_HTTP_PORT: String(await freePort()),
      REDIS_URL: `redis://127.0.0.1:${closed}`,
      BITSYNC_STARTUP_TIMEOUT_MS: "1000",
    }).done;
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toContain("did not answer within 1 s");
    expect(run.stderr).toMatch(/worker \d stopped before it served/);
  });
});
