// The registration consumer as a unit: a Kafka consumer group member on the registration topic,
// the mapping handler, the publisher of mappings and dead letters, and the lag it measures.
// `bitsync map consume` runs it alone; `bitsync serve` runs it beside the HTTP API.
import type { Logger } from "pino";
import { BitsyncError } from "../errors.js";
import type { Config } from "../config/config.js";
import { BatchConsumer } from "../kafka/batch-consumer.js";
import type { Kafka } from "kafkajs";
import { RecordPublisher } from "../kafka/producer.js";
import { registrationHandler } from "./consumer.js";
import type { IdMapper } from "./mapper.js";

export interface BatchTotals {
  messages: number;
  mapped: number;
  created: number;
  deadLettered: number;
}

/**
 * running: the brokers answer; retrying: none has answered lately, kafkajs keeps trying; stopped:
 * stopped, or gave up after BITSYNC_KAFKA_GIVE_UP_MS without an answer.
 */
export type ConsumerState = "starting" | "running" | "retrying" | "stopped";

/** No broker answered the consumer for BITSYNC_KAFKA_GIVE_UP_MS: it stopped. */
export class ConsumerGaveUpError extends BitsyncError {}

export interface RegistrationConsumerOptions {
  onBatch?: (batch: BatchTotals) => void;
  /** Called once when the consumer gives up on unreachable brokers (it stops itself). */
  onGiveUp?: (err: ConsumerGaveUpError) => void;
  /** Called on every change of state. */
  onState?: (state: ConsumerState) => void;
  /** Called with each partition's lag (end offset - committed), every 15 s. */
  onLag?: (partition: number, lag: number) => void;
}

export interface RegistrationConsumer {
  readonly totals: BatchTotals;
  readonly state: ConsumerState;
  /** Connects, joins the group and starts consuming. */
  start(): Promise<void>;
  /** Finishes and commits the batch in flight, leaves the group, disconnects. */
  stop(): Promise<void>;
}

/** `mapping`: the mapper and the process's Kafka client (runtime/resources.ts). */
export function createRegistrationConsumer(
  config: Config,
  mapping: { mapper: IdMapper; kafka: Kafka },
  log: Logger,
  opts: RegistrationConsumerOptions = {},
): RegistrationConsumer {
  const { mapper, kafka } = mapping;
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
    partitionsConsumedConcurrently: config.consumerConcurrency,
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
      mappingsPerMessage: config.mappingsPerMessage,
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
  let watchdog: NodeJS.Timeout | undefined;
  let state: ConsumerState = "starting";
  let gaveUp = false;
  const setState = (next: ConsumerState): void => {
    if (next === state) return;
    state = next;
    opts.onState?.(next);
  };
  const giveUpMs = config.kafkaGiveUpMs;
  // An idle consumer hears from the brokers every second (empty fetches); a busy one at every
  // heartbeat. Silence past a few heartbeats means no broker answers.
  const quietMs = Math.max(5000, 3 * Math.max(300, Math.floor(session / 10)));
  const retryingAfterMs = giveUpMs > 0 ? Math.min(quietMs, giveUpMs / 2) : quietMs;
  const watch = (): void => {
    if (state === "stopped" || state === "starting") return;
    const silentMs = Date.now() - consumer.lastContactAt;
    if (giveUpMs > 0 && silentMs >= giveUpMs) {
      gaveUp = true;
      const err = new ConsumerGaveUpError(
        `no Kafka broker of ${config.kafkaBrokers.join(",")} answered the registration consumer for ` +
          `${Math.round(silentMs / 1000)} s (BITSYNC_KAFKA_GIVE_UP_MS=${giveUpMs}): it stopped; nothing is ` +
          `mapped from ${config.registrationTopic} until it is started again`,
      );
      log.error({ err, silentMs }, "the registration consumer gave up: the brokers are unreachable");
      setState("stopped");
      clearInterval(watchdog);
      void consumer.stop().catch(() => undefined);
      opts.onGiveUp?.(err);
      return;
    }
    const next = silentMs >= retryingAfterMs ? "retrying" : "running";
    if (next !== state) {
      if (next === "retrying") log.warn({ silentMs }, "no Kafka broker answers the registration consumer; retrying");
      else log.info("the Kafka brokers answer the registration consumer again");
    }
    setState(next);
  };
  return {
    totals,
    get state() {
      return state;
    },
    async start() {
      await publisher.connect();
      await consumer.start();
      setState("running");
      watchdog = setInterval(watch, Math.max(100, Math.min(1000, Math.floor(retryingAfterMs / 4))));
      watchdog.unref();
      if (opts.onLag) {
        await admin.connect();
        lagTimer = setInterval(
          () =>
            state === "running" && void measureLag().catch((err: unknown) => log.debug({ err }, "lag not measured")),
          15_000,
        );
        lagTimer.unref();
      }
      log.info({ topic: config.registrationTopic, group: config.consumerGroup }, "consuming registrations");
    },
    async stop() {
      if (lagTimer) clearInterval(lagTimer);
      clearInterval(watchdog);
      setState("stopped");
      // After giving up, leaving the group cannot reach a broker: do not wait for it.
      const stopped = consumer.stop();
      if (gaveUp) await Promise.race([stopped.catch(() => undefined), delay(1000)]);
      else await stopped;
      await publisher.disconnect().catch(() => undefined);
      if (opts.onLag) await admin.disconnect().catch(() => undefined);
    },
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
