// `bitsync serve` as a child process for the fault suite, the short settings its children run
// with, HTTP calls with a deadline each, and the checks of a shutdown.
import { expect } from "vitest";
import { freePort } from "../../../orchestrator/util/net.js";
import type { SourceTable } from "../../helpers/audience.js";
import { uniqueName, waitFor } from "../../helpers/stack.js";
import { cli, exitWithin, logLines, sleep, tail, type Cli } from "./procs.js";

/**
 * Settings of a sync slow enough to be cut off mid-write: one segment per round trip at 500 kB/s
 * (a 20-segment audience writes for seconds), logs off so stderr holds only its one-line result.
 */
export const PACED_SYNC: Record<string, string> = {
  BITSYNC_LOG_LEVEL: "silent",
  BITSYNC_SYNC_WRITE_CHUNK_BYTES: "1",
  BITSYNC_SYNC_WRITE_BYTES_PER_S: "500000",
};

/** Short settings, so a fault shows within seconds (values of the fault suite). */
export const SHUTDOWN_MS = 3000;
export const FAST: Record<string, string> = {
  BITSYNC_SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_MS),
  BITSYNC_SOURCE_QUERY_TIMEOUT_MS: "5000",
  BITSYNC_CACHE_POLL_MS: "200",
  BITSYNC_KAFKA_GIVE_UP_MS: "4000",
  BITSYNC_CONSUMER_SESSION_TIMEOUT_MS: "6000",
  BITSYNC_STARTUP_TIMEOUT_MS: "5000",
  BITSYNC_SYNC_LOCK_TTL_MS: "2000",
  BITSYNC_HTTP_HOST: "127.0.0.1",
  BITSYNC_ADMIN_TOKEN: "tok",
  REDIS_CLUSTER_NODES: "",
};

/**
 * The environment of a child that maps and consumes on private servers: the fault settings, info
 * logs, and topics, group and mapping namespace of its own (`prefix` names the namespace).
 */
export function consumerEnv(
  table: SourceTable,
  servers: { redisUrl: string; kafka: Record<string, string> },
  prefix: string,
): Record<string, string> {
  return table.env({
    ...FAST,
    ...servers.kafka,
    REDIS_URL: servers.redisUrl,
    BITSYNC_LOG_LEVEL: "info",
    BITSYNC_MAP_NAMESPACE: uniqueName(prefix),
    BITSYNC_REGISTRATION_TOPIC: uniqueName("reg"),
    BITSYNC_MAPPING_TOPIC: uniqueName("map"),
    BITSYNC_DLQ_TOPIC: uniqueName("dlq"),
    BITSYNC_CONSUMER_GROUP: uniqueName("grp"),
  });
}

/** Generous slack on top of a deadline the process itself keeps (a loaded 2-core machine). */
export const SLACK_MS = 10_000;

export interface Served {
  url: string;
  run: Cli;
}

/** Starts `bitsync serve` on a free port and waits until it says it serves (30 s at most). */
export async function serve(env: Record<string, string>, opts: { consumer?: boolean } = {}): Promise<Served> {
  const port = await freePort();
  // Its log says when it serves, and what it waits for when it stops: info, always.
  const run = cli(["serve", ...(opts.consumer ? [] : ["--no-consumer"])], {
    ...FAST,
    BITSYNC_HTTP_PORT: String(port),
    ...env,
    BITSYNC_LOG_LEVEL: "info",
  });
  let exit: string | undefined;
  void run.done.then((r) => (exit = `exited (${r.code ?? r.signal}) during startup:\n${tail(r.stderr)}`));
  await waitFor(
    "bitsync serve to start serving",
    () => {
      if (exit) throw new Error(exit);
      return run.stderr().includes('"msg":"bitsync serving"') ? true : undefined;
    },
    30_000,
  ).catch((err: Error) => {
    throw new Error(`${err.message}; its log ends:\n${tail(run.stderr())}`);
  });
  return { url: `http://127.0.0.1:${port}`, run };
}

export interface Answer<T = Record<string, unknown>> {
  status: number;
  body: T;
  ms: number;
}

/** One HTTP call with a deadline; the body parsed as JSON when it is JSON. */
export async function http<T = Record<string, unknown>>(
  url: string,
  init: RequestInit & { timeoutMs?: number } = {},
): Promise<Answer<T>> {
  const started = performance.now();
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(init.timeoutMs ?? 10_000) });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON (e.g. /metrics)
  }
  return { status: res.status, body: body as T, ms: performance.now() - started };
}

/** Polls `probe` until `ok` holds or `ms` pass, and returns the last value either way (assert on it). */
export async function settle<T>(ms: number, probe: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    let v: T;
    try {
      v = await probe();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(100);
      continue;
    }
    if (ok(v) || Date.now() > deadline) return v;
    await sleep(100);
  }
}

/** SIGTERM, and the exit within the shutdown deadline plus slack. */
export async function stopServe(d: Served): Promise<void> {
  d.run.child.kill("SIGTERM");
  await exitWithin(d.run, SHUTDOWN_MS + SLACK_MS, "bitsync serve after SIGTERM");
}

/** Admin sync through the daemon's route (force: past the drift guard). */
export function adminSync(url: string, audience: string): Promise<Answer<{ version: number }>> {
  return http(`${url}/v1/audiences/${audience}/sync`, {
    method: "POST",
    headers: { authorization: "Bearer tok", "content-type": "application/json" },
    body: JSON.stringify({ force: true }),
    timeoutMs: 60_000,
  });
}

/**
 * A stop after a signal, as the issue specifies it: the process exited (the caller's deadline);
 * if it ran to its own shutdown deadline, it logged a "shutdown deadline" line naming what it was
 * still waiting for (`waitingFor`: strings) and exited non-zero.
 */
export function expectStopped(exit: { code: number | null; stderr: string; ms: number }, what: string): void {
  const deadline = logLines(exit.stderr).find((l) => String(l.msg).includes("shutdown deadline"));
  if (deadline) {
    expect(deadline.waitingFor, `${what}: waitingFor of ${JSON.stringify(deadline)}`).toEqual(
      expect.arrayContaining([expect.any(String)]),
    );
    expect((deadline.waitingFor as unknown[]).every((w) => typeof w === "string")).toBe(true);
    expect(exit.code, `${what}: exit code after its shutdown deadline`).not.toBe(0);
  } else if (exit.ms >= SHUTDOWN_MS) {
    expect.fail(
      `${what}: stopped ${Math.round(exit.ms)} ms after the signal, past BITSYNC_SHUTDOWN_TIMEOUT_MS=${SHUTDOWN_MS}, ` +
        `without a "shutdown deadline" line naming what it waited for; its log ends:\n${tail(exit.stderr)}`,
    );
  }
}
