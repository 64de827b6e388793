// The users' two load-test scenarios, with autocannon against a running daemon:
//  1. raise the offered load step by step and find the maximum QPS at which p99 <= 200 ms and
//     success >= 99.99%;
//  2. hold a fixed QPS and report the success rate and p99.
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
  /** Requests per second offered (autocannon's overallRate); null: as fast as the connections go. */
  offered: number | null;
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
  /** The offered load was carried (>= 95% of it answered): otherwise the server is saturated. */
  carried: boolean;
}

export interface LoadOptions {
  baseUrl: string;
  connections: number;
  serverPid: number;
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

function processCpuSeconds(pid: number): number {
  try {
    // Fields after the command name: utime and stime are the 12th and 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}

export async function runLoad(
  target: Target,
  opts: LoadOptions,
  seconds: number,
  rate: number | null,
): Promise<LoadPoint> {
  const server0 = processCpuSeconds(opts.serverPid);
  const client0 = process.cpuUsage();
  const t0 = performance.now();
  const result = await autocannon({
    url: opts.baseUrl,
    connections: opts.connections,
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
    offered: rate === null ? null : Math.max(1, Math.round(rate)),
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
    carried: rate === null || achieved >= 0.95 * rate,
  };
  return point;
}

export interface StepPlan {
  /** Unthrottled load before the search, after one pass over every distinct request. */
  warmSeconds: number;
  calibrateSeconds: number;
  stepSeconds: number;
  /** Offered loads as fractions of the calibrated capacity, raised in this order. */
  fractions: number[];
  /** Further steps of ×1.15 while every step so far was carried within the SLO. */
  maxExtraSteps: number;
}

export interface StepResult {
  /** The calibration run: unthrottled, `connections` requests in flight. */
  capacity: LoadPoint;
  steps: LoadPoint[];
  /** The highest 2xx rate of any run (calibration included) within the SLO; 0 if none. */
  maxQps: number;
}

/** Scenario 1: raise the load step by step; the answer is the highest rate served within the SLO. */
export async function findMaxQps(
  target: Target,
  opts: LoadOptions,
  plan: StepPlan,
  onPoint: (p: LoadPoint) => void,
): Promise<StepResult> {
  // Steady state, as a serving instance in rotation sees it: every uid of the requests has been
  // looked up once (the LRU holds it) and every segment is resident.
  await probeLatency(opts.baseUrl, [target], target.requests.length);
  if (plan.warmSeconds > 0) await runLoad(target, opts, plan.warmSeconds, null);
  const capacity = await runLoad(target, opts, plan.calibrateSeconds, null);
  onPoint(capacity);
  const steps: LoadPoint[] = [];
  const rates = plan.fractions.map((f) => f * capacity.achieved);
  for (let i = 0; i < rates.length; i++) {
    const p = await runLoad(target, opts, plan.stepSeconds, rates[i]!);
    steps.push(p);
    onPoint(p);
    if (!p.withinSlo || !p.carried) break;
    // Every planned step was carried within the SLO: the calibration was low, keep raising.
    if (i === rates.length - 1 && rates.length < plan.fractions.length + plan.maxExtraSteps) {
      rates.push(rates[i]! * 1.15);
    }
  }
  const maxQps = Math.max(0, ...[capacity, ...steps].filter((p) => p.withinSlo).map((p) => p.achieved));
  return { capacity, steps, maxQps };
}

/** Scenario 2: hold a fixed QPS. */
export async function holdQps(target: Target, opts: LoadOptions, seconds: number, qps: number): Promise<LoadPoint> {
  return runLoad(target, opts, seconds, qps);
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
