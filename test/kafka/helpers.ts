// Shared by the Kafka suites: a client on the stack's mock cluster, raw reads and offset checks.
import type { Admin, Kafka, KafkaMessage } from "kafkajs";
import { afterAll, beforeAll } from "vitest";
import type { BatchConsumer } from "../../orchestrator/kafka/batch-consumer.js";
import { RecordPublisher } from "../../orchestrator/kafka/producer.js";
import { pino, type Logger } from "pino";
import { createKafka } from "../../orchestrator/kafka/client.js";
import { stackEnv, uniqueName, waitFor } from "../helpers/stack.js";

/** Quiet unless BITSYNC_TEST_KAFKA_LOG names a level (the failure tests make kafkajs log errors on purpose). */
export const testLog: Logger = pino({ level: process.env.BITSYNC_TEST_KAFKA_LOG ?? "silent" }, pino.destination(2));

export function testKafka(): Kafka {
  // Fail fast on a dead broker instead of the service's minute of retries.
  return createKafka(
    { brokers: stackEnv().kafkaBrokers, clientId: "bitsync-test", retry: { retries: 3, maxRetryTime: 2000 } },
    testLog,
  );
}

/**
 * A client, an admin and a publisher on the stack's cluster for one test file, connected before its
 * tests; after them, every consumer the tests pushed to `consumers` is stopped and all disconnect.
 */
export function kafkaFixture(): { kafka: Kafka; admin: Admin; publisher: RecordPublisher; consumers: BatchConsumer[] } {
  const kafka = testKafka();
  const admin = kafka.admin();
  const publisher = new RecordPublisher(kafka, { log: testLog });
  const consumers: BatchConsumer[] = [];
  beforeAll(async () => {
    await admin.connect();
    await publisher.connect();
  });
  afterAll(async () => {
    await Promise.all(consumers.map((c) => c.stop()));
    await publisher.disconnect();
    await admin.disconnect();
  });
  return { kafka, admin, publisher, consumers };
}

/**
 * Group timings for the mock cluster. Its coordinator delays the first join of an empty group by 3 s
 * (the broker's group.initial.rebalance.delay.ms), or by the rebalance timeout if that is longer, and it
 * drops a joining member whose session timeout is shorter than that delay: so a session of 6 s and a
 * rebalance timeout of at most 3 s.
 */
export const GROUP_TIMING = {
  sessionTimeout: 6000,
  rebalanceTimeout: 3000,
  heartbeatInterval: 500,
  maxWaitTimeInMs: 100,
};

export interface ReadMessage {
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer>;
}

/** Reads `count` messages of `topic` from the beginning with a plain kafkajs consumer in a new group. */
export async function readAll(kafka: Kafka, topic: string, count: number, timeoutMs = 30_000): Promise<ReadMessage[]> {
  const consumer = kafka.consumer({ groupId: uniqueName("read"), ...GROUP_TIMING });
  const out: ReadMessage[] = [];
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) out.push({ partition: batch.partition, ...plain(m) });
      },
    });
    await waitFor(`${count} messages of ${topic}`, () => (out.length >= count ? true : undefined), timeoutMs);
  } finally {
    await consumer.disconnect();
  }
  return out;
}

function plain(m: KafkaMessage): Omit<ReadMessage, "partition"> {
  const headers: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries(m.headers ?? {})) {
    if (Buffer.isBuffer(v)) headers[k] = v;
    else if (v !== undefined) throw new Error(`header ${k} is not one Buffer`);
  }
  return { offset: m.offset, key: m.key, value: m.value, headers };
}

/** partition → committed offset of `groupId` (-1: none). */
export async function committedOffsets(admin: Admin, groupId: string, topic: string): Promise<Map<number, bigint>> {
  const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return new Map((t?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
}

/** partition → end offset (high watermark) of `topic`. */
export async function endOffsets(admin: Admin, topic: string): Promise<Map<number, bigint>> {
  const parts = await admin.fetchTopicOffsets(topic);
  return new Map(parts.map((p) => [p.partition, BigInt(p.high)]));
}

/** Offsets as { partition: offset }, partitions at 0 or without one (-1) left out, for readable assertions. */
export function asRecord(offsets: Map<number, bigint>): Record<number, string> {
  const out: Record<number, string> = {};
  for (const [p, o] of [...offsets].sort((a, b) => a[0] - b[0])) if (o > 0n) out[p] = o.toString();
  return out;
}
