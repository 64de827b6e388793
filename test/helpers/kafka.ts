// Reading a topic back in tests: every record from the beginning, through a consumer group of
// its own, until a condition holds.
import { Kafka, logLevel, type KafkaMessage } from "kafkajs";
import { stackEnv, uniqueName } from "./stack.js";

export function testKafka(): Kafka {
  return new Kafka({ clientId: "bitsync-test", brokers: stackEnv().kafkaBrokers, logLevel: logLevel.NOTHING });
}

/** Records of `topic` from offset 0 until `enough(records)` holds (or the timeout fails the test). */
export async function readTopic(
  topic: string,
  enough: (records: KafkaMessage[]) => boolean,
  timeoutMs = 60_000,
): Promise<KafkaMessage[]> {
  const consumer = testKafka().consumer({
    groupId: uniqueName("read"),
    sessionTimeout: 6000,
    rebalanceTimeout: 3000,
    heartbeatInterval: 500,
    maxWaitTimeInMs: 100,
  });
  const records: KafkaMessage[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out after ${timeoutMs} ms reading ${topic}: ${records.length} records`)),
        timeoutMs,
      );
      void consumer.run({
        eachBatch: async ({ batch }) => {
          records.push(...batch.messages);
          if (enough(records)) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return records;
}
