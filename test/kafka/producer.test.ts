// RecordPublisher against the mock cluster, createKafka's pino logging, and how kafkajs errors map to
// KafkaPublishError's `retriable`.
import { Writable } from "node:stream";
import kafkajs, { logLevel } from "kafkajs";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createKafka, kafkaLogLevel, pinoLogCreator } from "../../orchestrator/kafka/client.js";
import { KafkaPublishError, isRetriableKafkaError } from "../../orchestrator/kafka/errors.js";
import { RecordPublisher, type PublishRecord } from "../../orchestrator/kafka/producer.js";
import { freePort } from "../../orchestrator/util/net.js";
import { uniqueName } from "../helpers/stack.js";
import { readAll, testKafka, testLog } from "./helpers.js";

const kafka = testKafka();

describe("RecordPublisher", () => {
  const publisher = new RecordPublisher(kafka, { chunkSize: 10_000, maxParallelSends: 3, log: testLog });
  beforeAll(() => publisher.connect());
  afterAll(() => publisher.disconnect());

  it("publishes records in parallel chunks and every one reads back with key, value and headers intact", async () => {
    const topic = uniqueName("pub");
    const n = 25_000; // three chunks of at most 10k, sent together
    const records: PublishRecord[] = [];
    for (let i = 0; i < n; i++) {
      records.push({
        key: i % 10 === 0 ? null : i % 2 === 0 ? `uid-${i}` : Buffer.from(`uid-${i}`),
        // Not UTF-8 on purpose: bytes must pass untouched.
        value: i % 3 === 0 ? Buffer.from([0xff, 0xfe, 0x00, i & 0xff, (i >> 8) & 0xff]) : JSON.stringify({ i }),
        ...(i % 4 === 0 ? { headers: { seq: String(i), raw: Buffer.from([0x80, i & 0xff]) } } : {}),
      });
    }
    await publisher.publish(topic, records);

    const back = await readAll(kafka, topic, n);
    expect(back).toHaveLength(n);
    const byIndex = new Map<number, (typeof back)[number]>();
    for (const m of back) {
      const v = m.value!;
      const i = v[0] === 0xff ? v[3]! | (v[4]! << 8) : (JSON.parse(v.toString()) as { i: number }).i;
      // Binary values only carry i mod 65536; n < 65536 keeps them unique.
      expect(byIndex.has(i)).toBe(false);
      byIndex.set(i, m);
    }
    for (let i = 0; i < n; i++) {
      const m = byIndex.get(i)!;
      const r = records[i]!;
      expect(m.key === null ? null : m.key.toString()).toBe(r.key === null ? null : r.key.toString());
      expect(m.value!.equals(Buffer.from(r.value!))).toBe(true);
      if (r.headers) {
        expect(m.headers.seq?.toString()).toBe(String(i));
        expect(m.headers.raw?.equals(Buffer.from([0x80, i & 0xff]))).toBe(true);
      } else {
        expect(m.headers).toEqual({});
      }
    }
    // The same key always lands on the same partition (murmur2, like the Java client).
    const partitions = new Set(back.map((m) => m.partition));
    expect(partitions.size).toBeGreaterThan(1);
  });

  it("resolves at once for no records, and rejects when not connected", async () => {
    await publisher.publish(uniqueName("empty"), []);
    const idle = new RecordPublisher(kafka, { log: testLog });
    const err = await idle.publish("t", [{ key: null, value: "x" }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KafkaPublishError);
    expect((err as KafkaPublishError).retriable).toBe(false);
    expect((err as KafkaPublishError).topic).toBe("t");
  });

  it("turns an unreachable cluster into a retriable KafkaPublishError", async () => {
    const port = await freePort(); // nothing listens on it
    const dead = createKafka(
      { brokers: [`127.0.0.1:${port}`], clientId: "bitsync-test", retry: { retries: 1, initialRetryTime: 50 } },
      testLog,
    );
    const p = new RecordPublisher(dead, { log: testLog });
    const err = await p.connect().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KafkaPublishError);
    expect((err as KafkaPublishError).retriable).toBe(true);
    expect((err as KafkaPublishError).name).toBe("KafkaPublishError");
    expect((err as KafkaPublishError).cause).toBeDefined();
    await p.disconnect();
  });
});

describe("isRetriableKafkaError", () => {
  it("follows kafkajs' flag, and the cause once kafkajs ran out of retries", () => {
    const connection = new kafkajs.KafkaJSConnectionError("connection refused");
    expect(isRetriableKafkaError(connection)).toBe(true);
    const tooLarge = new kafkajs.KafkaJSProtocolError(
      Object.assign(new Error("too large"), { type: "MESSAGE_TOO_LARGE", code: 10, retriable: false }),
    );
    expect(isRetriableKafkaError(tooLarge)).toBe(false);
    const exhausted = new kafkajs.KafkaJSNumberOfRetriesExceeded(connection, { retryCount: 8, retryTime: 30_000 });
    expect(exhausted.retriable).toBe(false); // kafkajs' view: it stopped retrying
    expect(isRetriableKafkaError(exhausted)).toBe(true); // ours: the cause is transient
    expect(
      isRetriableKafkaError(new kafkajs.KafkaJSNumberOfRetriesExceeded(tooLarge, { retryCount: 1, retryTime: 300 })),
    ).toBe(false);
    expect(isRetriableKafkaError(new TypeError("bad argument"))).toBe(false);
    expect(isRetriableKafkaError("string")).toBe(false);
  });
});

describe("createKafka logging", () => {
  it("maps kafkajs levels and fields to pino", () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    });
    const log = pino({ level: "debug" }, sink).child({ module: "kafka" });
    const write = pinoLogCreator(log)(logLevel.DEBUG);
    const entry = (level: logLevel, message: string) => ({
      namespace: "Consumer",
      level,
      label: "x",
      log: { timestamp: "2026-01-01T00:00:00.000Z", logger: "kafkajs", message, groupId: "g1" },
    });
    write(entry(logLevel.ERROR, "crash"));
    write(entry(logLevel.WARN, "rebalancing"));
    write(entry(logLevel.INFO, "joined"));
    write(entry(logLevel.DEBUG, "fetch"));
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      [50, "crash"],
      [40, "rebalancing"],
      [30, "joined"],
      [20, "fetch"],
    ]);
    expect(lines[0]).toMatchObject({ module: "kafka", ns: "Consumer", groupId: "g1" });
    expect(lines[0]).not.toHaveProperty("timestamp");
    expect(lines[0]).not.toHaveProperty("logger");

    expect(kafkaLogLevel("trace")).toBe(logLevel.DEBUG);
    expect(kafkaLogLevel("info")).toBe(logLevel.INFO);
    expect(kafkaLogLevel("fatal")).toBe(logLevel.ERROR);
    expect(kafkaLogLevel("silent")).toBe(logLevel.NOTHING);
  });
});
