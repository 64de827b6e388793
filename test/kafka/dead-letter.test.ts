// Dead-letter records keep the original bytes and say why and where from, also after a trip through Kafka:
// a BatchConsumer's handler dead-letters malformed messages and resolves, as the mapper will.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BatchConsumer } from "../../orchestrator/kafka/batch-consumer.js";
import { DEAD_LETTER_HEADERS, MAX_REASON_LENGTH, deadLetterRecord } from "../../orchestrator/kafka/dead-letter.js";
import { RecordPublisher, type PublishRecord } from "../../orchestrator/kafka/producer.js";
import { uniqueName, waitFor } from "../helpers/stack.js";
import { GROUP_TIMING, asRecord, committedOffsets, endOffsets, readAll, testKafka, testLog } from "./helpers.js";

describe("deadLetterRecord", () => {
  it("keeps key and value as they were and adds the reason and source in headers", () => {
    const key = Buffer.from("uid-7");
    const value = Buffer.from([0x7b, 0xff, 0x00, 0xfe]); // "{" then bytes that are not UTF-8
    const failedAt = new Date("2026-11-22T08:00:00.123Z");
    const r = deadLetterRecord(
      { topic: "user-registered", partition: 3, offset: "12345678901234", key, value, timestamp: "1795330000000" },
      "not JSON",
      failedAt,
    );
    expect(r.key).toBe(key);
    expect(r.value).toBe(value);
    expect(r.headers).toEqual({
      "bitsync-reason": "not JSON",
      "bitsync-source-topic": "user-registered",
      "bitsync-source-partition": "3",
      "bitsync-source-offset": "12345678901234",
      "bitsync-source-timestamp": "1795330000000",
      "bitsync-failed-at": "2026-11-22T08:00:00.123Z",
    });
  });

  it("keeps a null key and value null, and cuts an overlong reason", () => {
    const r = deadLetterRecord(
      { topic: "t", partition: 0, offset: "0", key: null, value: null, timestamp: "0" },
      "x".repeat(5000),
    );
    expect(r.key).toBeNull();
    expect(r.value).toBeNull();
    const reason = r.headers![DEAD_LETTER_HEADERS.reason] as string;
    expect(reason).toHaveLength(MAX_REASON_LENGTH);
    expect(reason.endsWith("…")).toBe(true);
    expect(Date.parse(r.headers![DEAD_LETTER_HEADERS.failedAt] as string)).not.toBeNaN();
  });
});

describe("dead-lettering through Kafka", () => {
  const kafka = testKafka();
  const publisher = new RecordPublisher(kafka, { log: testLog });
  const admin = kafka.admin();
  let consumer: BatchConsumer | undefined;
  beforeAll(async () => {
    await publisher.connect();
    await admin.connect();
  });
  afterAll(async () => {
    await consumer?.stop();
    await publisher.disconnect();
    await admin.disconnect();
  });

  it("a handler sends malformed messages to the DLQ byte for byte, and the batch is committed", async () => {
    const source = uniqueName("reg");
    const dlq = uniqueName("reg.dlq");
    const good = (i: number): PublishRecord => ({ key: `u${i}`, value: JSON.stringify({ uid: `u${i}`, corpId: "c" }) });
    const bad: PublishRecord[] = [
      { key: "u-bin", value: Buffer.from([0x00, 0xff, 0x80, 0x7b]) },
      { key: null, value: "{not json" },
      { key: Buffer.from([0xde, 0xad]), value: "" },
    ];
    const records = [good(1), bad[0]!, good(2), bad[1]!, good(3), bad[2]!];
    await publisher.publish(source, records);

    const applied: string[] = [];
    const groupId = uniqueName("g");
    consumer = new BatchConsumer({
      kafka,
      groupId,
      topic: source,
      fromBeginning: true,
      retry: { initialMs: 100, maxMs: 1000 },
      log: testLog,
      ...GROUP_TIMING,
      handle: async ({ topic, partition, messages }) => {
        const dead: PublishRecord[] = [];
        for (const m of messages) {
          try {
            const v = JSON.parse(m.value?.toString("utf8") ?? "") as { uid?: unknown };
            if (typeof v.uid !== "string") throw new Error("no uid");
            applied.push(v.uid);
          } catch (err) {
            dead.push(
              deadLetterRecord({ topic, partition, ...m }, `malformed registration: ${(err as Error).message}`),
            );
          }
        }
        await publisher.publish(dlq, dead);
      },
    });
    await consumer.start();
    await waitFor("the good registrations", () => (applied.length >= 3 ? true : undefined));
    expect(applied.sort()).toEqual(["u1", "u2", "u3"]);
    await waitFor("the source batches committed", async () => {
      const [committed, end] = await Promise.all([committedOffsets(admin, groupId, source), endOffsets(admin, source)]);
      return JSON.stringify(asRecord(committed)) === JSON.stringify(asRecord(end)) ? true : undefined;
    });

    const back = await readAll(kafka, dlq, bad.length);
    expect(back).toHaveLength(bad.length);
    for (const b of bad) {
      const keyOf = (k: Buffer | string | null): string | null => (k === null ? null : Buffer.from(k).toString("hex"));
      const m = back.find((x) => keyOf(x.key) === keyOf(b.key));
      expect(m, `DLQ record of key ${String(b.key)}`).toBeDefined();
      expect(m!.value!.equals(Buffer.from(b.value!))).toBe(true);
      const h = Object.fromEntries(Object.entries(m!.headers).map(([k, v]) => [k, v.toString()]));
      expect(h[DEAD_LETTER_HEADERS.reason]).toMatch(/^malformed registration: /);
      expect(h[DEAD_LETTER_HEADERS.sourceTopic]).toBe(source);
      expect(Number(h[DEAD_LETTER_HEADERS.sourcePartition])).toBeGreaterThanOrEqual(0);
      expect(h[DEAD_LETTER_HEADERS.sourceOffset]).toMatch(/^\d+$/);
      expect(Date.parse(h[DEAD_LETTER_HEADERS.failedAt]!)).not.toBeNaN();
    }
  });
});
