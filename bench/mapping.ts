// bench:mapping — a cold start of N uids (default 5M, 20-character uids) from an NDJSON file,
// allocated in Redis and published to Kafka, then forward (cached and uncached) and reverse
// lookups, and Redis bytes per ID. Baselines measured in the same run:
//  - the naive layout (two plain string keys per ID, uid -> bit and bit -> uid:corpId) on a sample,
//    for bytes per ID;
//  - the import's two halves alone: the Lua allocation without Kafka, and Kafka publishing of the
//    same records without Redis (one per record, and arrays of 500), for IDs/s;
//  - the floor: the same forward and reverse entries written with plain pipelined multi-field
//    HSETs (bench/raw-write.ts), for cold_start_vs_raw_write.
// And the registration consumer end to end (consume, allocate, publish, commit): consume_per_s;
// and a cold start from a MariaDB query (`map import --from-sql`): sql_ids_per_s.
//
//   npm run bench:mapping [-- --json] [-- --ids 5000000] [-- --per-message 500] [-- --sql-ids 1000000]
//
// Needs the local stack (REDIS_URL, KAFKA_BROKERS): `eval "$(bash scripts/stack.sh env)"`.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import mysql from "mysql2/promise";
import { pino } from "pino";
import { configFromEnv } from "../orchestrator/config/config.js";
import { createKafka } from "../orchestrator/kafka/client.js";
import { RecordPublisher } from "../orchestrator/kafka/producer.js";
import { runImport } from "../orchestrator/mapping/import.js";
import { IdMapper } from "../orchestrator/mapping/mapper.js";
import { createRegistrationConsumer } from "../orchestrator/mapping/registrations.js";
import { KafkaMappingSink, mappingRecord, mappingRecords } from "../orchestrator/mapping/publish.js";
import { ndjsonSource, sqlSource } from "../orchestrator/mapping/sources.js";
import { cpuPerItem, cpuSnapshot } from "./cpu.js";
import { rawWriteFloor } from "./raw-write.js";
import { mulberry32 } from "../orchestrator/util/prng.js";
import { BitmapCore } from "../orchestrator/wasm/core.js";

const { values: args } = parseArgs({
  options: {
    json: { type: "boolean", default: false },
    ids: { type: "string", default: "5000000" },
    lookups: { type: "string", default: "500000" },
    sample: { type: "string", default: "200000" },
    // Mappings per downstream message in the cold start (BITSYNC_MAPPINGS_PER_MESSAGE).
    "per-message": { type: "string", default: "1" },
    // Rows of the MariaDB table the --from-sql cold start reads.
    "sql-ids": { type: "string", default: "1000000" },
  },
});
const PER_MESSAGE = Number(args["per-message"]);
const N = Number(args.ids);
const LOOKUPS = Number(args.lookups);
const SAMPLE = Math.min(Number(args.sample), N);
const log = (line: string): void => {
  if (!args.json) console.error(line);
};
const SQL_IDS = Number(args["sql-ids"]);
if (!process.env.REDIS_URL || !process.env.KAFKA_BROKERS || !process.env.MYSQL_URL) {
  console.error('bench:mapping needs the local stack: eval "$(bash scripts/stack.sh env)" first');
  process.exit(2);
}

const config = configFromEnv({ ...process.env, REDIS_CLUSTER_NODES: "", BITSYNC_LOG_LEVEL: "silent" });
const rules = { maxBytes: config.mapUidMaxBytes, pattern: config.mapUidPattern };
const redis = new Redis(config.redisUrl);
const ns = `bench${process.pid}`;
const uidOf = (i: number): string => `u${String((i * 2654435761) % 1e19).padStart(19, "0")}`; // 20 chars
const corpOf = (i: number): string => `corp${i % 100}`;
const dir = mkdtempSync(join(tmpdir(), "bitsync-bench-"));
/** Warnings and errors only, on stderr: stdout ends with the --json line. */
const quiet = pino({ level: "warn" }, pino.destination(2));
const kafka = createKafka({ brokers: config.kafkaBrokers, clientId: "bitsync-bench" }, quiet);
const publisher = new RecordPublisher(kafka);

const purge = async (pattern: string): Promise<void> => {
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 10_000);
    if (keys.length > 0) await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== "0");
};
/** A mapper of the bench's group count in `namespace`, without a uid cache. */
const mapperIn = (namespace: string): IdMapper =>
  new IdMapper(redis, { groups: config.mapGroups, rules, batchSize: 2000, cacheEntries: 0, namespace });
const cpuText = (c: ReturnType<typeof cpuPerItem>): string =>
  `Redis ${c.redis_us.toFixed(2)} µs, Node ${c.node_us.toFixed(2)} µs, broker ${c.broker_us?.toFixed(2) ?? "n/a"} µs; ` +
  `${c.total_us.toFixed(2)} µs in all, so 2 cores allow at most ${((2 * 1e6) / c.total_us).toFixed(0)} IDs/s`;
const usedMemory = async (): Promise<number> => Number(/used_memory:(\d+)/.exec(await redis.info("memory"))![1]);

try {
  await publisher.connect();
  // ---- fixture: N uids in an NDJSON file --------------------------------------------------------
  let t = performance.now();
  const file = join(dir, "users.ndjson");
  const lines: string[] = [];
  for (let i = 0; i < N; i++) lines.push(`{"uid":"${uidOf(i)}","corpId":"${corpOf(i)}"}\n`);
  writeFileSync(file, lines.join(""));
  lines.length = 0;
  log(`fixture: ${N} uids in ${file} (${(performance.now() - t).toFixed(0)} ms)`);

  // ---- subject: the cold start (file -> Redis -> Kafka, checkpointed) --------------------------
  const mapper = mapperIn(ns);
  const memBefore = await usedMemory();
  const cpuBefore = await cpuSnapshot(redis);
  t = performance.now();
  const summary = await runImport({
    source: ndjsonSource(file),
    mapper,
    sink: new KafkaMappingSink(publisher, `bench-mapping-${process.pid}`, PER_MESSAGE),
    rules,
    batchSize: 20_000,
    checkpoint: join(dir, "cp.json"),
    rejects: join(dir, "rejects.ndjson"),
  });
  const importS = (performance.now() - t) / 1000;
  const importCpu = cpuPerItem(cpuBefore, await cpuSnapshot(redis), summary.mapped);
  const idsPerS = summary.mapped / importS;
  log(`import: ${summary.mapped} IDs in ${importS.toFixed(1)} s = ${idsPerS.toFixed(0)} IDs/s`);
  const split = summary.time;
  log(
    `  where the time went (overlapped stages): read and parse ${split.readParse.toFixed(1)} s, ` +
      `allocate ${split.allocate.toFixed(1)} s, publish ${split.publish.toFixed(1)} s; the reader waited ${split.wait.toFixed(1)} s`,
  );
  log(`  CPU per ID: ${cpuText(importCpu)}`);
  const memory = await mapper.memory(Number.MAX_SAFE_INTEGER);
  const usedDelta = (await usedMemory()) - memBefore;
  log(
    `redis: ${memory.bytesPerId!.toFixed(1)} B/ID (MEMORY USAGE of ${memory.keys} keys), used_memory delta ${(usedDelta / N).toFixed(1)} B/ID`,
  );

  // ---- the floor: the same entries, plain HSETs --------------------------------------------------
  // Twice: grouped per bucket over the whole set (the final state written at once: each forward
  // bucket one HSET of ~40 fields, the least work Redis can do for these entries; the ratio's
  // baseline), and in the import's batches of 20,000 (a writer holding what the import holds: at
  // this size nearly one forward field per HSET).
  const buckets = Number(await redis.hget(mapper.keys.meta(0), "b0"));
  const floorCpu: Record<string, number> = {};
  const floor = async (batchSize: number, prefix: string): Promise<number> => {
    const opts = { url: config.redisUrl, prefix, groups: config.mapGroups, buckets, batchSize };
    const before = await cpuSnapshot(redis);
    const perS = N / (await rawWriteFloor(N, (i) => ({ uid: uidOf(i), corpId: corpOf(i) }), opts));
    floorCpu[batchSize === N ? "whole_set" : `batches_of_${batchSize}`] = cpuPerItem(
      before,
      await cpuSnapshot(redis),
      N,
    ).redis_us;
    await purge(`{${prefix}:*}:*`);
    return perS;
  };
  const floorPerS = await floor(N, `${ns}f`);
  const floorBatchedPerS = await floor(20_000, `${ns}g`);
  log(
    `floor: the same entries as plain pipelined HSETs, ${floorPerS.toFixed(0)} IDs/s grouped over the whole set, ` +
      `${floorBatchedPerS.toFixed(0)} IDs/s in batches of 20,000 (${buckets} forward buckets a group); ` +
      `Redis CPU per ID ${floorCpu.whole_set!.toFixed(2)} and ${floorCpu.batches_of_20000!.toFixed(2)} µs`,
  );

  // ---- lookups ---------------------------------------------------------------------------------
  const rnd = mulberry32(7);
  const picks = Array.from({ length: LOOKUPS }, () => Math.floor(rnd() * N));
  const timeLookups = async (m: IdMapper): Promise<number> => {
    const start = performance.now();
    for (let o = 0; o < picks.length; o += 1000) await m.lookup(picks.slice(o, o + 1000).map(uidOf));
    return picks.length / ((performance.now() - start) / 1000);
  };
  const uncached = await timeLookups(mapper);
  const cachedMapper = new IdMapper(redis, {
    groups: config.mapGroups,
    rules,
    batchSize: 2000,
    cacheEntries: LOOKUPS,
    namespace: ns,
    core: BitmapCore.create({ budgetBytes: 1 << 20 }),
  });
  await timeLookups(cachedMapper); // warm
  const cached = await timeLookups(cachedMapper);
  const bits = (await mapper.lookup(picks.slice(0, 1000).map(uidOf))) as number[];
  const allBits = Array.from({ length: LOOKUPS }, (_, i) => bits[i % bits.length]! + 0);
  t = performance.now();
  for (let o = 0; o < allBits.length; o += 1000) await mapper.reverse(allBits.slice(o, o + 1000));
  const reverse = allBits.length / ((performance.now() - t) / 1000);
  log(`lookups/s: forward uncached ${uncached.toFixed(0)}, cached ${cached.toFixed(0)}, reverse ${reverse.toFixed(0)}`);

  // ---- baselines -------------------------------------------------------------------------------
  // The allocation alone (no Kafka), on a fresh namespace of SAMPLE IDs.
  const alone = mapperIn(`${ns}a`);
  const sampleEntries = Array.from({ length: SAMPLE }, (_, i) => ({ uid: uidOf(i), corpId: corpOf(i) }));
  t = performance.now();
  for (let o = 0; o < SAMPLE; o += 20_000) await alone.allocate(sampleEntries.slice(o, o + 20_000));
  const allocOnly = SAMPLE / ((performance.now() - t) / 1000);
  // Kafka alone: the same records, no Redis.
  const records = sampleEntries.map((e, i) => mappingRecord({ ...e, bit: i }));
  t = performance.now();
  for (let o = 0; o < SAMPLE; o += 20_000)
    await publisher.publish(`bench-kafka-${process.pid}`, records.slice(o, o + 20_000));
  const kafkaOnly = SAMPLE / ((performance.now() - t) / 1000);
  // The same mappings as JSON arrays of 500 per message (BITSYNC_MAPPINGS_PER_MESSAGE=500).
  const batched = mappingRecords(
    sampleEntries.map((e, i) => ({ ...e, bit: i })),
    500,
  );
  t = performance.now();
  for (let o = 0; o < batched.length; o += 40)
    await publisher.publish(`bench-kafka-b-${process.pid}`, batched.slice(o, o + 40));
  const kafkaBatched = SAMPLE / ((performance.now() - t) / 1000);
  log(
    `alone: allocation ${allocOnly.toFixed(0)} IDs/s, kafka publishing ${kafkaOnly.toFixed(0)} records/s, ` +
      `${kafkaBatched.toFixed(0)} mappings/s in arrays of 500`,
  );
  await purge(`{${ns}a:*}:*`);
  // The naive layout: one string key per direction per ID.
  const naiveBefore = await usedMemory();
  const pipe = redis.pipeline();
  for (let i = 0; i < SAMPLE; i++) {
    pipe.set(`naive${process.pid}:u:${uidOf(i)}`, i);
    pipe.set(`naive${process.pid}:b:${i}`, `${corpOf(i)}:${uidOf(i)}`);
  }
  await pipe.exec();
  const naiveBytes = ((await usedMemory()) - naiveBefore) / SAMPLE;
  await purge(`naive${process.pid}:*`);
  log(`naive layout: ${naiveBytes.toFixed(1)} B/ID`);

  // ---- the registration consumer, end to end -------------------------------------------------
  // Registrations published to a topic of their own, then consumed by the daemon's consumer
  // (consume, allocate, publish the mappings, commit) in a group and namespace of their own.
  const CONSUMED = Math.min(200_000, N);
  const regTopic = `bench-reg-${process.pid}`;
  const registrations = Array.from({ length: CONSUMED }, (_, i) => {
    const uid = `r${uidOf(i).slice(1)}`;
    return { key: uid, value: JSON.stringify({ uid, corpId: corpOf(i) }) };
  });
  for (let o = 0; o < CONSUMED; o += 20_000) await publisher.publish(regTopic, registrations.slice(o, o + 20_000));
  const admin = kafka.admin();
  await admin.connect();
  const partitions = (await admin.fetchTopicMetadata({ topics: [regTopic] })).topics[0]!.partitions.length;
  await admin.disconnect();
  const consumerConfig = {
    ...config,
    registrationTopic: regTopic,
    mappingTopic: `bench-reg-map-${process.pid}`,
    dlqTopic: `bench-reg-dlq-${process.pid}`,
    consumerGroup: `bench-reg-${process.pid}`,
    mappingsPerMessage: PER_MESSAGE,
  };
  const consumerMapper = mapperIn(`${ns}c`);
  let consumed = 0;
  let firstAt = 0;
  let allDone!: () => void;
  const done = new Promise<void>((r) => (allDone = r));
  const consumer = createRegistrationConsumer(consumerConfig, { mapper: consumerMapper, kafka }, quiet, {
    onBatch: (b) => {
      if (firstAt === 0) firstAt = performance.now();
      consumed += b.messages;
      if (consumed >= CONSUMED) allDone();
    },
  });
  await consumer.start();
  await done;
  // From the first batch handled: the group's join (seconds on the mock cluster) is not the rate.
  const consumePerS = CONSUMED / ((performance.now() - firstAt) / 1000);
  await consumer.stop();
  log(
    `registration consumer, end to end: ${consumePerS.toFixed(0)} registrations/s (${CONSUMED}, ` +
      `${partitions} partitions, ${config.consumerConcurrency} at once)`,
  );
  await purge(`{${ns}c:*}:*`);

  // ---- a cold start from a MariaDB query (map import --from-sql) --------------------------------
  const db = await mysql.createConnection(config.mysqlUrl);
  const table = `bench_users_${process.pid}`;
  let sqlPerS = 0;
  try {
    await db.query(
      `CREATE TABLE ${table} (id BIGINT PRIMARY KEY, uid VARCHAR(64) NOT NULL, corp_id VARCHAR(64) NOT NULL)`,
    );
    for (let o = 0; o < SQL_IDS; o += 10_000) {
      const rows = Array.from({ length: Math.min(10_000, SQL_IDS - o) }, (_, k) => [
        o + k,
        `s${uidOf(o + k).slice(1)}`,
        corpOf(o + k),
      ]);
      await db.query(`INSERT INTO ${table} VALUES ?`, [rows]);
    }
    const sqlMapper = mapperIn(`${ns}s`);
    t = performance.now();
    const sqlSummary = await runImport({
      source: sqlSource(config.mysqlUrl, `SELECT uid, corp_id FROM ${table} ORDER BY id`),
      mapper: sqlMapper,
      sink: new KafkaMappingSink(publisher, `bench-mapping-sql-${process.pid}`, PER_MESSAGE),
      rules,
      batchSize: 20_000,
      checkpoint: join(dir, "cp-sql.json"),
      rejects: join(dir, "rejects-sql.ndjson"),
      expectedIds: SQL_IDS,
    });
    sqlPerS = sqlSummary.mapped / ((performance.now() - t) / 1000);
    const st = sqlSummary.time;
    log(
      `cold start from MariaDB (--from-sql, ${SQL_IDS} rows): ${sqlPerS.toFixed(0)} IDs/s; read and parse ` +
        `${st.readParse.toFixed(1)} s, allocate ${st.allocate.toFixed(1)} s, publish ${st.publish.toFixed(1)} s`,
    );
    await purge(`{${ns}s:*}:*`);
  } finally {
    await db.query(`DROP TABLE IF EXISTS ${table}`);
    await db.end();
  }

  const figures = {
    ids: N,
    mappings_per_message: PER_MESSAGE,
    import_time_split_s: summary.time,
    import_seconds: importS,
    ids_per_s: idsPerS,
    bytes_per_id: memory.bytesPerId,
    used_memory_bytes_per_id: usedDelta / N,
    forward_lookups_per_s_uncached: uncached,
    forward_lookups_per_s_cached: cached,
    reverse_lookups_per_s: reverse,
    allocation_only_ids_per_s: allocOnly,
    kafka_only_records_per_s: kafkaOnly,
    kafka_only_mappings_per_s_arrays_of_500: kafkaBatched,
    consume_per_s: consumePerS,
    sql_ids: SQL_IDS,
    sql_ids_per_s: sqlPerS,
    consume_partitions: partitions,
    consume_concurrency: config.consumerConcurrency,
    naive_bytes_per_id: naiveBytes,
    raw_write_ids_per_s: floorPerS,
    raw_write_ids_per_s_batches_of_20000: floorBatchedPerS,
    // CPU per ID of each process in the cold start; 2 cores / total is the machine's ceiling.
    import_cpu_per_id: importCpu,
    import_cpu_ceiling_ids_per_s: (2 * 1e6) / importCpu.total_us,
    raw_write_redis_cpu_us_per_id: floorCpu,
  };
  const ratios = {
    cold_start_vs_raw_write: idsPerS / floorPerS,
    cold_start_vs_raw_write_in_batches: idsPerS / floorBatchedPerS,
    bytes_per_id_vs_naive: memory.bytesPerId! / naiveBytes,
    ids_per_s_vs_allocation_only: idsPerS / allocOnly,
    ids_per_s_vs_kafka_only: idsPerS / kafkaOnly,
    kafka_arrays_of_500_vs_one_per_record: kafkaBatched / kafkaOnly,
  };
  log(
    `ids_per_s ${idsPerS.toFixed(0)} (target >= 300000); bytes_per_id ${memory.bytesPerId!.toFixed(1)} (target <= 64); ` +
      `cold_start_vs_raw_write ${(idsPerS / floorPerS).toFixed(2)} (target >= 0.3); consume_per_s ${consumePerS.toFixed(0)} (target >= 50000)`,
  );
  if (args.json) {
    console.log(
      JSON.stringify({
        bench: "mapping",
        setup: { ids: N, groups: config.mapGroups, node: process.version },
        ...figures,
        figures,
        ratios,
      }),
    );
  }
} finally {
  await purge(`{${ns}*}:*`); // the mapping and every baseline's namespace
  await publisher.disconnect().catch(() => undefined);
  redis.disconnect();
  rmSync(dir, { recursive: true, force: true });
}
