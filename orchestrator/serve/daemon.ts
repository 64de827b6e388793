// `bitsync serve`: one process running the HTTP API, the registration consumer and the scheduled
// syncs of BITSYNC_AUDIENCES. Several daemons may share one Redis: the sync lock lets one of them
// sync an audience at a time (the others skip that round), and every daemon's cache hears every
// swap. stop() is the graceful shutdown: no new requests or syncs, drain, commit, close; each
// step named, so that a stop cut short by its deadline can say what it was waiting for.
import type { Logger } from "pino";
import type { Config } from "../config/config.js";
import { createRegistrationConsumer, type RegistrationConsumer } from "../mapping/registrations.js";
import type { StopStep } from "../runtime/resources.js";
import { SyncAbortedError } from "../sync/errors.js";
import { SyncConflictError } from "../versions/errors.js";
import { createService, type Service } from "./service.js";

/** Runs one named step of a stop (Shutdown.step); by default, just awaits it. */

export interface DaemonOptions {
  /** Run the registration consumer (default true). */
  consumer?: boolean;
  /** Called when the consumer gave up on unreachable brokers (the daemon serves on without it). */
  onConsumerGaveUp?: (err: Error) => void;
  /** Prometheus' default process metrics (default true). */
  defaultMetrics?: boolean;
  /** This process is worker N of a `bitsync serve` cluster: only worker 1 consumes and schedules. */
  worker?: number;
}

export interface Daemon {
  service: Service;
  /** http://host:port the API listens on. */
  url: string;
  stop(step?: StopStep): Promise<void>;
}

const justAwait: StopStep = (_name, work) => work;

export async function startDaemon(config: Config, log: Logger, opts: DaemonOptions = {}): Promise<Daemon> {
  const service = await createService(config, log, {
    defaultMetrics: opts.defaultMetrics ?? true,
    clusterMetrics: opts.worker !== undefined,
  });
  const lead = (opts.worker ?? 1) === 1;
  const timers: NodeJS.Timeout[] = [];
  const running = new Set<Promise<unknown>>();
  // Scheduled syncs end at their next step once the daemon stops (the served version stays).
  const aborting = new AbortController();
  let stopping = false;

  const scheduled = (audience: string): void => {
    if (stopping) return;
    const run = service
      .runSync(audience, { signal: aborting.signal })
      .then((r) =>
        log.info({ audience, version: r.version, written: r.written, reused: r.reused }, "scheduled sync done"),
      )
      .catch((err: unknown) => {
        if (err instanceof SyncConflictError)
          log.info({ audience }, "another process is syncing it; skipped this round");
        else if (err instanceof SyncAbortedError || stopping)
          log.info({ audience, reason: (err as Error).message }, "scheduled sync stopped: the daemon is stopping");
        else log.error({ err, audience }, "scheduled sync failed; the served version is unchanged");
      })
      .finally(() => running.delete(run));
    running.add(run);
  };
  for (const a of lead ? config.audiences : []) {
    const timer = setInterval(() => scheduled(a.id), a.intervalSeconds * 1000);
    timers.push(timer);
    scheduled(a.id); // once at start, then on the interval
  }

  let consumer: RegistrationConsumer | undefined;
  if ((opts.consumer ?? true) && lead) {
    const { metrics, readiness } = service;
    consumer = createRegistrationConsumer(config, service.mapping, log, {
      onBatch: (b) => {
        metrics.consumedMessages.inc({ result: "mapped" }, b.mapped);
        metrics.consumedMessages.inc({ result: "dead_lettered" }, b.deadLettered);
      },
      onLag: (partition, lag) => metrics.consumerLag.set({ partition: String(partition) }, lag),
      onState: (state) => {
        readiness.consumer = state;
        metrics.consumerUp.set(state === "running" ? 1 : 0);
      },
      onGiveUp: (err) => {
        log.error("serving continues without the registration consumer; restart the daemon once Kafka is back");
        opts.onConsumerGaveUp?.(err);
      },
    });
    readiness.consumer = "starting";
    metrics.consumerUp.set(0);
    await consumer.start();
  }

  const url = await service.app.listen({ host: config.httpHost, port: config.httpPort });
  log.info(
    { url, worker: opts.worker, audiences: lead ? config.audiences : [], consumer: consumer !== undefined },
    "bitsync serving",
  );

  return {
    service,
    url,
    async stop(step = justAwait) {
      stopping = true;
      aborting.abort();
      for (const t of timers) clearInterval(t);
      // A sync still reading the source is abandoned (the served version stays; its lock is
      // released): a warehouse that is slow or frozen must not hold the stop. One past its read
      // writes on and swaps.
      const abandonReads = service.sync.abandonReads();
      await Promise.all([
        // Stop accepting and drain the requests in flight (fastify answers 503 to new ones).
        step("HTTP requests in flight", service.app.close()),
        // The consumer's batch in flight finishes and is committed, then it leaves the group.
        consumer ? step("the registration consumer (its batch, commit, leaving the group)", consumer.stop()) : null,
        step(`running syncs (${running.size})`, Promise.allSettled([...running])),
        step("closing the source", abandonReads),
      ]);
      await service.close(step);
      log.info("stopped");
    },
  };
}
