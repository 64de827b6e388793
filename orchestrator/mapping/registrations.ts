// The registration consumer as a unit: a Kafka consumer group member on the registration topic,
// the mapping handler, the publisher of mappings and dead letters, and the lag it measures.
// `bitsync map consume` runs it alone; `bitsync serve` runs it beside the HTTP API.
import type { Logger } from "pino";
import type { Config } from "../config/config.js";
import { BatchConsumer } from "../kafka/batch-consumer.js";
import { createKafka } from "../kafka/client.js";
import { RecordPublisher } from "../kafka/producer.js";
import { registrationHandler } from "./consumer.js";
import type { IdMapper } from "./mapper.js";

export interface BatchTotals {
  messages: number;
  mapped: number;
  created: number;
  deadLettered: number;
}

export interface RegistrationConsumerOptions {
  onBatch?: (batch: BatchTotals) => void;
  /** Called with each partition's lag (end offset - committed), every 15 s. */
  onLag?: (partition: number, lag: number) => void;
}

export interface RegistrationConsumer {
  readonly totals: BatchTotals;
  /** Connects, joins the group and starts consuming. */
  start(): Promise<void>;
  /** Finishes and commits the batch in flight, leaves the group, disconnects. */
  stop(): Promise<void>;
}

export function createRegistrationConsumer(
  config: Config,
  mapper: IdMapper,
  log: Logger,
  opts: RegistrationConsumerOptions = {},
): RegistrationConsumer {
  const kafka = createKafka({ brokers: config.kafkaBrokers, clientId: config.kafkaClientId });
  const publisher = new RecordPublisher(kafka);
  const admin = kafka.admin();
  const session = config.consumerSessionTimeoutMs;
  const totals: BatchTotals = { messages: 0, mapped: 0, created: 0, deadLettered: 0 };
  const consumer = new BatchConsumer({
    kafka,
    groupId: config.consumerGroup,
    topic: config.registrationTopic,
    // A new group starts at the earliest registration: none published before it is missed.
    fromBeginning: true,
    sessionTimeout: session,
    rebalanceTimeout: Math.max(session, 10_000),
    heartbeatInterval: Math.max(300, Math.floor(session / 10)),
    retry: { initialMs: 200, maxMs: 30_000 },
    log,
    onFatalError: (err) => {
      log.fatal({ err }, "the registration consumer stopped for good; exiting so that it is restarted");
      process.exit(1);
    },
    handle: registrationHandler({
      mapper,
      publisher,
      mappingTopic: config.mappingTopic,
      dlqTopic: config.dlqTopic,
      rules: { maxBytes: config.mapUidMaxBytes, pattern: config.mapUidPattern },
      log,
      onBatch: (b) => {
        totals.messages += b.messages;
        totals.mapped += b.mapped;
        totals.created += b.created;
        totals.deadLettered += b.deadLettered;
        log.debug(b, "batch mapped");
        opts.onBatch?.(b);
      },
    }),
  });
  const measureLag = async (): Promise<void> => {
    const [ends, [committed]] = await Promise.all([
      admin.fetchTopicOffsets(config.registrationTopic),
      admin.fetchOffsets({ groupId: config.consumerGroup, topics: [config.registrationTopic] }),
    ]);
    for (const end of ends) {
      const c = Number(committed?.partitions.find((p) => p.partition === end.partition)?.offset ?? -1);
      opts.onLag?.(end.partition, Math.max(0, Number(end.high) - (c < 0 ? Number(end.low) : c)));
    }
  };
  let lagTimer: NodeJS.Timeout | undefined;
  return {
    totals,
    async start() {
      await publisher.connect();
      await consumer.start();
      if (opts.onLag) {
        await admin.connect();
        lagTimer = setInterval(
          () => void measureLag().catch((err: unknown) => log.debug({ err }, "lag not measured")),
          15_000,
        );
        lagTimer.unref();
      }
      log.info({ topic: config.registrationTopic, group: config.consumerGroup }, "consuming registrations");
    },
    async stop() {
      if (lagTimer) clearInterval(lagTimer);
      await consumer.stop();
      await publisher.disconnect().catch(() => undefined);
      if (opts.onLag) await admin.disconnect().catch(() => undefined);
    },
  };
}
