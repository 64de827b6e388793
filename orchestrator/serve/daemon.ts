// `bitsync serve`: one process running the HTTP API, the registration consumer and the scheduled
// syncs of BITSYNC_AUDIENCES. Several daemons may share one Redis: the sync lock lets one of them
// sync an audience at a time (the others skip that round), and every daemon's cache hears every
// swap. stop() is the graceful shutdown: no new requests or syncs, drain, commit, close.
import type { Logger } from "pino";
import type { Config } from "../config/config.js";
import { createRegistrationConsumer, type RegistrationConsumer } from "../mapping/registrations.js";
import { SyncConflictError } from "../sync/errors.js";
import { createService, type Service } from "./service.js";

export interface DaemonOptions {
  /** Run the registration consumer (default true). */
  consumer?: boolean;
  /** Prometheus' default process metrics (default true). */
  defaultMetrics?: boolean;
  /** This process is worker N of a `bitsync serve` cluster: only worker 1 consumes and schedules. */
  worker?: number;
}

export interface Daemon {
  service: Service;
  /** http://host:port the API listens on. */
  url: string;
  stop(): Promise<void>;
}

export async function startDaemon(config: Config, log: Logger, opts: DaemonOptions = {}): Promise<Daemon> {
  const service = await createService(config, log, {
    defaultMetrics: opts.defaultMetrics ?? true,
    clusterMetrics: opts.worker !== undefined,
  });
  const lead = (opts.worker ?? 1) === 1;
  const timers: NodeJS.Timeout[] = [];
  const running = new Set<Promise<unknown>>();
  let stopping = false;

  const scheduled = (audience: string): void => {
    if (stopping) return;
    const run = service
      .runSync(audience)
      .then((r) =>
        log.info({ audience, version: r.version, written: r.written, reused: r.reused }, "scheduled sync done"),
      )
      .catch((err: unknown) => {
        if (err instanceof SyncConflictError)
          log.info({ audience }, "another process is syncing it; skipped this round");
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
    const { metrics } = service;
    consumer = createRegistrationConsumer(config, service.mapping.mapper, log, {
      onBatch: (b) => {
        metrics.consumedMessages.inc({ result: "mapped" }, b.mapped);
        metrics.consumedMessages.inc({ result: "dead_lettered" }, b.deadLettered);
      },
      onLag: (partition, lag) => metrics.consumerLag.set({ partition: String(partition) }, lag),
    });
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
    async stop() {
      stopping = true;
      for (const t of timers) clearInterval(t);
      // Stop accepting and drain the requests in flight (fastify answers 503 to new ones).
      await service.app.close();
      // The consumer's batch in flight finishes and is committed, then it leaves the group.
      await consumer?.stop();
      await Promise.allSettled([...running]);
      await service.close();
      log.info("stopped");
    },
  };
}
