// The demo of the whole pipeline on the local stack, as a newcomer meets it:
//   MariaDB `users` -> cold-start ID mapping (published to Kafka) -> audiences built by the
//   "warehouse" over the mapped bits, stored in `user_group_bmp` as StarRocks BITMAPs -> sync into
//   Redis (then a delta re-sync) -> the daemon (HTTP API + registration consumer) -> ready-to-paste
//   curl commands -> serving until Ctrl-C. `once` answers each route itself and stops instead.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mysql from "mysql2/promise";
import type { Logger } from "pino";
import { configFromEnv } from "../config/config.js";
import { RecordPublisher } from "../kafka/producer.js";
import { createMappingContext } from "../mapping/context.js";
import { runImport } from "../mapping/import.js";
import { KafkaMappingSink } from "../mapping/publish.js";
import { sqlSource } from "../mapping/sources.js";
import { startDaemon } from "../serve/daemon.js";
import { createSyncContext } from "../sync/context.js";
import { syncAudience } from "../sync/sync.js";
import { mulberry32 } from "../util/prng.js";
import { BitmapCore } from "../wasm/core.js";
import { createAudienceTable, starrocksValue } from "./warehouse.js";

const NAMESPACE = "demo";
const IMP_DATE = 20261122;

interface User {
  id: number;
  uid: string;
  corpId: string;
  grade: number;
  lastSeenDays: number;
  active: boolean;
}

const AUDIENCES: { id: string; name: string; test: (u: User) => boolean }[] = [
  { id: "1001", name: "attended in the last 3 days", test: (u) => u.lastSeenDays <= 3 },
  { id: "1002", name: "grade 7, active", test: (u) => u.grade === 7 && u.active },
  { id: "1003", name: "churn risk: active, unseen for 25+ days", test: (u) => u.active && u.lastSeenDays >= 25 },
];

export interface PipelineDemoOptions {
  users: number;
  /** Answer every route once and stop, instead of serving until Ctrl-C. */
  once: boolean;
  print: (line: string) => void;
  log: Logger;
}

function makeUsers(n: number): User[] {
  const rnd = mulberry32(7);
  return Array.from({ length: n }, (_, id) => ({
    id,
    uid: `u${String((id * 2654435761) % 4294967291).padStart(10, "0")}`,
    corpId: `corp-${1 + Math.floor(rnd() * 20)}`,
    grade: 1 + Math.floor(rnd() * 12),
    lastSeenDays: Math.floor(rnd() ** 2 * 30),
    active: rnd() < 0.7,
  }));
}

export async function runPipelineDemo(opts: PipelineDemoOptions): Promise<void> {
  const { print, log } = opts;
  const env = process.env;
  const base = configFromEnv({ ...env, BITSYNC_MAP_NAMESPACE: NAMESPACE, REDIS_CLUSTER_NODES: "" });
  const conn = await mysql.createConnection(base.mysqlUrl);
  const core = BitmapCore.create({ budgetBytes: 64 << 20 });
  const started = performance.now();
  const step = (line: string): void => print(`[${((performance.now() - started) / 1000).toFixed(1)} s] ${line}`);
  try {
    // ---- 1. the users table -----------------------------------------------------------------
    const users = makeUsers(opts.users);
    await conn.query("DROP TABLE IF EXISTS users");
    await conn.query(
      "CREATE TABLE users (id INT PRIMARY KEY, uid VARCHAR(64) NOT NULL, corp_id VARCHAR(32) NOT NULL, " +
        "grade INT NOT NULL, last_seen_days INT NOT NULL, active TINYINT NOT NULL)",
    );
    for (let o = 0; o < users.length; o += 5000) {
      const rows = users
        .slice(o, o + 5000)
        .map((u) => [u.id, u.uid, u.corpId, u.grade, u.lastSeenDays, u.active ? 1 : 0]);
      await conn.query("INSERT INTO users VALUES ?", [rows]);
    }
    step(`MariaDB: table users with ${users.length} users (uid, corp_id, grade, last_seen_days, active)`);

    // ---- 2. cold-start mapping --------------------------------------------------------------
    const mapping = createMappingContext(base, log);
    const publisher = new RecordPublisher(mapping.kafka, { log }); // the context's one Kafka client
    const dir = mkdtempSync(join(tmpdir(), "bitsync-demo-"));
    let bits: (number | null)[];
    try {
      await mapping.mapper.clear(); // the demo's own namespace, fresh each run
      await publisher.connect();
      const imported = await runImport({
        source: sqlSource(base.mysqlUrl, "SELECT uid, corp_id FROM users ORDER BY id"),
        mapper: mapping.mapper,
        sink: new KafkaMappingSink(publisher, base.mappingTopic, base.mappingsPerMessage),
        rules: { maxBytes: base.mapUidMaxBytes, pattern: base.mapUidPattern },
        batchSize: 20_000,
        expectedIds: users.length,
        checkpoint: join(dir, "import.checkpoint.json"),
        rejects: join(dir, "import.rejects"),
      });
      step(
        `mapping: ${imported.mapped} uids got dense bits in ${imported.seconds.toFixed(1)} s, ` +
          `each published to Kafka topic ${base.mappingTopic} (key uid, value {uid, corpId, bit})`,
      );
      bits = await mapping.mapper.lookup(users.map((u) => u.uid));
    } finally {
      await publisher.disconnect().catch(() => undefined);
      await mapping.close();
      rmSync(dir, { recursive: true, force: true });
    }

    // ---- 3. the warehouse's audiences ---------------------------------------------------------
    await createAudienceTable(conn, "user_group_bmp");
    const put = async (id: string, date: number, members: User[]): Promise<void> => {
      // Two hash parts, split by user id as the warehouse splits by hash(uid).
      for (const part of [0, 1]) {
        const partBits = members.filter((u) => u.id % 2 === part).map((u) => bits[u.id]!);
        await conn.execute("INSERT INTO user_group_bmp VALUES (?, ?, ?, ?, ?)", [
          id,
          date,
          part,
          starrocksValue(core, partBits),
          partBits.length,
        ]);
      }
    };
    for (const a of AUDIENCES) await put(a.id, IMP_DATE, users.filter(a.test));
    step(`MariaDB: table user_group_bmp with ${AUDIENCES.length} audiences × 2 hash parts, StarRocks BITMAP bytes`);

    // ---- 4. sync ----------------------------------------------------------------------------
    const config = configFromEnv({
      ...env,
      BITSYNC_MAP_NAMESPACE: NAMESPACE,
      REDIS_CLUSTER_NODES: "",
      BITSYNC_SOURCE_DIALECT: "mysql",
      BITSYNC_SOURCE_TABLE: "user_group_bmp",
      BITSYNC_SOURCE_COUNT_COLUMN: "cnt",
      BITSYNC_ADMIN_TOKEN: env.BITSYNC_ADMIN_TOKEN || randomBytes(9).toString("base64url"),
      BITSYNC_HTTP_HOST: env.BITSYNC_HTTP_HOST ?? "127.0.0.1",
    });
    const sync = createSyncContext(config, log);
    try {
      for (const a of AUDIENCES) {
        // Each run starts from scratch: the demo audiences' keys are the demo's own.
        const stale = await sync.store.allKeys(a.id);
        if (stale.length > 0) await sync.redis.del(...stale);
        const r = await syncAudience(sync.deps, a.id);
        step(`sync ${a.id} (${a.name}): version ${r.version}, ${r.cardinality} members, ${r.segments} segments`);
      }
      // The next day one audience changes a little: only the segments that changed are written.
      const nextDay = users.filter((u) => AUDIENCES[0]!.test(u) || u.id % 997 === 0);
      await put(AUDIENCES[0]!.id, IMP_DATE + 1, nextDay);
      const r = await syncAudience(sync.deps, AUDIENCES[0]!.id);
      step(
        `re-sync ${r.audience} at imp_date ${r.impDate}: version ${r.version}, ${r.written} segments written, ` +
          `${r.reused} reused (delta sync)`,
      );
    } finally {
      await sync.close();
    }

    // ---- 5. the daemon ------------------------------------------------------------------------
    let daemon;
    try {
      daemon = await startDaemon(config, log);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EADDRINUSE") throw err;
      daemon = await startDaemon({ ...config, httpPort: 0 }, log);
    }
    const url = daemon.url;
    const member = users.find((u) => AUDIENCES[1]!.test(u))!;
    const outsider = users.find((u) => !AUDIENCES[1]!.test(u))!;
    const a = AUDIENCES[1]!.id;
    const expr = `${AUDIENCES[0]!.id} & ${AUDIENCES[1]!.id} & !${AUDIENCES[2]!.id}`;
    const token = config.adminToken;
    const routes: { what: string; curl: string; method: string; path: string; body?: unknown; auth?: boolean }[] = [
      {
        what: "is this uid in the audience?",
        method: "GET",
        path: `/v1/audiences/${a}/contains?uid=${member.uid}`,
        curl: "",
      },
      { what: "a uid that is not", method: "GET", path: `/v1/audiences/${a}/contains?uid=${outsider.uid}`, curl: "" },
      { what: "by bit", method: "GET", path: `/v1/audiences/${a}/contains?bit=${bits[member.id]}`, curl: "" },
      {
        what: "a batch, answered in order",
        method: "POST",
        path: `/v1/audiences/${a}/contains`,
        body: { uids: [member.uid, outsider.uid, "never-registered"] },
        curl: "",
      },
      { what: "a set expression", method: "POST", path: "/v1/contains", body: { uid: member.uid, expr }, curl: "" },
      { what: "a page of members (follow next)", method: "GET", path: `/v1/audiences/${a}/members?limit=5`, curl: "" },
      { what: "the audience's versions", method: "GET", path: `/v1/audiences/${a}`, curl: "" },
      { what: "admin: sync now", method: "POST", path: `/v1/audiences/${a}/sync`, auth: true, curl: "" },
      { what: "admin: roll back", method: "POST", path: `/v1/audiences/${a}/rollback`, auth: true, curl: "" },
      { what: "readiness", method: "GET", path: "/readyz", curl: "" },
      { what: "Prometheus metrics", method: "GET", path: "/metrics", curl: "" },
      { what: "the OpenAPI document", method: "GET", path: "/openapi.json", curl: "" },
    ];
    step(`daemon: serving on ${url} (HTTP API, registration consumer on ${config.registrationTopic})`);
    print("\nTry it (in another terminal):");
    for (const r of routes) {
      const parts = ["curl -s"];
      if (r.method === "POST") parts.push("-X POST");
      if (r.auth) parts.push(`-H 'Authorization: Bearer ${token}'`);
      if (r.body !== undefined) parts.push(`-H 'content-type: application/json' -d '${JSON.stringify(r.body)}'`);
      parts.push(`'${url}${r.path}'`);
      r.curl = parts.join(" ");
      print(`  # ${r.what}\n  ${r.curl}`);
    }
    print(
      `  # register a new user through Kafka, then look up its bit\n` +
        `  echo '{"uid":"new-user-1","corpId":"corp-1"}' | kcat -b ${config.kafkaBrokers.join(",")} -t ${config.registrationTopic} -P -k new-user-1\n` +
        `  BITSYNC_MAP_NAMESPACE=${NAMESPACE} node dist/orchestrator/cli/main.js map lookup new-user-1 --json`,
    );

    if (opts.once) {
      print("\n--once: answering each route here, then stopping");
      for (const r of routes) {
        const res = await fetch(url + r.path, {
          method: r.method,
          headers: {
            ...(r.auth ? { authorization: `Bearer ${token}` } : {}),
            ...(r.body !== undefined ? { "content-type": "application/json" } : {}),
          },
          ...(r.body !== undefined ? { body: JSON.stringify(r.body) } : {}),
        });
        const text = await res.text();
        print(`  ${r.method} ${r.path} -> ${res.status} ${text.length > 160 ? `${text.slice(0, 157)}...` : text}`);
        if (res.status >= 400) throw new Error(`demo route ${r.method} ${r.path} answered ${res.status}: ${text}`);
      }
    } else {
      print("\nServing until Ctrl-C.");
      await new Promise<void>((resolve) => {
        process.once("SIGINT", () => resolve());
        process.once("SIGTERM", () => resolve());
      });
    }
    await daemon.stop();
    step("daemon stopped");
  } finally {
    await conn.end();
  }
}
