// The registration consumer as it runs in production: `bitsync map consume` as a child process,
// real Kafka (the stack's mock cluster) and Redis. Consume -> map -> publish -> commit; malformed
// messages to the dead-letter topic while good ones flow; SIGTERM; SIGKILL several times during
// a stream; and a rebuild of the mapping from the downstream topic.
import { Redis } from "ioredis";
import type { KafkaMessage } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createKafka } from "../../orchestrator/kafka/client.js";
import { RecordPublisher, type PublishRecord } from "../../orchestrator/kafka/producer.js";
import { IdMapper } from "../../orchestrator/mapping/mapper.js";
import { lastJson, runCli, startCli } from "../helpers/cli.js";
import { readTopic, testKafka } from "../helpers/kafka.js";
import { uidHash } from "../../orchestrator/mapping/hash.js";
import { mappingRecord } from "../../orchestrator/mapping/publish.js";
import { clearNamespaces } from "../helpers/mapping.js";
import { stackEnv, uniqueName, waitFor } from "../helpers/stack.js";

const rules = { maxBytes: 64, pattern: /^[\x21-\x7e]+$/u };
let redis: Redis;
let publisher: RecordPublisher;
const namespaces: string[] = [];

beforeAll(async () => {
  redis = new Redis(stackEnv().redisUrl);
  publisher = new RecordPublisher(createKafka({ brokers: stackEnv().kafkaBrokers, clientId: "bitsync-test" }));
  await publisher.connect();
});

afterAll(async () => {
  await clearNamespaces(redis, namespaces);
  await publisher.disconnect();
  redis.disconnect();
});

function setup() {
  const ns = uniqueName("mk");
  namespaces.push(ns);
  const names = {
    registrations: uniqueName("reg"),
    mappings: uniqueName("map"),
    dlq: uniqueName("dlq"),
    group: uniqueName("grp"),
  };
  const env = {
    BITSYNC_MAP_NAMESPACE: ns,
    BITSYNC_REGISTRATION_TOPIC: names.registrations,
    BITSYNC_MAPPING_TOPIC: names.mappings,
    BITSYNC_DLQ_TOPIC: names.dlq,
    BITSYNC_CONSUMER_GROUP: names.group,
    BITSYNC_CONSUMER_SESSION_TIMEOUT_MS: "6000",
    REDIS_CLUSTER_NODES: "",
  };
  const mapper = new IdMapper(redis, { groups: 16, rules, batchSize: 1000, cacheEntries: 0, namespace: ns });
  return { ns, names, env, mapper };
}

const registration = (uid: string, corpId = "c1") => ({ key: uid, value: JSON.stringify({ uid, corpId, at: 1 }) });

/**
 * Every uid of `uids` on the mapping topic at least once, with the bit Redis holds; each record in
 * the form asked: one object keyed by its uid, or an array of at most `perMessage` keyed by the first.
 */
async function expectMappedDownstream(topic: string, mapper: IdMapper, uids: string[], perMessage = 1): Promise<void> {
  const seen = new Map<string, number>();
  await readTopic(
    topic,
    (records) => {
      for (const r of records.splice(0)) {
        const parsed = JSON.parse(r.value!.toString()) as { uid: string; bit: number } | { uid: string; bit: number }[];
        const list = Array.isArray(parsed) ? parsed : [parsed];
        expect(Array.isArray(parsed), "an array record").toBe(perMessage > 1);
        expect(list.length).toBeLessThanOrEqual(perMessage);
        expect(r.key!.toString()).toBe(list[0]!.uid);
        for (const v of list) {
          const prev = seen.get(v.uid);
          if (prev !== undefined) expect(v.bit).toBe(prev); // republished: same bit every time
          seen.set(v.uid, v.bit);
        }
      }
      return uids.every((u) => seen.has(u));
    },
    90_000,
  );
  const bits = await mapper.lookup(uids);
  expect(bits.every((b) => b !== null)).toBe(true);
  expect(new Set(bits).size).toBe(uids.length);
  uids.forEach((u, i) => expect(seen.get(u)).toBe(bits[i]));
}

describe("bitsync map consume", () => {
  it("maps, publishes, commits; dead-letters malformed messages with the reason and original bytes", async () => {
    const { names, env, mapper, ns } = setup();
    const good = Array.from({ length: 3000 }, (_, i) => `reg${String(i).padStart(8, "0")}`);
    const bad = [
      { key: "k1", value: "{not json" },
      { key: "k2", value: JSON.stringify({ corpId: "c" }) },
      { key: "k3", value: JSON.stringify({ uid: "has space", corpId: "c" }) },
      { key: null, value: Buffer.from([0xff, 0xfe, 0x00]) },
    ];
    const records: PublishRecord[] = good.map((u) => registration(u));
    // Bad messages in the middle of good ones: they must not hold the good ones back.
    records.splice(1000, 0, ...bad.slice(0, 2));
    records.splice(2500, 0, ...bad.slice(2));
    await publisher.publish(names.registrations, records);

    const consumer = startCli(["map", "consume"], env);
    try {
      await expectMappedDownstream(names.mappings, mapper, good);
      const dead = await readTopic(names.dlq, (r) => r.length >= bad.length);
      const byKey = new Map(dead.map((m: KafkaMessage) => [m.key?.toString() ?? "null", m]));
      expect(byKey.get("k1")!.value!.toString()).toBe("{not json");
      expect(byKey.get("k1")!.headers!["bitsync-reason"]!.toString()).toMatch(/^not JSON/);
      expect(byKey.get("k2")!.headers!["bitsync-reason"]!.toString()).toBe("uid is missing");
      expect(byKey.get("k3")!.headers!["bitsync-reason"]!.toString()).toMatch(/does not match/);
      expect(Buffer.compare(byKey.get("null")!.value!, Buffer.from([0xff, 0xfe, 0x00]))).toBe(0);
      expect(byKey.get("k1")!.headers!["bitsync-source-topic"]!.toString()).toBe(names.registrations);
    } finally {
      consumer.child.kill("SIGTERM");
    }
    const exit = await consumer.done;
    expect(exit.code, exit.stderr).toBe(0);
    // Committed: the group's offsets are the end of every partition.
    const admin = testKafka().admin();
    await admin.connect();
    try {
      const ends = await admin.fetchTopicOffsets(names.registrations);
      const [committed] = await admin.fetchOffsets({ groupId: names.group, topics: [names.registrations] });
      for (const p of ends) {
        expect(committed!.partitions.find((c) => c.partition === p.partition)?.offset).toBe(p.high);
      }
    } finally {
      await admin.disconnect();
    }

    // Rebuild: the downstream topic alone restores the same bits in an empty namespace.
    const copy = uniqueName("mr");
    namespaces.push(copy);
    const rebuilt = await runCli(["map", "rebuild", "--json"], { ...env, BITSYNC_MAP_NAMESPACE: copy });
    expect(rebuilt.code, rebuilt.stderr).toBe(0);
    const summary = lastJson<{ restored: number; conflicts: number; malformed: number }>(rebuilt);
    expect(summary.restored).toBe(good.length);
    expect(summary.conflicts).toBe(0);
    const again = new IdMapper(redis, { groups: 16, rules, batchSize: 1000, cacheEntries: 0, namespace: copy });
    expect(await again.lookup(good)).toEqual(await mapper.lookup(good));
    expect(ns).not.toBe(copy);
  });

  it("publishes arrays of mappings with BITSYNC_MAPPINGS_PER_MESSAGE, and rebuild restores both forms", async () => {
    const { names, env, mapper } = setup();
    const uids = Array.from({ length: 2500 }, (_, i) => `arr${String(i).padStart(8, "0")}`);
    await publisher.publish(
      names.registrations,
      uids.map((u) => registration(u)),
    );
    const consumer = startCli(["map", "consume"], { ...env, BITSYNC_MAPPINGS_PER_MESSAGE: "100" });
    try {
      await expectMappedDownstream(names.mappings, mapper, uids, 100);
    } finally {
      consumer.child.kill("SIGTERM");
    }
    expect((await consumer.done).code).toBe(0);
    // The topic also holds a record of the single form and an array with one bad element (bits in
    // each uid's own group, far past the consumer's).
    const bitOf = (uid: string, seq: number): number => seq * 16 + (uidHash(uid) % 16);
    await publisher.publish(names.mappings, [
      mappingRecord({ uid: "single-form", corpId: "c9", bit: bitOf("single-form", 100_000) }),
      {
        key: "x",
        value: JSON.stringify([
          { uid: "has space", corpId: "c", bit: 1 },
          { uid: "in-array", corpId: "c9", bit: bitOf("in-array", 100_001) },
        ]),
      },
    ]);
    const copy = uniqueName("ma");
    namespaces.push(copy);
    const rebuilt = await runCli(["map", "rebuild", "--json"], { ...env, BITSYNC_MAP_NAMESPACE: copy });
    expect(rebuilt.code, rebuilt.stderr).toBe(0);
    const summary = lastJson<{ restored: number; conflicts: number; malformed: number; reasons: string[] }>(rebuilt);
    expect(summary).toMatchObject({ restored: uids.length + 2, conflicts: 0, malformed: 1 });
    expect(summary.reasons[0]).toMatch(/element 0: uid .*does not match/);
    const again = new IdMapper(redis, { groups: 16, rules, batchSize: 1000, cacheEntries: 0, namespace: copy });
    expect(await again.lookup(uids)).toEqual(await mapper.lookup(uids));
    expect(await again.lookup(["single-form", "in-array", "has space"])).toEqual([
      bitOf("single-form", 100_000),
      bitOf("in-array", 100_001),
      null,
    ]);
  });

  it("loses nothing when killed several times during a stream of registrations", async () => {
    const { names, env, mapper } = setup();
    const uids = Array.from({ length: 12_000 }, (_, i) => `kill${String(i).padStart(8, "0")}`);
    // The first registrations exist before the consumer starts; the rest keep arriving.
    await publisher.publish(
      names.registrations,
      uids.slice(0, 1000).map((u) => registration(u)),
    );
    let producing = true;
    const producer = (async () => {
      for (let o = 1000; o < uids.length; o += 500) {
        await publisher.publish(
          names.registrations,
          uids.slice(o, o + 500).map((u) => registration(u)),
        );
        await new Promise((r) => setTimeout(r, 150));
      }
      producing = false;
    })();

    for (let kill = 0; kill < 3; kill++) {
      const run = startCli(["map", "consume"], env);
      const before = (await mapper.stats()).ids;
      // Let it map something, then kill it mid-stream.
      await waitFor(
        "the consumer to map more registrations",
        async () => ((await mapper.stats()).ids > before + 300 ? true : undefined),
        90_000,
      );
      run.child.kill("SIGKILL");
      expect((await run.done).signal).toBe("SIGKILL");
    }
    const last = startCli(["map", "consume"], env);
    try {
      await producer;
      expect(producing).toBe(false);
      await expectMappedDownstream(names.mappings, mapper, uids);
      expect((await mapper.stats()).ids).toBe(uids.length);
    } finally {
      last.child.kill("SIGTERM");
      await last.done;
    }
  });
});
