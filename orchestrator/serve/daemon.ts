// `bitsync serve`: one process running the HTTP API, the registration consumer and the scheduled
// syncs of BITSYNC_AUDIENCES. Several daemons may share one Redis: the sync lock lets one of them
// sync an audience at a time (the others skip that round), and every daemon's cache hears every
// swap. stop() is the graceful shutdown: no new requests or syncs, drain, commit, close.
import type { Logger } from "pino";
import type { Config } from "../config/config.js";
import { BatchConsumer } from "../kafka/batch-consumer.js";
import { createKafka } from "../kafka/client.js";
import { RecordPublisher } from "../kafka/producer.js";
import { registrationHandler } from "../mapping/consumer.js";
import { SyncConflictError } from "../sync/errors.js";
import { createService, type Service } from "./service.js";

export interface DaemonOptions {
  /** Run the registration consumer (default true). */
  consumer?: boolean;
  /** Prometheus' default process metrics (default true). */
  defaultMetrics?: boolean;
}

export interface Daemon {
  service: Service;
  /** http://host:port the API listens on. */
  url: string;
  stop(): Promise<void>;
}

export async function startDaemon(config: Config, log: Logger, opts: DaemonOptions = {}): Promise<Daemon> {
  const service = await createService(config, log, { defaultMetrics: opts.defaultMetrics ?? true });
  const timers: NodeJS.Timeout[] = [];
  const running = new Set<Promise<unknown>>();
  const closers: (() => Promise<void>)[] = [];
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
  for (const a of config.audiences) {
    const timer = setInterval(() => scheduled(a.id), a.intervalSeconds * 1000);
    timers.push(timer);
    scheduled(a.id); // once at start, then on the interval
  }

  let consumer: BatchConsumer | undefined;
  let publisher: RecordPublisher | undefined;
  if (opts.consumer ?? true) {
    const kafka = createKafka({ brokers: config.kafkaBrokers, clientId: config.kafkaClientId });
    publisher = new RecordPublisher(kafka);
    const session = config.consumerSessionTimeoutMs;
    consumer = new BatchConsumer({
      kafka,
      groupId: config.consumerGroup,
      topic: config.registrationTopic,
      fromBeginning: true,
      sessionTimeout: session,
      rebalanceTimeout: Math.max(session, 10_000),
      heartbeatInterval: Math.max(300, Math.floor(session / 10)),
      retry: { initialMs: 200, maxMs: 30_000 },
      log,
      onFatalError: (err) => {
        log.fatal({ err }, "the registration consumer stopped for good; exiting so that the daemon is restarted");
        process.exit(1);
      },
      handle: registrationHandler({
        mapper: service.mapping.mapper,
        publisher,
        mappingTopic: config.mappingTopic,
        dlqTopic: config.dlqTopic,
        rules: { maxBytes: config.mapUidMaxBytes, pattern: config.mapUidPattern },
        log,
        onBatch: (b) => {
          service.metrics.consumedMessages.inc({ result: "mapped" }, b.mapped);
          service.metrics.consumedMessages.inc({ result: "dead_lettered" }, b.deadLettered);
        },
      }),
    });
    await publisher.connect();
    await consumer.start();
    // Consumer lag per partition (end offset - committed), for /metrics.
    const admin = kafka.admin();
    await admin.connect();
    const lag = async (): Promise<void> => {
      const [ends, [committed]] = await Promise.all([
        admin.fetchTopicOffsets(config.registrationTopic),
        admin.fetchOffsets({ groupId: config.consumerGroup, topics: [config.registrationTopic] }),
      ]);
      for (const end of ends) {
        const c = committed?.partitions.find((p) => p.partition === end.partition)?.offset ?? "-1";
        const done = Number(c) < 0 ? Number(end.low) : Number(c);
        service.metrics.consumerLag.set({ partition: String(end.partition) }, Math.max(0, Number(end.high) - done));
      }
    };
    const lagTimer = setInterval(
      () => void lag().catch((err: unknown) => log.debug({ err }, "lag not measured")),
      15_000,
    );
    lagTimer.unref();
    timers.push(lagTimer);
    closers.push(() => admin.disconnect());
  }

  const url = await service.app.listen({ host: config.httpHost, port: config.httpPort });
  log.info({ url, audiences: config.audiences, consumer: consumer !== undefined }, "bitsync serving");

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
      await publisher?.disconnect().catch(() => undefined);
      for (const close of closers) await close().catch(() => undefined);
      await Promise.allSettled([...running]);
      await service.close();
      log.info("stopped");
    },
  };
}
