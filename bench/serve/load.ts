// The users' two load-test scenarios, with autocannon against a running daemon:
//  1. raise the load step by step and find the maximum QPS at which p99 <= 200 ms and success
//     >= 99.99%. The load is raised by concurrency (connections, each sending its next request
//     when the last is answered: 1, 2, 4, ...), not by autocannon's rate limit: that limit lets
//     every connection send its quota for the second at the start of the second, so at a low
//     per-connection rate all connections fire at once and p99 measures the burst, not the
//     server (pages at half their capacity showed p50 ~100 ms that way);
//  2. hold a fixed QPS (autocannon's overallRate) and report the success rate and p99, on as
//     few connections as carry it, so bursts stay small.
// Requests are prebuilt: autocannon builds each one once per connection and cycles through them,
// so the load generator spends its CPU on sending, not on building (keep the lists short: a list
// of n requests costs n builds per connection at the start of every run).
import { readFileSync } from "node:fs";
import autocannon from "autocannon";

export const SLO = { p99Ms: 200, success: 0.9999 };

export interface Target {
  name: string;
  description: string;
  method: "GET" | "POST";
  /** Cycled through by every connection. */
  requests: { path: string; body?: string }[];
  /** Checks answered per request (1000 for a batch of 1000 uids). */
  checksPerRequest?: number;
}

export interface LoadPoint {
  /** Connections, each with one request in flight. */
  connections: number;
  /** Requests per second asked for (autocannon's overallRate); null: as fast as the connections go. */
  rate: number | null;
  /** 2xx responses per second. */
  achieved: number;
  latencyMs: { mean: number; p50: number; p90: number; p99: number; p999: number; max: number };
  /** 2xx / (all responses + connection errors and timeouts). */
  success: number;
  responses: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** CPU of the daemon and of this process (the load generator), in cores. */
  serverCores: number;
  clientCores: number;
  /** p99 and success within the SLO. */
  withinSlo: boolean;
}

export interface LoadOptions {
  baseUrl: string;
  serverPid: number;
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** CPU seconds of a process and of its children (the workers of a `bitsync serve` cluster). */
function processCpuSeconds(pid: number): number {
  const own = (p: number): number => {
    // Fields after the command name: utime and stime are the 12th and 13th.
    const stat = readFileSync(`/proc/${p}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  };
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
    return own(pid) + children.reduce((n, c) => n + own(Number(c)), 0);
  } catch {
    return NaN;
  }
}

export async function runLoad(
  target: Target,
  opts: LoadOptions,
  seconds: number,
  connections: number,
  rate: number | null,
): Promise<LoadPoint> {
  const server0 = processCpuSeconds(opts.serverPid);
  const client0 = process.cpuUsage();
  const t0 = performance.now();
  const result = await autocannon({
    url: opts.baseUrl,
    connections,
    duration: seconds,
    timeout: 10,
    ...(rate !== null ? { overallRate: Math.max(1, Math.round(rate)) } : {}),
    requests: target.requests.map((r) => ({
      method: target.method,
      path: r.path,
      ...(r.body !== undefined ? { body: r.body, headers: { "content-type": "application/json" } } : {}),
    })),
  });
  const wall = (performance.now() - t0) / 1000;
  const client = process.cpuUsage(client0);
  const ok = result["2xx"];
  const responses = ok + result.non2xx;
  const attempts = responses + result.errors;
  const success = attempts === 0 ? 0 : ok / attempts;
  const l = result.latency;
  const achieved = ok / result.duration;
  const point: LoadPoint = {
    connections: result.connections,
    rate: rate === null ? null : Math.max(1, Math.round(rate)),
    achieved: Math.round(achieved),
    latencyMs: { mean: l.mean, p50: l.p50, p90: l.p90, p99: l.p99, p999: l.p99_9, max: l.max },
    success,
    responses,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    serverCores: (processCpuSeconds(opts.serverPid) - server0) / wall,
    clientCores: (client.user + client.system) / 1e6 / wall,
    withinSlo: ok > 0 && l.p99 <= SLO.p99Ms && success >= SLO.success,
  };
  return point;
}

export interface StepPlan {
  /** Unthrottled load before the search, after one pass over every distinct request. */
  warmSeconds: number;
  stepSeconds: number;
  /** Connections of each step, ascending. */
  connections: number[];
}

export interface StepResult {
  steps: LoadPoint[];
  /** The highest 2xx rate of any step within the SLO; 0 if none. */
  maxQps: number;
  /** Connections of that step. */
  atConnections: number;
}

/**
 * Scenario 1: raise the concurrency step by step until a step leaves the SLO or the last step;
 * past saturation more connections only queue, which is the part of the curve the SLO cuts.
 */
export async function findMaxQps(
  target: Target,
  opts: LoadOptions,
  plan: StepPlan,
  onPoint: (p: LoadPoint) => void,
): Promise<StepResult> {
  // Steady state, as a serving instance in rotation sees it: every uid of the requests has been
  // looked up once (the LRU holds it) and every segment is resident.
  await probeLatency(opts.baseUrl, [target], target.requests.length);
  if (plan.warmSeconds > 0) await runLoad(target, opts, plan.warmSeconds, plan.connections.at(-1)!, null);
  const steps: LoadPoint[] = [];
  for (const c of plan.connections) {
    const p = await runLoad(target, opts, plan.stepSeconds, c, null);
    steps.push(p);
    onPoint(p);
    if (!p.withinSlo) break;
  }
  const within = steps.filter((p) => p.withinSlo);
  const best = within.reduce<LoadPoint | undefined>((a, p) => (a && a.achieved >= p.achieved ? a : p), undefined);
  return { steps, maxQps: best?.achieved ?? 0, atConnections: best?.connections ?? 0 };
}

/**
 * Scenario 2: hold a fixed QPS. Few connections keep autocannon's per-second bursts small, but
 * each one must keep up with its share of the rate: the first try takes the fewest connections
 * that carried 1.5x the rate in scenario 1, and a rate not held is tried again on the next
 * step's connections, up to three tries. Returns the best try.
 */
export async function holdQps(
  target: Target,
  opts: LoadOptions,
  search: StepResult,
  seconds: number,
  qps: number,
  held: (p: LoadPoint) => boolean,
): Promise<LoadPoint> {
  const within = search.steps.filter((p) => p.withinSlo);
  const first = within.findIndex((p) => p.achieved >= 1.5 * qps);
  // None carried that much: from the concurrency that carried the most.
  const from =
    first >= 0
      ? first
      : Math.max(
          0,
          within.findIndex((p) => p.connections === search.atConnections),
        );
  const tries = within.slice(from, from + 3).map((p) => p.connections);
  if (tries.length === 0) tries.push(search.steps[0]?.connections ?? 1);
  let best: LoadPoint | undefined;
  for (const c of tries) {
    const p = await runLoad(target, opts, seconds, Math.min(c, qps), qps);
    if (!best || (held(p) && !held(best)) || (held(p) === held(best) && p.latencyMs.p99 < best.latencyMs.p99)) best = p;
    if (held(p)) break;
  }
  return best!;
}

/**
 * Throughput of `a` against `b` on the same connections, in alternating runs (a b b a a b ...),
 * so that drift in the machine's speed (seen here: ±30% between runs seconds apart) touches both
 * alike. Returns the median of each and their ratio.
 */
export async function pairedRatio(
  a: Target,
  b: Target,
  opts: LoadOptions,
  connections: number,
  seconds: number,
  rounds: number,
): Promise<{ a: number; b: number; ratio: number; runs: { a: number[]; b: number[] } }> {
  const runs = { a: [] as number[], b: [] as number[] };
  for (let r = 0; r < rounds; r++) {
    const order: ["a" | "b", Target][] =
      r % 2 === 0
        ? [
            ["a", a],
            ["b", b],
          ]
        : [
            ["b", b],
            ["a", a],
          ];
    for (const [k, t] of order) runs[k].push((await runLoad(t, opts, seconds, connections, null)).achieved);
  }
  const median = (xs: number[]): number => {
    const s = [...xs].sort((x, y) => x - y);
    return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  return { a: median(runs.a), b: median(runs.b), ratio: median(runs.a) / median(runs.b), runs };
}

/**
 * Latency of one request at a time, with the resolution of performance.now() (autocannon's
 * histogram counts whole milliseconds): the targets are sent round-robin, so drift in the
 * machine's state touches all of them alike. Returns the median and p99 per target, in ms.
 */
export async function probeLatency(
  baseUrl: string,
  targets: readonly Target[],
  rounds: number,
): Promise<Map<string, { p50: number; p99: number }>> {
  const times = new Map(targets.map((t) => [t.name, [] as number[]]));
  for (let r = 0; r < rounds; r++) {
    for (const t of targets) {
      const req = t.requests[r % t.requests.length]!;
      const t0 = performance.now();
      const res = await fetch(baseUrl + req.path, {
        method: t.method,
        ...(req.body !== undefined ? { body: req.body, headers: { "content-type": "application/json" } } : {}),
      });
      await res.arrayBuffer();
      const dt = performance.now() - t0;
      if (res.status !== 200) throw new Error(`${t.name}: ${t.method} ${req.path} answered ${res.status}`);
      times.get(t.name)!.push(dt);
    }
  }
  const at = (xs: number[], q: number): number => xs[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
  return new Map(
    [...times].map(([name, xs]) => {
      xs.sort((a, b) => a - b);
      return [name, { p50: at(xs, 0.5), p99: at(xs, 0.99) }];
    }),
  );
}
