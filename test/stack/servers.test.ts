// The local stack's servers are real and reachable the way bitsync will use them: ioredis
// with Lua and binary values, mysql2 with parameterized SQL and BLOB bitmaps, kafkajs
// producing to an auto-created topic and consuming it through a consumer group.
import { Redis } from "ioredis";
import { Kafka, logLevel } from "kafkajs";
import mysql from "mysql2/promise";
import { afterAll, describe, expect, it } from "vitest";
import { BitmapCore } from "../../orchestrator/wasm/core.js";
import { portable } from "../helpers/roaring.js";
import { stackEnv, uniqueName, waitFor } from "../helpers/stack.js";

const env = stackEnv();
const core = BitmapCore.create();

describe("Redis", () => {
  const redis = new Redis(env.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  afterAll(() => redis.quit());

  it("stores segment bytes under a hash tag and runs Lua on them", async () => {
    await redis.connect();
    const key = `{aud:${uniqueName("t")}}:seg:0`;
    const blob = portable([1, 5, 65536 + 7], true);
    await redis.set(key, Buffer.from(blob), "EX", 60);
    const back = await redis.getBuffer(key);
    expect(back).not.toBeNull();
    expect(core.contains(new Uint8Array(back!), 5)).toBe(true);
    expect(core.contains(new Uint8Array(back!), 6)).toBe(false);
    const len = await redis.eval("return redis.call('STRLEN', KEYS[1])", 1, key);
    expect(len).toBe(blob.length);
    await redis.del(key);
  });
});

describe("MariaDB (the MySQL-protocol source)", () => {
  it("round-trips a bitmap BLOB through parameterized SQL", async () => {
    const conn = await mysql.createConnection(env.mysqlUrl);
    const table = uniqueName("bmp");
    try {
      await conn.query(
        `CREATE TABLE ${table} (user_group_id BIGINT, imp_date INT, hash_part INT, bmp LONGBLOB, PRIMARY KEY (user_group_id, imp_date, hash_part))`,
      );
      // StarRocks' serialized BITMAP: type byte 2 (BITMAP32), then the portable bytes.
      const bytes = Buffer.concat([Buffer.from([2]), Buffer.from(portable([3, 70000, 4294967295], false))]);
      await conn.execute(`INSERT INTO ${table} VALUES (?, ?, ?, ?)`, [42, 20261122, 0, bytes]);
      const [rows] = await conn.execute<mysql.RowDataPacket[]>(
        `SELECT bmp, LENGTH(bmp) AS n FROM ${table} WHERE user_group_id = ? AND imp_date = ?`,
        [42, 20261122],
      );
      expect(rows).toHaveLength(1);
      const got = rows[0]!.bmp as Buffer;
      expect(rows[0]!.n).toBe(bytes.length);
      // Zero-copy read of the blob right after the type byte, at an odd offset.
      const blob = core.pin(new Uint8Array(got), { offset: 1 });
      expect(blob.has(70000)).toBe(true);
      expect(blob.has(4294967295)).toBe(true);
      expect(blob.has(4)).toBe(false);
      blob.dispose();
    } finally {
      await conn.query(`DROP TABLE IF EXISTS ${table}`);
      await conn.end();
    }
  });
});

describe("Kafka (librdkafka mock cluster)", () => {
  it("produces to an auto-created topic and consumes it in a consumer group", async () => {
    const kafka = new Kafka({ clientId: "bitsync-test", brokers: env.kafkaBrokers, logLevel: logLevel.NOTHING });
    const topic = uniqueName("t");
    const producer = kafka.producer({ allowAutoTopicCreation: true });
    const consumer = kafka.consumer({ groupId: uniqueName("g") });
    const received: string[] = [];
    try {
      await producer.connect();
      // The first send creates the topic (CreateTopics does not work on the mock).
      await waitFor("topic auto-creation", async () => {
        try {
          await producer.send({ topic, messages: [{ key: "uid:1", value: "bit:0" }] });
          return true;
        } catch {
          return undefined;
        }
      });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          received.push(`${message.key?.toString()}=${message.value?.toString()}`);
        },
      });
      await producer.send({ topic, messages: [{ key: "uid:2", value: "bit:1" }] });
      await waitFor("both messages", () => (received.length >= 2 ? true : undefined), 45_000);
      expect(received.sort()).toEqual(["uid:1=bit:0", "uid:2=bit:1"]);
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
    }
  });
});
