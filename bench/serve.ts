// bench:serve — the users' load test of the HTTP API, with autocannon, against a daemon
// (`bitsync serve`, its own process) on a generated dataset: ~1M mapped users and audiences of
// four densities. For each route it finds the maximum QPS at which p99 <= 200 ms and success >=
// 99.99% (concurrency raised step by step), then holds a fixed QPS; a no-op route on the same
// server is measured the same way, so every figure is also a ratio to it.
//
//   npm run bench:serve [-- --quick] [-- --json] [-- --users 1000000] [-- --max-connections 256]
//                       [-- --workers auto] (BITSYNC_HTTP_WORKERS of the daemon: auto, one per core,
//                                           as on a serving host; 1 for a single process)
//                       [-- --hold single=10000,batch=1000] [-- --out bench/results/serve] [-- --fresh]
//
// The npm script brings the local stack up first (scripts/bench-serve.sh). Writes results.json,
// results.md and latency.svg to --out; --json ends stdout with one JSON object.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { availableParallelism, cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { freePort } from "../orchestrator/util/net.js";
import { mulberry32 } from "../orchestrator/util/prng.js";
import { AUDIENCES, benchEnv, prepareDataset, type Dataset } from "./serve/dataset.js";
import {
  findMaxQps,
  holdQps,
  pairedRatio,
  probeLatency,
  SLO,
  type LoadOptions,
  type LoadPoint,
  type StepPlan,
  type Target,
} from "./serve/load.js";
import { writeReport, type Report, type RouteResult } from "./serve/report.js";

const { values: args } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    fresh: { type: "boolean", default: false },
    users: { type: "string", default: "1000000" },
    "max-connections": { type: "string", default: "256" },
    workers: { type: "string", default: "auto" },
    hold: { type: "string", default: "" },
    out: { type: "string", default: "bench/results/serve" },
  },
});
const log = (line: string): void => console.error(line);
for (const k of ["REDIS_URL", "MYSQL_URL", "KAFKA_BROKERS"]) {
  if (!process.env[k]) {
    console.error(`bench:serve needs the local stack (${k} is not set): run it with \`npm run bench:serve\``);
    process.exit(2);
  }
}

const workers = args.workers === "auto" ? availableParallelism() : Number(args.workers);
if (!Number.isInteger(workers) || workers < 1) {
  console.error(`--workers ${args.workers}: expected auto or a count of processes`);
  process.exit(2);
}
const maxConnections = Number(args["max-connections"]);
const doubling = (from: number): number[] => {
  const out: number[] = [];
  for (let c = from; c <= maxConnections; c *= from === 1 ? 2 : 4) out.push(c);
  return out;
};
const QUICK: StepPlan = { warmSeconds: 1, stepSeconds: 2, connections: doubling(4) };
const FULL: StepPlan = { warmSeconds: 2, stepSeconds: 5, connections: doubling(1) };
const plan = args.quick ? QUICK : FULL;
const holdSeconds = args.quick ? 3 : 15;
const probeRounds = args.quick ? 200 : 1000;
const pairRounds = args.quick ? 6 : 8;
const HOLD_DEFAULTS: Record<string, number> = { noop: 10_000, single: 10_000, batch: 1_000, page: 250 };
const hold = { ...HOLD_DEFAULTS };
for (const kv of args.hold.split(",").filter(Boolean)) {
  const [k, v] = kv.split("=");
  if (!k || !(k in hold) || !Number.isFinite(Number(v)) || Number(v) <= 0) {
    console.error(`--hold ${kv}: expected ${Object.keys(hold).join("|")}=<qps>`);
    process.exit(2);
  }
  hold[k] = Number(v);
}
const PAGE = 1000;
const BATCH = 1000;

async function startDaemon(port: number): Promise<ChildProcess> {
  const cli = fileURLToPath(new URL("../orchestrator/cli/main.js", import.meta.url));
  const child = spawn(process.execPath, [cli, "serve"], {
    env: {
      ...process.env,
      ...benchEnv(),
      BITSYNC_HTTP_HOST: "127.0.0.1",
      BITSYNC_HTTP_PORT: String(port),
      BITSYNC_HTTP_WORKERS: String(workers),
      BITSYNC_ADMIN_TOKEN: randomBytes(12).toString("base64url"),
      // The daemon runs as in production, registration consumer included, on topics of its own.
      BITSYNC_REGISTRATION_TOPIC: "bench-serve-registrations",
      BITSYNC_MAPPING_TOPIC: "bench-serve-mappings",
      BITSYNC_DLQ_TOPIC: "bench-serve-dlq",
      BITSYNC_CONSUMER_GROUP: "bench-serve",
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the daemon exited with code ${child.exitCode}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      if (res.ok && ((await res.json()) as { status: string }).status === "ready") return child;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error("the daemon did not become ready within 60 s");
    await new Promise((r) => setTimeout(r, 200));
  }
}

function buildTargets(ds: Dataset): Target[] {
  const rnd = mulberry32(42);
  const checked = AUDIENCES[1]!.id; // medium: about one query in two hits
  const members = ds.members.get(checked)!;
  const uid = (): string =>
    rnd() < 0.5 ? ds.uids[members[Math.floor(rnd() * members.length)]!]! : ds.uids[Math.floor(rnd() * ds.users)]!;
  const paged = AUDIENCES[0]!.id; // dense
  const card = ds.cardinality.get(paged)!;
  const pageAt = (depth: number): Target["requests"] => {
    // A few neighbouring ranks, so the pages are not one response over and over.
    const start = Math.min(Math.floor(depth * card), card - PAGE - 16 * 7);
    return Array.from({ length: 16 }, (_, k) => ({
      path: `/v1/audiences/${paged}/members?limit=${PAGE}&rank=${start + k * 7}`,
    }));
  };
  return [
    { name: "noop", description: "GET /v1/noop", method: "GET", requests: [{ path: "/v1/noop" }] },
    {
      name: "single",
      description: `GET contains?uid (audience ${checked})`,
      method: "GET",
      requests: Array.from({ length: 128 }, () => ({ path: `/v1/audiences/${checked}/contains?uid=${uid()}` })),
      checksPerRequest: 1,
    },
    {
      name: "batch",
      description: `POST contains, ${BATCH} uids`,
      method: "POST",
      requests: Array.from({ length: 32 }, () => ({
        path: `/v1/audiences/${checked}/contains`,
        body: JSON.stringify({ uids: Array.from({ length: BATCH }, uid) }),
      })),
      checksPerRequest: BATCH,
    },
    { name: "page_0", description: `members, ${PAGE} at depth 0`, method: "GET", requests: pageAt(0) },
    { name: "page_50", description: `members, ${PAGE} at depth 50%`, method: "GET", requests: pageAt(0.5) },
    { name: "page_99_9", description: `members, ${PAGE} at depth 99.9%`, method: "GET", requests: pageAt(0.999) },
  ];
}

/** The answers must be right before their speed means anything. */
async function verify(base: string, ds: Dataset, targets: Target[]): Promise<void> {
  const checked = AUDIENCES[1]!.id;
  const inAudience = new Set(ds.members.get(checked)!);
  for (let i = 0; i < 200; i++) {
    const u = Math.floor((i * 4999) % ds.users);
    const res = await fetch(`${base}/v1/audiences/${checked}/contains?uid=${ds.uids[u]}`);
    const body = (await res.json()) as { member: boolean };
    if (body.member !== inAudience.has(u))
      throw new Error(`uid ${ds.uids[u]}: member ${body.member}, expected ${!body.member}`);
  }
  for (const t of targets) {
    const req = t.requests[0]!;
    const res = await fetch(base + req.path, {
      method: t.method,
      ...(req.body !== undefined ? { body: req.body, headers: { "content-type": "application/json" } } : {}),
    });
    const body = (await res.json()) as { items?: unknown[]; members?: unknown[] };
    if (res.status !== 200) throw new Error(`${t.name}: ${res.status} ${JSON.stringify(body)}`);
    if (t.name.startsWith("page") && body.items?.length !== PAGE)
      throw new Error(`${t.name}: ${body.items?.length} items`);
    if (t.name === "batch" && body.members?.length !== BATCH) throw new Error(`batch: ${body.members?.length} answers`);
  }
}

const started = Date.now();
const ds = await prepareDataset({ users: Number(args.users), fresh: args.fresh, log });
const port = await freePort();
log(`daemon: starting on port ${port}, ${workers} HTTP worker(s)`);
const daemon = await startDaemon(port);
const stopDaemon = (): void => void daemon.kill("SIGTERM");
process.once("exit", stopDaemon);
const base = `http://127.0.0.1:${port}`;
try {
  const targets = buildTargets(ds);
  await verify(base, ds, targets);
  log("answers verified against the dataset");
  const opts: LoadOptions = { baseUrl: base, serverPid: daemon.pid! };
  const routes: RouteResult[] = [];
  for (const t of targets) {
    log(`\n${t.name}: ${t.description}`);
    const search = await findMaxQps(t, opts, plan, (p) =>
      log(
        `  ${String(p.connections).padStart(3)} connections: ${p.achieved} req/s, p50 ${p.latencyMs.p50} ms, ` +
          `p99 ${p.latencyMs.p99} ms, success ${(p.success * 100).toFixed(3)}%, server ${p.serverCores.toFixed(2)} cores, ` +
          `client ${p.clientCores.toFixed(2)}${p.withinSlo ? "" : " (outside the SLO)"}`,
      ),
    );
    const qps = hold[t.name.startsWith("page") ? "page" : t.name]!;
    // autocannon's duration includes its ramp-up: 98% of the rate is the rate held.
    const isHeld = (p: LoadPoint): boolean => p.withinSlo && p.achieved >= 0.98 * qps;
    const h = await holdQps(t, opts, search, holdSeconds, qps, isHeld);
    const held = isHeld(h);
    log(
      `  max ${search.maxQps} req/s within the SLO (${search.atConnections} connections); ` +
        `held ${qps} req/s on ${h.connections}: ${h.achieved} achieved, ` +
        `success ${(h.success * 100).toFixed(3)}%, p99 ${h.latencyMs.p99} ms${held ? "" : " (NOT held)"}`,
    );
    routes.push({
      name: t.name,
      description: t.description,
      checksPerRequest: t.checksPerRequest ?? 0,
      search,
      hold: { ...h, qps, held },
      probe: { p50: NaN, p99: NaN },
    });
  }
  // The headline ratio, single check against the no-op, from alternating runs at one moderate
  // concurrency (neither queues much there): the step searches alone are too far apart in time
  // on a noisy machine.
  const byTarget = new Map(targets.map((t) => [t.name, t]));
  const noopBest = 16;
  log(`\nsingle vs noop: ${pairRounds} alternating rounds at ${noopBest} connections`);
  const paired = await pairedRatio(
    byTarget.get("single")!,
    byTarget.get("noop")!,
    opts,
    noopBest,
    plan.stepSeconds,
    pairRounds,
  );
  log(
    `  single ${paired.runs.a.join(", ")} req/s; noop ${paired.runs.b.join(", ")} req/s: ratio of medians ${paired.ratio.toFixed(2)}`,
  );
  const probe = await probeLatency(base, targets, probeRounds);
  for (const r of routes) r.probe = probe.get(r.name)!;

  const byName = new Map(routes.map((r) => [r.name, r]));
  const max = (n: string): number => byName.get(n)!.search.maxQps;
  const first = byName.get("page_0")!;
  const deep = byName.get("page_99_9")!;
  const ratios = {
    // Medians of alternating runs at one concurrency (see pairedRatio).
    single_vs_noop: paired.ratio,
    single_vs_noop_max_qps: max("single") / max("noop"),
    batch_vs_noop: max("batch") / max("noop"),
    page_0_vs_noop: max("page_0") / max("noop"),
    // Latency of one page at a time (µs resolution), the deepest against the first.
    deep_page_vs_first_page: deep.probe.p50 / first.probe.p50,
    deep_page_vs_first_page_p99_at_hold: deep.hold.latencyMs.p99 / Math.max(first.hold.latencyMs.p99, 1),
    first_page_vs_deep_page_max_qps: max("page_0") / Math.max(max("page_99_9"), 1),
  };
  const batchChecks = max("batch") * BATCH;
  const report: Report = {
    startedAt: new Date(started).toISOString(),
    seconds: Math.round((Date.now() - started) / 1000),
    quick: args.quick,
    machine: { cpus: cpus().length, node: process.version },
    workers,
    dataset: {
      users: ds.users,
      reused: ds.reused,
      audiences: AUDIENCES.map((a) => ({ ...a, cardinality: ds.cardinality.get(a.id) })),
    },
    load: { connections: plan.connections, slo: SLO, autocannon: "9" },
    routes,
    paired: { connections: noopBest, seconds: plan.stepSeconds, ...paired },
    ratios,
    batch_checks_per_s: batchChecks,
    targets: [
      {
        name: "single check / no-op, QPS (alternating runs)",
        value: ratios.single_vs_noop,
        target: "≥ 0.9",
        met: ratios.single_vs_noop >= 0.9,
      },
      { name: "batch checks per second", value: batchChecks, target: "≥ 3,000,000", met: batchChecks >= 3e6 },
      {
        name: "deepest page / first page, latency",
        value: ratios.deep_page_vs_first_page,
        target: "≤ 1.5",
        met: ratios.deep_page_vs_first_page <= 1.5,
      },
    ],
  };
  const files = await writeReport(args.out, report);
  log(`\nwrote ${files.join(", ")}`);
  for (const t of report.targets)
    log(
      `  ${t.name}: ${t.value >= 1000 ? t.value.toLocaleString("en-US") : t.value.toFixed(3)} (target ${t.target}) ${t.met ? "met" : "NOT met"}`,
    );
  if (args.json)
    console.log(
      JSON.stringify({ ratios, batch_checks_per_s: batchChecks, targets: report.targets, results: files[0] }),
    );
} finally {
  process.off("exit", stopDaemon);
  daemon.kill("SIGTERM");
  await new Promise((r) => daemon.once("exit", r));
}
