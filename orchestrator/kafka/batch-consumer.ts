// A consumer group member for one topic that hands whole batches to a handler and commits each batch
// only once the handler has resolved: at-least-once delivery, never a skipped message.
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage, RetryOptions } from "kafkajs";
import type { Logger } from "pino";
import { logger } from "../log.js";
import { KafkaError, KafkaHandlerError, errorMessage, isRetriableKafkaError } from "./errors.js";
import { backoffDelay, type Backoff } from "../util/backoff.js";

/** The messages of one partition fetched together, in offset order. */
export interface ConsumedBatch {
  topic: string;
  partition: number;
  messages: KafkaMessage[];
}

/**
 * Processes a batch; resolves when every message in it is done with (applied, or dead-lettered).
 *
 * Contract:
 * - It must be idempotent: delivery is at least once. A batch is redelivered after a crash, a rebalance
 *   or a failed commit, in whole, even if the handler had finished it.
 * - Bad input is NOT an error: a malformed message goes to the dead-letter topic (deadLetterRecord +
 *   RecordPublisher) inside the handler, which then resolves. Throwing is for failures of the handler's
 *   own dependencies (Redis, the producer).
 * - An error with `retriable === true` (BitsyncError and kafkajs errors carry the flag) makes the consumer
 *   retry the same batch with backoff while it heartbeats.
 * - Any other error (or running out of `maxAttempts`) is logged and handed to kafkajs as KafkaHandlerError:
 *   kafkajs redelivers the batch a few times in place, then restarts the consumer (leaves and rejoins the
 *   group), and so on. A batch that always fails therefore stops its partition, on purpose: nothing is
 *   committed past it. That is why bad input must never throw.
 */
export type BatchHandler = (batch: ConsumedBatch) => Promise<void>;

/** Retry of a batch whose handler threw a retriable error. */
export interface BatchRetryOptions extends Backoff {
  /** Handler calls per batch before it is treated as non-retriable (default: no limit). */
  maxAttempts?: number;
}

export interface BatchConsumerOptions {
  kafka: Kafka;
  groupId: string;
  topic: string;
  /** Where a group without a committed offset starts: the earliest (true) or the latest (default) offset. */
  fromBeginning?: boolean;
  handle: BatchHandler;
  retry: BatchRetryOptions;
  log?: Logger;
  /** Time the group waits for a silent member before it reassigns its partitions, ms (default 30000). */
  sessionTimeout?: number;
  /** Time members have to rejoin during a rebalance, ms (default 60000). */
  rebalanceTimeout?: number;
  /** Heartbeat interval, ms (default 3000); also heartbeats while the handler runs and between retries. */
  heartbeatInterval?: number;
  /** Longest time a fetch waits for new messages, ms (default 1000). */
  maxWaitTimeInMs?: number;
  /** Most bytes fetched per partition and fetch, which bounds a batch (kafkajs default 1 MiB). */
  maxBytesPerPartition?: number;
  /** Partitions whose batches are handled at the same time (default 1). */
  partitionsConsumedConcurrently?: number;
  /** kafkajs' own retry of the consumer (fetches, commits, in-place redelivery), merged over the client's. */
  kafkaRetry?: Omit<RetryOptions, "restartOnFailure">;
  /**
   * Called when the consumer crashed and kafkajs will not restart it (an error kafkajs deems permanent,
   * e.g. authorization): the partitions are no longer consumed. A service should exit and be restarted.
   */
  onFatalError?: (err: Error) => void;
}

type State = "new" | "running" | "stopping" | "stopped";

/**
 * A kafkajs consumer of one topic in one group, built on eachBatch with eachBatchAutoResolve and autoCommit
 * off. For each batch it calls `handle`; once that resolves it commits offset last + 1 for the partition
 * (explicitly, even while stopping), resolves the offset so fetching moves on, and heartbeats. See
 * BatchHandler for what the handler may throw.
 *
 * `stop()` is the graceful shutdown: no new batch starts, the batch in flight finishes and is committed
 * (one waiting between retries is left uncommitted instead, for the next owner of the partition), then
 * the consumer leaves the group and disconnects.
 */
export class BatchConsumer {
  private readonly consumer: Consumer;
  private readonly topic: string;
  private readonly groupId: string;
  private readonly fromBeginning: boolean;
  private readonly handle: BatchHandler;
  private readonly retry: BatchRetryOptions;
  private readonly heartbeatInterval: number;
  private readonly partitionsConsumedConcurrently: number;
  private readonly log: Logger;
  private state: State = "new";
  private stopPromise: Promise<void> | undefined;
  /** Resolvers of the backoff sleeps in progress, called by stop() to cut them short. */
  private readonly sleepers = new Set<() => void>();
  #lastContact = Date.now();

  constructor(options: BatchConsumerOptions) {
    const { initialMs, maxMs, maxAttempts } = options.retry;
    if (!(initialMs > 0) || !(maxMs >= initialMs)) {
      throw new RangeError(`BatchConsumer: retry needs 0 < initialMs <= maxMs, got ${initialMs} and ${maxMs}`);
    }
    if (maxAttempts !== undefined && !(Number.isInteger(maxAttempts) && maxAttempts >= 1)) {
      throw new RangeError(`BatchConsumer: retry.maxAttempts must be an integer >= 1, got ${maxAttempts}`);
    }
    this.topic = options.topic;
    this.groupId = options.groupId;
    this.fromBeginning = options.fromBeginning ?? false;
    this.handle = options.handle;
    this.retry = options.retry;
    this.heartbeatInterval = options.heartbeatInterval ?? 3000;
    this.partitionsConsumedConcurrently = options.partitionsConsumedConcurrently ?? 1;
    this.log = (options.log ?? logger("kafka")).child({ groupId: options.groupId, topic: options.topic });
    this.consumer = options.kafka.consumer({
      groupId: options.groupId,
      sessionTimeout: options.sessionTimeout ?? 30_000,
      rebalanceTimeout: options.rebalanceTimeout ?? 60_000,
      heartbeatInterval: this.heartbeatInterval,
      maxWaitTimeInMs: options.maxWaitTimeInMs ?? 1000,
      ...(options.maxBytesPerPartition !== undefined ? { maxBytesPerPartition: options.maxBytesPerPartition } : {}),
      retry: {
        retries: 5,
        ...options.kafkaRetry,
        // kafkajs asks this before restarting a crashed consumer: never once we are stopping, or a
        // restart racing stop() would rejoin the group after we left it.
        restartOnFailure: async (err: Error) => {
          const restart = this.state === "running";
          this.log.error({ err, restart }, restart ? "consumer crashed; kafkajs restarts it" : "consumer crashed");
          return restart;
        },
      },
    });
    // Each of these needs an answer of the brokers: together they tell a consumer that is only
    // idle (an empty fetch every maxWaitTimeInMs) from one that reaches no broker.
    const { FETCH, HEARTBEAT, GROUP_JOIN, COMMIT_OFFSETS } = this.consumer.events;
    for (const e of [FETCH, HEARTBEAT, GROUP_JOIN, COMMIT_OFFSETS]) {
      this.consumer.on(e, () => void (this.#lastContact = Date.now()));
    }
    this.consumer.on(this.consumer.events.CRASH, ({ payload }) => {
      if (payload.restart || this.state !== "running") return;
      this.log.error({ err: payload.error }, "consumer crashed and kafkajs will not restart it: nothing is consumed");
      options.onFatalError?.(payload.error);
    });
  }

  /** When the brokers last answered this consumer (a fetch, heartbeat, join or commit), ms since the epoch. */
  get lastContactAt(): number {
    return this.#lastContact;
  }

  /** Connects, joins the group and starts consuming. kafkajs keeps it running (rejoining, restarting). */
  async start(): Promise<void> {
    if (this.state !== "new")
      throw new KafkaError(`BatchConsumer of ${this.topic}: start() can be called once, and not after stop()`);
    this.state = "running";
    try {
      await this.consumer.connect();
      await this.consumer.subscribe({ topics: [this.topic], fromBeginning: this.fromBeginning });
      await this.consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: this.partitionsConsumedConcurrently,
        eachBatch: (payload) => this.onBatch(payload),
      });
    } catch (err) {
      this.state = "stopped";
      await this.consumer.disconnect().catch(() => undefined);
      throw new KafkaError(
        `could not start the consumer of ${this.topic} in group ${this.groupId}: ${errorMessage(err)}`,
        {
          cause: err,
          retriable: isRetriableKafkaError(err),
        },
      );
    }
    if (this.state === "running") this.log.info("consumer started");
  }

  /**
   * Graceful shutdown: lets the batch in flight finish and commit, then leaves the group and disconnects.
   * Idempotent. It waits for the handler however long it takes.
   */
  stop(): Promise<void> {
    if (this.state === "new") this.state = "stopped";
    if (this.state === "stopped" && this.stopPromise === undefined) return Promise.resolve();
    this.stopPromise ??= (async () => {
      this.state = "stopping";
      for (const wake of this.sleepers) wake();
      try {
        await this.consumer.disconnect();
      } finally {
        this.state = "stopped";
      }
      this.log.info("consumer stopped");
    })();
    return this.stopPromise;
  }

  private async onBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const { topic, partition, messages } = batch;
    if (messages.length === 0) return;
    const abandoned = (): boolean => this.state !== "running" || !payload.isRunning() || payload.isStale();
    if (abandoned()) return;
    const firstOffset = messages[0]!.offset;
    // The batch's last offset, past any control records kafkajs filtered out of `messages`.
    const lastOffset = batch.lastOffset();
    const where = { partition, firstOffset, lastOffset, messages: messages.length };

    for (let attempt = 1; ; attempt++) {
      let failure: { err: unknown } | undefined;
      try {
        await this.withHeartbeats(payload, () => this.handle({ topic, partition, messages }));
      } catch (err) {
        failure = { err };
      }
      if (failure === undefined) break;
      const { err } = failure;
      const retriable = (err as { retriable?: unknown } | null)?.retriable === true;
      const exhausted = this.retry.maxAttempts !== undefined && attempt >= this.retry.maxAttempts;
      if (!retriable || exhausted) {
        this.log.error(
          { ...where, attempt, err, retriable },
          `batch handler failed${exhausted && retriable ? " on its last attempt" : ""}: batch not committed; ` +
            `kafkajs redelivers it and restarts the consumer`,
        );
        throw new KafkaHandlerError(
          `handler of ${topic}[${partition}] offsets ${firstOffset}..${lastOffset} failed: ${errorMessage(err)}`,
          topic,
          partition,
          firstOffset,
          lastOffset,
          { cause: err },
        );
      }
      const delayMs = backoffDelay(attempt, this.retry); // initialMs doubled per attempt, capped, jittered
      this.log.warn({ ...where, attempt, delayMs, err }, "batch handler failed (retriable); retrying the batch");
      if (!(await this.backoff(payload, delayMs, abandoned))) {
        this.log.warn(where, "consumer stopping: batch left uncommitted, the next owner of the partition gets it");
        return;
      }
    }

    // Commit through the payload: it reaches the group coordinator even while kafkajs is stopping
    // (consumer.commitOffsets() silently does nothing then), so stop() keeps the batch in flight.
    const next = (BigInt(lastOffset) + 1n).toString();
    await payload.commitOffsetsIfNecessary({ topics: [{ topic, partitions: [{ partition, offset: next }] }] });
    payload.resolveOffset(lastOffset);
    this.log.debug({ ...where, committed: next }, "batch committed");
    await payload.heartbeat();
  }

  /** Runs `fn` while heartbeating, so a slow handler keeps its group membership. */
  private async withHeartbeats<T>(payload: EachBatchPayload, fn: () => Promise<T>): Promise<T> {
    const timer = setInterval(() => {
      // A failed heartbeat (a rebalance) is not the handler's failure: the commit or the heartbeat after
      // the batch runs into it again and kafkajs rejoins then.
      payload.heartbeat().catch((err: unknown) => this.log.debug({ err }, "heartbeat during handler failed"));
    }, this.heartbeatTick());
    try {
      return await fn();
    } finally {
      clearInterval(timer);
    }
  }

  /** Sleeps `ms` in heartbeat-sized steps; false as soon as the batch is abandoned (stopping, stale). */
  private async backoff(payload: EachBatchPayload, ms: number, abandoned: () => boolean): Promise<boolean> {
    const until = Date.now() + ms;
    for (;;) {
      if (abandoned()) return false;
      const left = until - Date.now();
      if (left <= 0) return true;
      await this.sleep(Math.min(left, this.heartbeatTick()));
      if (abandoned()) return false;
      await payload.heartbeat();
    }
  }

  /**
   * How often to call heartbeat() while a batch is held: kafkajs sends one only when heartbeatInterval has
   * passed since the last, so ticking at half the interval keeps the gap near the interval, not twice it.
   */
  private heartbeatTick(): number {
    return Math.max(50, Math.floor(this.heartbeatInterval / 2));
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.sleepers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.sleepers.add(done);
    });
  }
}
