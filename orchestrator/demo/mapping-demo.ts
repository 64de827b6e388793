// The demo of the ID mapping on the local stack: a cold start from a generated NDJSON file into
// a namespace of its own, published to Kafka, then lookups both ways and the memory per ID.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { configFromEnv } from "../config/config.js";
import { createKafka } from "../kafka/client.js";
import { RecordPublisher } from "../kafka/producer.js";
import { createMappingContext } from "../mapping/context.js";
import { runImport } from "../mapping/import.js";
import { KafkaMappingSink } from "../mapping/publish.js";
import { ndjsonSource } from "../mapping/sources.js";

const NAMESPACE = "demo";

export async function runMappingDemo(print: (line: string) => void, ids = 100_000): Promise<void> {
  const config = configFromEnv({ ...process.env, BITSYNC_MAP_NAMESPACE: NAMESPACE });
  const { mapper, close } = createMappingContext(config);
  const kafka = createKafka({ brokers: config.kafkaBrokers, clientId: "bitsync-demo" });
  const publisher = new RecordPublisher(kafka);
  const dir = mkdtempSync(join(tmpdir(), "bitsync-demo-"));
  try {
    await mapper.clear(); // the demo's namespace only
    const uid = (i: number): string => `user-${String(i * 7919).padStart(12, "0")}`;
    const file = join(dir, "users.ndjson");
    writeFileSync(
      file,
      Array.from({ length: ids }, (_, i) => JSON.stringify({ uid: uid(i), corpId: `corp-${i % 20}` })).join("\n") +
        '\n{"uid":"bad uid with spaces","corpId":"corp-1"}\n',
    );
    await publisher.connect();
    const summary = await runImport({
      source: ndjsonSource(file),
      mapper,
      sink: new KafkaMappingSink(publisher, config.mappingTopic),
      rules: { maxBytes: config.mapUidMaxBytes, pattern: config.mapUidPattern },
      batchSize: 20_000,
      checkpoint: join(dir, "cp.json"),
      rejects: join(dir, "rejects.ndjson"),
    });
    print(
      `cold start: ${summary.mapped} IDs mapped (${summary.created} new, ${summary.rejected} rejected with a reason) ` +
        `in ${summary.seconds.toFixed(1)} s, each published to Kafka topic ${config.mappingTopic}`,
    );
    const probe = [uid(0), uid(1), uid(ids - 1), "never-registered"];
    const bits = await mapper.lookup(probe);
    probe.forEach((u, i) => print(`  lookup ${u.padEnd(18)} -> bit ${bits[i] ?? "not mapped"}`));
    const back = await mapper.reverse(bits.filter((b): b is number => b !== null));
    back.forEach((r) => print(`  reverse -> ${r?.uid} of ${r?.corpId}`));
    const again = await mapper.allocate([{ uid: uid(0), corpId: "corp-0" }]);
    print(`  allocating ${uid(0)} again gives bit ${again.mappings[0]!.bit} (created ${again.created})`);
    const memory = await mapper.memory();
    const stats = await mapper.stats();
    print(
      `  ${stats.ids} IDs in bits 0..${stats.bitSpan - 1} (${config.mapGroups} groups), ` +
        `${memory.bytesPerId?.toFixed(1)} Redis bytes per ID for both directions`,
    );
    print(`  look inside: BITSYNC_MAP_NAMESPACE=${NAMESPACE} bitsync map lookup ${uid(0)} --json`);
  } finally {
    await publisher.disconnect().catch(() => undefined);
    await close();
    rmSync(dir, { recursive: true, force: true });
  }
}
