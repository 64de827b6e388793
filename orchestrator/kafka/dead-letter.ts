// Dead-letter records: a message that cannot be processed, kept byte for byte with why and where from.
import type { PublishRecord } from "./producer.js";

/** Headers of a dead-letter record (values are UTF-8 strings). */
export const DEAD_LETTER_HEADERS = {
  /** Why the message was rejected. */
  reason: "bitsync-reason",
  sourceTopic: "bitsync-source-topic",
  /** Decimal partition number. */
  sourcePartition: "bitsync-source-partition",
  /** Decimal offset. */
  sourceOffset: "bitsync-source-offset",
  /** The source message's own timestamp, ms since the epoch as Kafka gives it. */
  sourceTimestamp: "bitsync-source-timestamp",
  /** When it was rejected, ISO 8601 UTC. */
  failedAt: "bitsync-failed-at",
} as const;

/** Longest reason kept, in characters: a header is no place for a whole stack or payload dump. */
export const MAX_REASON_LENGTH = 1000;

/** The parts of a consumed message a dead-letter record keeps (a kafkajs KafkaMessage plus where it came from). */
export interface SourceMessage {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  timestamp: string;
}

/**
 * The dead-letter record of `msg`: its key and value unchanged (the same Buffers, not copies), the reason
 * and the source coordinates in headers. Publish it with RecordPublisher to the DLQ topic.
 */
export function deadLetterRecord(msg: SourceMessage, reason: string, failedAt: Date = new Date()): PublishRecord {
  const why = reason.length > MAX_REASON_LENGTH ? `${reason.slice(0, MAX_REASON_LENGTH - 1)}…` : reason;
  return {
    key: msg.key,
    value: msg.value,
    headers: {
      [DEAD_LETTER_HEADERS.reason]: why,
      [DEAD_LETTER_HEADERS.sourceTopic]: msg.topic,
      [DEAD_LETTER_HEADERS.sourcePartition]: String(msg.partition),
      [DEAD_LETTER_HEADERS.sourceOffset]: msg.offset,
      [DEAD_LETTER_HEADERS.sourceTimestamp]: msg.timestamp,
      [DEAD_LETTER_HEADERS.failedAt]: failedAt.toISOString(),
    },
  };
}
