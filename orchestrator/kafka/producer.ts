// Publishing records to Kafka: every record acknowledged by all in-sync replicas, or a typed error.
import { Partitioners, type Kafka, type Message, type Producer } from "kafkajs";
import type { Logger } from "pino";
import { logger } from "../log.js";
import { KafkaPublishError, errorMessage, isRetriableKafkaError } from "./errors.js";

/** One record to publish. A null key spreads records over partitions; a null value is a tombstone. */
export interface PublishRecord {
  key: string | Buffer | null;
  value: string | Buffer | null;
  headers?: Record<string, string | Buffer>;
}

export interface RecordPublisherOptions {
  /**
   * Records per produce call (default 1000): kafkajs groups a call's records by partition in time
   * quadratic in their count (copying the array per record), so large calls are slower per record.
   */
  chunkSize?: number;
  /** Produce calls in flight at once for one publish() (default 8; 1 when idempotent). */
  maxParallelSends?: number;
  /** Time the brokers have to replicate a produce request (acks -1), ms (default 30000). */
  ackTimeoutMs?: number;
  /**
   * kafkajs' idempotent producer (default false). It allows one request in flight, so chunks are sent
   * one after the other.
   */
  idempotent?: boolean;
  log?: Logger;
}

/**
 * A kafkajs producer that publishes arrays of records of any size: `publish` resolves once every record is
 * acknowledged by all in-sync replicas (acks -1), and rejects with KafkaPublishError otherwise. Topics are
 * auto-created on first use (allowAutoTopicCreation).
 *
 * Large arrays are cut into chunks sent in parallel. Delivery is at least once: after a failure some
 * chunks may be written, and a caller that retries writes them again. Records of one key keep their order
 * within a chunk; across chunks in flight together they may be reordered if kafkajs retries one of them,
 * so a topic where the order of one key's records matters needs `maxParallelSends: 1`.
 */
export class RecordPublisher {
  private readonly producer: Producer;
  private readonly chunkSize: number;
  private readonly maxParallelSends: number;
  private readonly ackTimeoutMs: number;
  private readonly log: Logger;
  private connected = false;

  constructor(kafka: Kafka, options: RecordPublisherOptions = {}) {
    const idempotent = options.idempotent ?? false;
    this.chunkSize = positiveInteger(options.chunkSize ?? 1000, "chunkSize");
    this.maxParallelSends = idempotent ? 1 : positiveInteger(options.maxParallelSends ?? 8, "maxParallelSends");
    this.ackTimeoutMs = positiveInteger(options.ackTimeoutMs ?? 30_000, "ackTimeoutMs");
    this.log = options.log ?? logger("kafka");
    this.producer = kafka.producer({
      allowAutoTopicCreation: true,
      idempotent,
      // The Java client's murmur2 partitioner (kafkajs' default since 2.0): the same key lands on the
      // same partition as with any other Kafka client. Naming it silences kafkajs' warning about it.
      createPartitioner: Partitioners.DefaultPartitioner,
      ...(idempotent ? { maxInFlightRequests: 1 } : {}),
    });
  }

  async connect(): Promise<void> {
    try {
      await this.producer.connect();
    } catch (err) {
      throw new KafkaPublishError(`could not connect the Kafka producer: ${errorMessage(err)}`, {
        cause: err,
        retriable: isRetriableKafkaError(err),
      });
    }
    this.connected = true;
  }

  /** Publishes `records` to `topic`; resolves once every one is acknowledged. */
  async publish(topic: string, records: readonly PublishRecord[]): Promise<void> {
    if (!this.connected) {
      throw new KafkaPublishError(`cannot publish to ${topic}: the producer is not connected`, { topic });
    }
    if (records.length === 0) return;
    const started = Date.now();
    const chunks: Message[][] = [];
    for (let i = 0; i < records.length; i += this.chunkSize) {
      // PublishRecord is a kafkajs Message already: no copy of keys, values or headers.
      chunks.push(records.slice(i, i + this.chunkSize) as Message[]);
    }
    let next = 0;
    let failed = false;
    let failure: unknown;
    const sendChunks = async (): Promise<void> => {
      while (!failed && next < chunks.length) {
        const messages = chunks[next++]!;
        try {
          await this.producer.send({ topic, messages, acks: -1, timeout: this.ackTimeoutMs });
        } catch (err) {
          if (!failed) failure = err;
          failed = true;
        }
      }
    };
    // Each worker sends one chunk at a time; a failure stops the others from starting new chunks, and
    // publish rejects only after every chunk in flight has settled (no send outlives the call).
    await Promise.all(Array.from({ length: Math.min(this.maxParallelSends, chunks.length) }, sendChunks));
    if (failed) {
      const retriable = isRetriableKafkaError(failure);
      this.log.warn(
        { topic, records: records.length, err: failure, retriable },
        "publishing to Kafka failed; some records may have been written",
      );
      throw new KafkaPublishError(`could not publish ${records.length} records to ${topic}: ${errorMessage(failure)}`, {
        cause: failure,
        retriable,
        topic,
      });
    }
    this.log.debug({ topic, records: records.length, chunks: chunks.length, ms: Date.now() - started }, "published");
  }

  async disconnect(): Promise<void> {
    this.connected = false;
    await this.producer.disconnect();
  }
}

function positiveInteger(v: number, name: string): number {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`RecordPublisher: ${name} must be a positive integer`);
  return v;
}
