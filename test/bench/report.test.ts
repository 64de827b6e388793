// bench:serve's report: the Markdown tables and the vega-lite chart are made from what the load
// test measured, so a change to the result shapes cannot quietly break the outputs.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SLO, type LoadPoint } from "../../bench/serve/load.js";
import { chart, markdown, writeReport, type Report, type RouteResult } from "../../bench/serve/report.js";

function point(connections: number, achieved: number, p99: number): LoadPoint {
  return {
    connections,
    rate: null,
    achieved,
    latencyMs: { mean: p99 / 3, p50: p99 / 4, p90: p99 / 2, p99, p999: p99 * 2, max: p99 * 3 },
    success: 1,
    responses: achieved * 5,
    non2xx: 0,
    errors: 0,
    timeouts: 0,
    serverCores: 0.9,
    clientCores: 0.8,
    withinSlo: p99 <= SLO.p99Ms,
  };
}

function route(name: string, steps: LoadPoint[], checksPerRequest = 0): RouteResult {
  const within = steps.filter((p) => p.withinSlo);
  const best = within.reduce((a, p) => (p.achieved > a.achieved ? p : a), within[0]!);
  return {
    name,
    description: `the ${name} route`,
    checksPerRequest,
    search: { steps, maxQps: best.achieved, atConnections: best.connections },
    hold: { ...point(4, 990, 12), rate: 1000, qps: 1000, held: true },
    probe: { p50: 0.5, p99: 2 },
  };
}

const report: Report = {
  startedAt: "2026-12-01T00:00:00.000Z",
  seconds: 100,
  quick: true,
  machine: { cpus: 2, node: "v20" },
  workers: 1,
  dataset: { users: 10 },
  load: { connections: [1, 4, 16], slo: SLO, autocannon: "9" },
  routes: [
    route("noop", [point(1, 8000, 1), point(4, 30_000, 2), point(16, 29_000, 250)]),
    route("batch", [point(1, 1000, 3), point(4, 2000, 9)], 1000),
  ],
  paired: { connections: 16, seconds: 2, a: 9, b: 10, ratio: 0.9, runs: { a: [9, 9], b: [10, 10] } },
  ratios: { single_vs_noop: 0.9 },
  batch_checks_per_s: 2_000_000,
  targets: [{ name: "batch checks per second", value: 2_000_000, target: "≥ 3,000,000", met: false }],
};

describe("bench:serve report", () => {
  it("tabulates each route's best step within the SLO, each step, and the targets", () => {
    const md = markdown(report);
    expect(md).toContain("| noop: the noop route | 30,000 | 4 | 1.00 |");
    expect(md).toContain("| batch: the batch route | 2,000 | 4 | 0.07 | 2,000,000 |");
    expect(md).toContain("| noop | 16 | 29,000 | 63 | 250 | 100.00% | 0.90 | 0.80 | no |");
    expect(md).toContain("| batch checks per second | 2,000,000 | ≥ 3,000,000 | **no** |");
    expect(md).toContain("ratio of medians **0.90**");
  });

  it("draws p99 against the load carried, one line per route, with the SLO line", async () => {
    const svg = await chart(report);
    expect(svg.startsWith("<svg")).toBe(true);
    for (const name of ["noop", "batch", "p99 latency, ms", "load carried, requests/s"]) expect(svg).toContain(name);
    // One path per route's line, and the dashed 200 ms rule.
    expect(svg.match(/stroke-dasharray="4,4"/g)?.length).toBe(1);
  });

  it("writes results.json, results.md and latency.svg", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bitsync-report-"));
    try {
      const files = await writeReport(dir, report);
      expect(files.map((f) => f.slice(dir.length + 1))).toEqual(["results.json", "results.md", "latency.svg"]);
      expect(JSON.parse(readFileSync(files[0]!, "utf8"))).toEqual(report);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
