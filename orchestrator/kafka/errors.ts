// Errors of the Kafka plumbing, and the one place that reads kafkajs' own `retriable` flag.
import { BitsyncError } from "../errors.js";

/** Base of the Kafka errors; `retriable` comes from the kafkajs error that caused it. */
export class KafkaError extends BitsyncError {
  override readonly retriable: boolean = false;
  constructor(message: string, options?: ErrorOptions & { retriable?: boolean }) {
    super(message, options);
    this.retriable = options?.retriable ?? false;
  }
}

/**
 * Records could not be published (or the producer could not connect). Some records of the call may have
 * been written: a caller that retries publishes them again (at least once). `retriable` is kafkajs'
 * verdict on the cause: true for broker, network and timeout trouble, false for e.g. a record too large.
 */
export class KafkaPublishError extends KafkaError {
  /** The topic published to; null when connecting failed. */
  readonly topic: string | null;
  constructor(message: string, options?: ErrorOptions & { retriable?: boolean; topic?: string }) {
    super(message, options);
    this.topic = options?.topic ?? null;
  }
}

/**
 * A batch handler failed with an error that retrying in place will not fix (or ran out of attempts).
 * BatchConsumer throws it to kafkajs, which redelivers the batch and then restarts the consumer (it leaves
 * and rejoins the group); the batch is not committed. `retriable` is true because that is what kafkajs
 * reads to decide on a restart: the handler's own error is the `cause`.
 */
export class KafkaHandlerError extends KafkaError {
  constructor(
    message: string,
    readonly topic: string,
    readonly partition: number,
    readonly firstOffset: string,
    readonly lastOffset: string,
    options: ErrorOptions,
  ) {
    super(message, { ...options, retriable: true });
  }
}

interface KafkaJSLike {
  name?: unknown;
  retriable?: unknown;
  cause?: unknown;
  errors?: unknown;
}

/**
 * Whether the operation that threw `err` (a kafkajs error) may work if tried again later. kafkajs wraps
 * the last error of its own retries in KafkaJSNumberOfRetriesExceeded, which says retriable: false only
 * because kafkajs itself stopped trying: its cause decides. Errors that are not kafkajs' (a TypeError from
 * a bad argument) are not retriable.
 */
export function isRetriableKafkaError(err: unknown): boolean {
  if (typeof err !== "object" || err === null) return false;
  const e = err as KafkaJSLike;
  if (e.name === "KafkaJSNumberOfRetriesExceeded" && e.cause !== undefined && e.cause !== err) {
    return isRetriableKafkaError(e.cause);
  }
  if (e.name === "KafkaJSAggregateError" && Array.isArray(e.errors) && e.errors.length > 0) {
    return e.errors.every((inner) => isRetriableKafkaError(inner));
  }
  if (typeof e.name === "string" && e.name.startsWith("KafkaJS")) return e.retriable === true;
  return false;
}

/** The message of an unknown thrown value. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
