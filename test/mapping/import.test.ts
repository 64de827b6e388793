// Cold start against the real stack: files and a MariaDB query in, Redis mappings and Kafka
// records out; rejects with reasons; idempotent re-runs; resumes after real SIGKILLs; four
// importers and the registration consumer allocating overlapping uids at once; checkpoints tied to their mapping; the import's
// files kept apart; and an over-long line rejected without stalling the import.
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createKafka } from "../../orchestrator/kafka/client.js";
import { RecordPublisher } from "../../orchestrator/kafka/producer.js";
import {
  CheckpointMappingError,
  ImportFilesError,
  readCheckpoint,
  runImport,
  type ImportCheckpoint,
} from "../../orchestrator/mapping/import.js";
import { readIdentity } from "../../orchestrator/mapping/identity.js";
import { IdMapper } from "../../orchestrator/mapping/mapper.js";
import { KafkaMappingSink } from "../../orchestrator/mapping/publish.js";
import { csvSource, ndjsonSource, sqlSource, type ImportSource } from "../../orchestrator/mapping/sources.js";
import { mulberry32 } from "../../orchestrator/util/prng.js";
import { lastJson, runCli, startCli } from "../helpers/cli.js";
import { readTopic } from "../helpers/kafka.js";
import { createTestDatabase } from "../helpers/mariadb.js";
import { clearNamespaces } from "../helpers/mapping.js";
import { stackEnv, uniqueName, waitFor } from "../helpers/stack.js";

const rules = { maxBytes: 64, pattern: /^[\x21-\x7e]+$/u };
let redis: Redis;
let publisher: RecordPublisher;
let dir: string;
const namespaces: string[] = [];

beforeAll(async () => {
  redis = new Redis(stackEnv().redisUrl);
  publisher = new RecordPublisher(createKafka({ brokers: stackEnv().kafkaBrokers, clientId: "bitsync-test" }));
  await publisher.connect();
  dir = mkdtempSync(join(tmpdir(), "bitsync-import-"));
});

afterAll(async () => {
  await clearNamespaces(redis, namespaces);
  await publisher.disconnect();
  redis.disconnect();
  rmSync(dir, { recursive: true, force: true });
});

function setup(): { ns: string; topic: string; mapper: IdMapper; env: Record<string, string> } {
  const ns = uniqueName("mi");
  namespaces.push(ns);
  const topic = uniqueName("mapping");
  const mapper = new IdMapper(redis, { groups: 16, rules, batchSize: 1000, cacheEntries: 0, namespace: ns });
  return {
    ns,
    topic,
    mapper,
    env: { BITSYNC_MAP_NAMESPACE: ns, BITSYNC_MAPPING_TOPIC: topic, REDIS_CLUSTER_NODES: "" },
  };
}

const uid = (i: number): string => `imp${String(i).padStart(10, "0")}`;

/** The topic holds at least one record per uid, each {uid, corpId, bit} with the bit Redis has. */
async function expectPublished(topic: string, mapper: IdMapper, uids: string[], corp: (u: string) => string) {
  const want = new Set(uids);
  const seen = new Map<string, { uid: string; corpId: string; bit: number }>();
  await readTopic(topic, (records) => {
    for (const r of records.splice(0)) {
      const v = JSON.parse(r.value!.toString()) as { uid: string; corpId: string; bit: number };
      expect(r.key!.toString()).toBe(v.uid);
      seen.set(v.uid, v);
    }
    return [...want].every((u) => seen.has(u));
  });
  const bits = await mapper.lookup(uids);
  uids.forEach((u, i) => expect(seen.get(u)).toEqual({ uid: u, corpId: corp(u), bit: bits[i] }));
}

async function importAll(
  source: ImportSource,
  mapper: IdMapper,
  topic: string,
  name: string,
  more: { restart?: boolean; rejects?: string; checkpoint?: string } = {},
) {
  return runImport({
    source,
    mapper,
    sink: new KafkaMappingSink(publisher, topic),
    rules,
    batchSize: 700,
    checkpoint: join(dir, `${name}.cp.json`),
    rejects: join(dir, `${name}.rejects`),
    ...more,
  });
}

/** An NDJSON file of uids [from, to), corp "c". */
function ndjsonFile(name: string, from: number, to: number): string {
  const file = join(dir, name);
  const lines = Array.from({ length: to - from }, (_, i) => JSON.stringify({ uid: uid(from + i), corpId: "c" }));
  writeFileSync(file, lines.join("\n") + "\n");
  return file;
}

/** The error `p` rejects with (the test fails if it resolves). */
async function failure(p: Promise<unknown>): Promise<Error> {
  return p.then(
    () => expect.fail("expected a failure"),
    (err: unknown) => err as Error,
  );
}

describe("bitsync map import", () => {
  it("maps an NDJSON file and a CSV file, publishes every mapping, and rejects bad rows with a reason", async () => {
    const { topic, mapper } = setup();
    const uids = Array.from({ length: 3000 }, (_, i) => uid(i));
    const ndjson = join(dir, "a.ndjson");
    writeFileSync(
      ndjson,
      uids
        .slice(0, 2000)
        .map((u, i) => JSON.stringify({ uid: u, corpId: `c${i % 7}`, name: "ignored" }))
        .join("\n") + '\n{"uid":"bad uid","corpId":"c"}\nnot json\r\n\n{"corpId":"c"}\n',
    );
    const csv = join(dir, "b.csv");
    writeFileSync(
      csv,
      "uid,corpId\n" +
        uids
          .slice(2000)
          .map((u, i) => `${u},"c${(i + 2000) % 7}"`)
          .join("\r\n") +
        "\r\nonly-one-field\n" +
        'bad,"quote"x\n',
    );
    const a = await importAll(ndjsonSource(ndjson), mapper, topic, "a");
    expect(a).toMatchObject({ mapped: 2000, created: 2000, rejected: 3, done: true });
    const b = await importAll(csvSource(csv), mapper, topic, "b");
    expect(b).toMatchObject({ mapped: 1000, created: 1000, done: true });
    // The bad quote is reported by the parser, possibly twice (it also finds the quote unclosed).
    expect(b.rejected).toBeGreaterThanOrEqual(2);
    const reasons = readFileSync(join(dir, "a.rejects"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { line: number; reason: string });
    expect(reasons.map((r) => r.line)).toEqual([2001, 2002, 2004]);
    expect(reasons[0]!.reason).toMatch(/does not match/);
    expect(reasons[1]!.reason).toMatch(/^not JSON/);
    expect(reasons[2]!.reason).toBe("uid is missing");
    expect(readFileSync(join(dir, "b.rejects"), "utf8")).toMatch(/expected 2 fields[^]*bad CSV/);
    await expectPublished(topic, mapper, uids, (u) => `c${Number(u.slice(3)) % 7}`);
    // Done: a second run does nothing; --restart maps nothing new, and publishes again.
    expect((await importAll(ndjsonSource(ndjson), mapper, topic, "a")).alreadyDone).toBe(true);
    const again = await runImport({
      source: ndjsonSource(ndjson),
      mapper,
      sink: new KafkaMappingSink(publisher, topic),
      rules,
      batchSize: 700,
      checkpoint: join(dir, "a.cp.json"),
      rejects: join(dir, "a2.rejects"),
      restart: true,
    });
    expect(again).toMatchObject({ mapped: 2000, created: 0, alreadyDone: false });
    expect((await mapper.stats()).ids).toBe(3000);
  });

  it("maps the rows of a MariaDB query, streamed", async () => {
    const { topic, mapper } = setup();
    const db = await createTestDatabase();
    try {
      await db.conn.query("CREATE TABLE users (id INT PRIMARY KEY, uid VARCHAR(64), corp_id BIGINT)");
      const rows = Array.from({ length: 5000 }, (_, i) => [i, uid(i), 900 + (i % 3)]);
      await db.conn.query("INSERT INTO users VALUES ?", [rows]);
      const source = sqlSource(db.url, "SELECT uid, corp_id FROM users ORDER BY id");
      const summary = await importAll(source, mapper, topic, "sql");
      expect(summary).toMatchObject({ mapped: 5000, created: 5000, rejected: 0, position: 5000 });
      // Where the time went: every part measured, and the parts on the import's path within the whole.
      const { readParse, allocate, publish, wait } = summary.time;
      for (const part of [readParse, allocate, publish, wait]) expect(part).toBeGreaterThanOrEqual(0);
      expect(allocate).toBeGreaterThan(0);
      expect(publish).toBeGreaterThan(0);
      // The reading loop's own time and its waits are disjoint parts of the run.
      expect(readParse + wait).toBeLessThanOrEqual(summary.seconds + 0.001);
      const uids = rows.map((r) => r[1] as string);
      await expectPublished(topic, mapper, uids, (u) => String(900 + (Number(u.slice(3)) % 3)));
    } finally {
      await db.drop();
    }
  });

  it("resumes from its checkpoint after being killed at random points, several times", async () => {
    const { topic, mapper, env } = setup();
    // Large enough that three kills, each within 150 ms of a checkpoint, land well before the end.
    const uids = Array.from({ length: 100_000 }, (_, i) => uid(i));
    const file = join(dir, "kill.ndjson");
    writeFileSync(file, uids.map((u) => JSON.stringify({ uid: u, corpId: "k" })).join("\n") + "\n");
    const checkpoint = join(dir, "kill.cp.json");
    const args = ["map", "import", "--ndjson", file, "--checkpoint", checkpoint, "--batch", "500", "--json"];
    const rnd = mulberry32(5);
    let last = 0;
    for (let kill = 0; kill < 3; kill++) {
      const run = startCli(args, env);
      await waitFor("a checkpoint past the last one", () => {
        try {
          return (readCheckpoint(checkpoint)?.position ?? 0) > last ? true : undefined;
        } catch {
          return undefined; // being renamed into place
        }
      });
      // Anywhere from at once to a few batches on: between allocating, publishing and checkpointing.
      await new Promise((r) => setTimeout(r, Math.floor(rnd() * 150)));
      run.child.kill("SIGKILL");
      expect((await run.done).signal).toBe("SIGKILL");
      const killedAt = readCheckpoint(checkpoint)!;
      expect(killedAt.done).toBe(false);
      expect(killedAt.position).toBeLessThan(readFileSync(file).length);
      last = killedAt.position;
    }

    const final = await runCli(args, env);
    expect(final.code, final.stderr).toBe(0);
    const summary = lastJson<{ done: boolean; resumedFrom: number; mapped: number }>(final);
    expect(summary.done).toBe(true);
    expect(summary.resumedFrom).toBe(last);
    // Every uid once in Redis, dense and unique; every uid on the topic at least once.
    const bits = (await mapper.lookup(uids)) as number[];
    expect(bits.every((b) => b !== null)).toBe(true);
    expect(new Set(bits).size).toBe(uids.length);
    const stats = await mapper.stats();
    expect(stats.ids).toBe(uids.length);
    expect(stats.perGroup.reduce((n, g) => n + g.nextSeq, 0)).toBe(uids.length); // no hole
    await expectPublished(topic, mapper, uids, () => "k");
  });

  it("four importers and the registration consumer mapping overlapping uids at once give each uid one bit and each bit one uid", async () => {
    const { mapper, env } = setup();
    // The consumer maps registrations of uids [20000, 30000) while the importers run: a third of
    // them are in the importers' files too.
    const registrations = uniqueName("reg");
    const consumerEnv = {
      ...env,
      BITSYNC_REGISTRATION_TOPIC: registrations,
      BITSYNC_DLQ_TOPIC: uniqueName("dlq"),
      BITSYNC_CONSUMER_GROUP: uniqueName("grp"),
      BITSYNC_CONSUMER_SESSION_TIMEOUT_MS: "6000",
    };
    const registered = Array.from({ length: 10_000 }, (_, i) => uid(20_000 + i));
    const consumer = startCli(["map", "consume"], consumerEnv);
    const publish = (from: number, to: number) =>
      publisher.publish(
        registrations,
        registered.slice(from, to).map((u) => ({ key: u, value: JSON.stringify({ uid: u, corpId: "r" }) })),
      );
    // The consumer is mapping before the importers start, and registrations keep coming while they run.
    await publish(0, 500);
    await waitFor("the consumer to map", async () => (await mapper.lookup([registered[0]!]))[0] ?? undefined, 60_000);
    const stream = (async () => {
      for (let o = 500; o < registered.length; o += 500) {
        await publish(o, o + 500);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    // Process k maps uids [k * 5000, k * 5000 + 10000): every uid is in two files.
    const runs = [0, 1, 2, 3].map((k) => {
      const file = join(dir, `p${k}.ndjson`);
      const mine = Array.from({ length: 10_000 }, (_, i) => uid(((k * 5000 + i) * 7) % 25_000));
      writeFileSync(file, mine.map((u) => JSON.stringify({ uid: u, corpId: `p${k}` })).join("\n") + "\n");
      return runCli(["map", "import", "--ndjson", file, "--batch", "300", "--json"], env);
    });
    const done = await Promise.all(runs);
    await stream;
    for (const r of done) expect(r.code, r.stderr).toBe(0);
    const all = Array.from({ length: 30_000 }, (_, i) => uid(i));
    await waitFor(
      "the consumer to map every registration",
      async () => ((await mapper.lookup(registered)).every((b) => b !== null) ? true : undefined),
      90_000,
    );
    consumer.child.kill("SIGTERM");
    expect((await consumer.done).code).toBe(0);
    const bits = (await mapper.lookup(all)) as number[];
    expect(bits.every((b) => b !== null)).toBe(true);
    expect(new Set(bits).size).toBe(all.length); // no bit twice
    const stats = await mapper.stats();
    expect(stats.ids).toBe(all.length); // no uid allocated twice
    // Dense: every group handed out exactly as many seqs as it holds uids (no hole).
    expect(stats.perGroup.reduce((n, g) => n + g.nextSeq, 0)).toBe(all.length);
    const back = await mapper.reverse(bits);
    expect(back.map((b) => b!.uid)).toEqual(all); // reverse of forward is the identity
    // The four created the mapping's identity at once: one for all, in every group and checkpoint.
    const identity = await readIdentity(mapper);
    expect(identity.missing).toEqual([]);
    const named = [0, 1, 2, 3].map((k) => readCheckpoint(join(dir, `p${k}.ndjson.bitsync-checkpoint.json`))!.mapping);
    expect(named).toEqual([identity.id, identity.id, identity.id, identity.id]);
  });

  it("lookup, reverse and stats print what the CLI promises, with --json", async () => {
    const { mapper, env } = setup();
    const { mappings } = await mapper.allocate([
      { uid: "cli-a", corpId: "c1" },
      { uid: "cli-b", corpId: "c2" },
    ]);
    const [a, b] = mappings.map((m) => m.bit);
    const lookup = await runCli(["map", "lookup", "cli-a", "cli-b", "cli-none", "--json"], env);
    expect(lookup.code, lookup.stderr).toBe(0);
    expect(lastJson(lookup)).toEqual({ bits: { "cli-a": a, "cli-b": b, "cli-none": null } });
    const reverse = await runCli(
      ["map", "reverse", String(a), String(b), "999999", "18446744073709551615", "--json"],
      env,
    );
    expect(reverse.code, reverse.stderr).toBe(0);
    expect(lastJson(reverse)).toEqual({
      uids: {
        [String(a)]: { uid: "cli-a", corpId: "c1" },
        [String(b)]: { uid: "cli-b", corpId: "c2" },
        "999999": null,
        "18446744073709551615": null,
      },
    });
    const stats = lastJson<{ count: number; nextBit: number; bytesPerId: number }>(
      await runCli(["map", "stats", "--json"], env),
    );
    expect(stats.count).toBe(2);
    expect(stats.nextBit).toBe(Math.max(a!, b!) + 1);
    expect(stats.bytesPerId).toBeGreaterThan(0);
    const bad = await runCli(["map", "reverse", "-5"], env);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
  });

  describe("a checkpoint belongs to its mapping", () => {
    it("refuses to call an import done when the mapping was lost, and --restart maps it again", async () => {
      const { ns, topic, mapper, env } = setup();
      const file = ndjsonFile("lost.ndjson", 0, 3000);
      const checkpoint = join(dir, "lost.cp.json");
      const args = ["map", "import", "--ndjson", file, "--checkpoint", checkpoint, "--json"];
      const first = await runCli(args, env);
      expect(first.code, first.stderr).toBe(0);
      expect(readCheckpoint(checkpoint)).toMatchObject({ done: true, namespace: ns, mapped: 3000 });
      await mapper.clear(); // the mapping is lost (a flushed Redis, a failover to an empty replica)
      const again = await runCli(args, env);
      expect(again.code).toBe(1);
      expect(again.stdout).not.toContain('"alreadyDone":true');
      expect(again.stderr.trim()).toMatch(
        /^bitsync map import: checkpoint .*lost\.cp\.json does not belong to this ID mapping: the mapping in namespace \S+ is empty \(it was lost, or this is another Redis\), though the checkpoint counts 3000 IDs mapped into it\. To import again into this mapping, pass --restart \(safe: .*nothing is mapped twice\); if the mapping lost IDs, run `bitsync map rebuild` first/,
      );
      const restarted = await runCli([...args, "--restart"], env);
      expect(restarted.code, restarted.stderr).toBe(0);
      expect(lastJson(restarted)).toMatchObject({ done: true, alreadyDone: false, mapped: 3000, created: 3000 });
      expect((await mapper.stats()).ids).toBe(3000);
      expect((await mapper.lookup([uid(0), uid(2999)])).every((b) => b !== null)).toBe(true);
      // The restarted import made the mapping a new identity, recorded in its checkpoint.
      expect(readCheckpoint(checkpoint)!.mapping).toBe((await readIdentity(mapper)).id);
      await expectPublished(topic, mapper, [uid(0), uid(2999)], () => "c");
    });

    it("refuses a checkpoint of another namespace, naming the one to set", async () => {
      const { ns, topic, mapper } = setup();
      const other = setup().mapper;
      const file = ndjsonFile("ns.ndjson", 0, 500);
      await importAll(ndjsonSource(file), mapper, topic, "ns");
      const err = await failure(importAll(ndjsonSource(file), other, topic, "ns"));
      expect(err).toBeInstanceOf(CheckpointMappingError);
      expect(err.message).toBe(
        `checkpoint ${join(dir, "ns.cp.json")} was made for the ID mapping in namespace ${ns}, and ` +
          `BITSYNC_MAP_NAMESPACE is ${other.keys.namespace}: set BITSYNC_MAP_NAMESPACE=${ns} to resume it, ` +
          `or pass --restart to import into ${other.keys.namespace}`,
      );
      expect((await other.stats()).ids).toBe(0);
      expect((await importAll(ndjsonSource(file), mapper, topic, "ns")).alreadyDone).toBe(true);
    });

    it("refuses a checkpoint of a mapping made again, rebuilt, or partly lost since", async () => {
      const { topic, mapper } = setup();
      const file = ndjsonFile("again.ndjson", 0, 2000);
      const resume = () => importAll(ndjsonSource(file), mapper, topic, "again");
      await resume();
      const made = readCheckpoint(join(dir, "again.cp.json"))!.mapping!;
      const { mappings } = await mapper.allocate(
        Array.from({ length: 2000 }, (_, i) => ({ uid: uid(i), corpId: "c" })),
      );

      // Part of the mapping is lost: one group's keys are gone.
      await redis.del(mapper.keys.meta(5));
      let err = await failure(resume());
      expect(err).toBeInstanceOf(CheckpointMappingError);
      expect(err.message).toMatch(/: groups 5 of the mapping in namespace \S+ lost their data since\. To import again/);

      // Lost whole, then rebuilt from the topic (restore, as `bitsync map rebuild` does): IDs, no identity.
      await mapper.clear();
      expect((await mapper.restore(mappings)).restored).toBe(2000);
      err = await failure(resume());
      expect(err.message).toMatch(
        /: the mapping in namespace \S+ holds 2000 IDs but no identity: it was lost and rebuilt since\. To import again into this mapping, pass --restart/,
      );

      // Made again by another import: another identity.
      await mapper.clear();
      await importAll(ndjsonSource(ndjsonFile("other.ndjson", 5000, 5100)), mapper, topic, "other");
      const now = (await readIdentity(mapper)).id!;
      expect(now).not.toBe(made);
      err = await failure(resume());
      expect(err.message).toContain(
        `is mapping ${now}, the checkpoint's is ${made} (the mapping was lost and made again since`,
      );

      // --restart imports into this mapping: bits of uids mapped before are kept.
      await mapper.clear();
      await mapper.restore(mappings);
      const restarted = await importAll(ndjsonSource(file), mapper, topic, "again", { restart: true });
      expect(restarted).toMatchObject({ mapped: 2000, created: 0, done: true });
      expect(await mapper.lookup(mappings.map((m) => m.uid))).toEqual(mappings.map((m) => m.bit));
    });

    it("refuses a checkpoint of an earlier version, which names no mapping", async () => {
      const { topic, mapper } = setup();
      const file = ndjsonFile("legacy.ndjson", 0, 100);
      await importAll(ndjsonSource(file), mapper, topic, "legacy");
      const path = join(dir, "legacy.cp.json");
      const { namespace: _ns, mapping: _id, line: _line, ...legacy } = readCheckpoint(path)!;
      writeFileSync(path, JSON.stringify(legacy satisfies ImportCheckpoint));
      const err = await failure(importAll(ndjsonSource(file), mapper, topic, "legacy"));
      expect(err).toBeInstanceOf(CheckpointMappingError);
      expect(err.message).toMatch(
        /: it was written by an earlier version of bitsync and names no mapping\. To import again into this mapping, pass --restart/,
      );
      expect((await importAll(ndjsonSource(file), mapper, topic, "legacy", { restart: true })).created).toBe(0);
    });
  });

  it("refuses rejects or a checkpoint written into the input file, before writing anything", async () => {
    const { topic, mapper, env } = setup();
    const file = join(dir, "own.ndjson");
    const content = '{"uid":"own-1","corpId":"c"}\nnot json\n';
    writeFileSync(file, content);
    const link = join(dir, "own-link.ndjson");
    symlinkSync(file, link);
    const err = await failure(importAll(ndjsonSource(file), mapper, topic, "own", { rejects: link }));
    expect(err).toBeInstanceOf(ImportFilesError);
    expect(err.message).toBe(
      `--rejects ${link} is the input file ${file}: rejected rows would be appended to the input. ` +
        `Name another file (default: <checkpoint>.rejects)`,
    );
    const cp = await failure(
      importAll(ndjsonSource(file), mapper, topic, "own", { checkpoint: `${dir}/./own.ndjson` }),
    );
    expect(cp.message).toMatch(/^--checkpoint .* is the input file .*: the checkpoint would overwrite the input/);
    const same = await failure(
      importAll(ndjsonSource(file), mapper, topic, "own", { rejects: join(dir, "own.cp.json") }),
    );
    expect(same.message).toMatch(/^--rejects .* is the checkpoint file: rejected rows would corrupt the checkpoint/);
    const cli = await runCli(
      ["map", "import", "--ndjson", file, "--rejects", `${dir}/../${dir.split("/").pop()}/own.ndjson`],
      env,
    );
    expect(cli.code).toBe(1);
    expect(cli.stderr).toMatch(/^bitsync map import: --rejects .* is the input file/);
    expect(readFileSync(file, "utf8")).toBe(content);
    expect((await mapper.stats()).ids).toBe(0);
  });

  it("rejects a line over the limit with its number, fast, and imports the lines after it", async () => {
    const { topic, mapper } = setup();
    const file = join(dir, "long.ndjson");
    const before = Array.from({ length: 1000 }, (_, i) => JSON.stringify({ uid: uid(i), corpId: "c" }) + "\n").join("");
    const after = Array.from(
      { length: 1000 },
      (_, i) => JSON.stringify({ uid: uid(1000 + i), corpId: "c" }) + "\n",
    ).join("");
    // An export that lost its newlines for 64 MiB: one line, no end in sight.
    const long = Buffer.alloc(64 << 20, "x");
    writeFileSync(file, Buffer.concat([Buffer.from(before), long, Buffer.from("\n" + after)]));
    const started = performance.now();
    const summary = await importAll(ndjsonSource(file), mapper, topic, "long");
    console.log(`64 MiB line rejected, 2000 rows imported in ${(performance.now() - started).toFixed(0)} ms`);
    expect(summary).toMatchObject({ mapped: 2000, rejected: 1, done: true, position: readFileSync(file).length });
    const rejects = readFileSync(join(dir, "long.rejects"), "utf8").trim().split("\n");
    expect(rejects).toHaveLength(1);
    const reject = JSON.parse(rejects[0]!) as { line: number; reason: string; raw: string };
    expect(reject).toEqual({
      line: 1001,
      reason: `line of ${64 << 20} bytes is over the limit of 1048576 (--max-line-bytes): skipped (a missing newline?)`,
      raw: `${"x".repeat(64)}...`,
    });
    expect((await mapper.stats()).ids).toBe(2000);
  });
});
