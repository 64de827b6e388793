// `bitsync serve` on several cores (BITSYNC_HTTP_WORKERS > 1): the primary process forks that
// many workers, each a whole serving process (HTTP API, segment cache, uid cache) on one shared
// port (node:cluster). Worker 1 alone also runs the registration consumer and the scheduled
// syncs. The primary restarts a worker that dies, forwards SIGTERM and SIGINT to every worker
// (each drains and closes as a single daemon does) and exits when all have. /metrics on any
// worker answers for all of them: the worker asks the primary, which aggregates the workers'
// registries with prom-client's AggregatorRegistry.
import cluster, { type Worker } from "node:cluster";
import type { Logger } from "pino";
import { AggregatorRegistry, type Registry } from "prom-client";
import type { Config } from "../config/config.js";
import { BitsyncError } from "../errors.js";
import { EXIT_STOP_CUT_SHORT } from "../runtime/shutdown.js";

/** A worker stopped before it served: a restart would fail the same way. */
export class WorkerStartError extends BitsyncError {}

/** A worker tells the primary it is serving. */
export const WORKER_READY = "bitsync:ready";
const REQ = "bitsync:metrics-req";
const RES = "bitsync:metrics-res";
const RESTART_DELAY_MS = 1000;

/** The worker's number (1-based) when this process is a worker of `bitsync serve`, else undefined. */
export function workerId(): number | undefined {
  return cluster.isWorker ? Number(process.env.BITSYNC_WORKER_ID ?? cluster.worker?.id ?? 1) : undefined;
}

/**
 * Runs the primary until SIGTERM or SIGINT and every worker has stopped. A worker that exits
 * before it served (bad config, Redis unreachable) stops them all: WorkerStartError.
 */
export async function runPrimary(config: Config, log: Logger): Promise<void> {
  const aggregator = new AggregatorRegistry();
  const workers = new Map<number, Worker>();
  let stopping = false;
  let failStart: (err: Error) => void = () => undefined;
  const startFailed = new Promise<never>((_, reject) => (failStart = reject));

  const fork = (id: number): void => {
    const w = cluster.fork({ BITSYNC_WORKER_ID: String(id) });
    workers.set(id, w);
    let ready = false;
    w.on("message", (m: { type?: string; id?: number }) => {
      if (m?.type === WORKER_READY) ready = true;
      if (m?.type !== REQ) return;
      aggregator.clusterMetrics().then(
        (text) => w.send({ type: RES, id: m.id, text }),
        (err: Error) => w.send({ type: RES, id: m.id, error: err.message }),
      );
    });
    w.on("exit", (code, signal) => {
      if (workers.get(id) === w) workers.delete(id);
      if (stopping) return;
      if (!ready) {
        failStart(
          new WorkerStartError(
            `worker ${id} stopped before it served (exit code ${code ?? signal}): see its message above`,
          ),
        );
        return;
      }
      log.error({ worker: id, code, signal }, `worker ${id} died; starting another in ${RESTART_DELAY_MS} ms`);
      setTimeout(() => !stopping && fork(id), RESTART_DELAY_MS).unref();
    });
  };
  for (let id = 1; id <= config.httpWorkers; id++) fork(id);
  log.info({ workers: config.httpWorkers, port: config.httpPort }, "bitsync serve: primary started its workers");

  let failure: Error | undefined;
  let signals = 0;
  const signal = await Promise.race([
    new Promise<NodeJS.Signals>((resolve) => {
      const onSignal = (s: NodeJS.Signals): void => {
        if (++signals === 1) return resolve(s);
        // A second signal: every worker goes now, and so does the primary.
        log.warn({ signal: s, workers: [...workers.keys()] }, "second signal: stopping the workers now");
        for (const w of workers.values()) w.process.kill("SIGKILL");
        process.exit(EXIT_STOP_CUT_SHORT);
      };
      process.on("SIGTERM", onSignal);
      process.on("SIGINT", onSignal);
    }),
    startFailed.catch((err: Error) => {
      failure = err;
      return null;
    }),
  ]);
  stopping = true;
  log.info({ signal: signal ?? undefined }, "stopping the workers");
  // Each worker has the same deadline for its own stop; this one covers a worker that hangs anyway.
  const deadline = setTimeout(() => {
    const left = [...workers.keys()].map((id) => `worker ${id}`);
    log.error(
      { waitingFor: left, timeoutMs: config.shutdownTimeoutMs },
      `shutdown deadline of ${config.shutdownTimeoutMs} ms (BITSYNC_SHUTDOWN_TIMEOUT_MS) passed: killing the workers left`,
    );
    for (const w of workers.values()) w.process.kill("SIGKILL");
    process.exit(EXIT_STOP_CUT_SHORT);
  }, config.shutdownTimeoutMs + 2000);
  deadline.unref();
  await Promise.all(
    [...workers.values()].map(
      (w) =>
        new Promise<void>((resolve) => {
          if (w.isDead()) return resolve();
          w.once("exit", () => resolve());
          w.process.kill("SIGTERM");
        }),
    ),
  );
  clearTimeout(deadline);
  log.info("all workers stopped");
  if (failure) throw failure;
}

/**
 * In a worker: answers this worker's part of the primary's aggregation from `registry`, and
 * returns the function /metrics calls to get the aggregate of all workers.
 */
export function workerMetrics(registry: Registry): () => Promise<string> {
  AggregatorRegistry.setRegistries([registry]);
  // Constructing one is what installs prom-client's listener that answers the primary.
  new AggregatorRegistry();
  let next = 0;
  const pending = new Map<number, (m: { text?: string; error?: string }) => void>();
  process.on("message", (m: { type?: string; id?: number; text?: string; error?: string }) => {
    if (m?.type !== RES || m.id === undefined) return;
    pending.get(m.id)?.(m);
    pending.delete(m.id);
  });
  return () =>
    new Promise<string>((resolve, reject) => {
      const id = next++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error("the primary did not answer with the workers' metrics within 10 s"));
      }, 10_000);
      pending.set(id, (m) => {
        clearTimeout(timer);
        if (m.error !== undefined) reject(new Error(`aggregating the workers' metrics failed: ${m.error}`));
        else resolve(m.text ?? "");
      });
      process.send!({ type: REQ, id });
    });
}
