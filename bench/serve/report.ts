// bench:serve's outputs: results.json (everything measured), results.md (the tables) and
// latency.svg (p99 against the load, per route: one point per concurrency step, at the
// throughput it reached, with the 200 ms line), drawn by vega-lite.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import { SLO, type LoadPoint, type StepResult } from "./load.js";

export interface RouteResult {
  name: string;
  description: string;
  checksPerRequest: number;
  search: StepResult;
  hold: LoadPoint & { qps: number; held: boolean };
  /** One request at a time. */
  probe: { p50: number; p99: number };
}

/** A target of the issue, against what was measured. */
export interface TargetResult {
  name: string;
  value: number;
  target: string;
  met: boolean;
}

export interface Report {
  startedAt: string;
  seconds: number;
  quick: boolean;
  machine: { cpus: number; node: string };
  /** BITSYNC_HTTP_WORKERS of the daemon measured. */
  workers: number;
  dataset: Record<string, unknown>;
  load: { connections: number[]; slo: typeof SLO; autocannon: string };
  routes: RouteResult[];
  /** Alternating runs of the single check (a) and the no-op (b) at one concurrency. */
  paired: {
    connections: number;
    seconds: number;
    a: number;
    b: number;
    ratio: number;
    runs: { a: number[]; b: number[] };
  };
  ratios: Record<string, number>;
  batch_checks_per_s: number;
  targets: TargetResult[];
}

const fmt = (n: number, digits = 0): string =>
  Number.isFinite(n) ? n.toLocaleString("en-US", { maximumFractionDigits: digits }) : "–";
const pct = (x: number): string => `${(x * 100).toFixed(x >= 0.99995 ? 2 : 3)}%`;

export function markdown(r: Report): string {
  const lines: string[] = [];
  lines.push(`# bench:serve ${r.quick ? "(quick) " : ""}— ${r.startedAt}`, "");
  lines.push(
    `${r.machine.cpus} cores, Node ${r.machine.node}, ${r.workers} HTTP worker(s); load raised by connections ${r.load.connections.join(", ")} ` +
      `(autocannon ${r.load.autocannon}); ` +
      `SLO: p99 ≤ ${SLO.p99Ms} ms and success ≥ ${pct(SLO.success)}.`,
    "",
  );
  lines.push("## Maximum QPS within the SLO, and a fixed QPS held", "");
  lines.push(
    "| route | max QPS | at connections | × no-op | checks/s | hold QPS | achieved | success | p99 ms | one at a time p50 / p99 ms |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  );
  const noop = r.routes.find((x) => x.name === "noop")?.search.maxQps ?? NaN;
  for (const x of r.routes) {
    lines.push(
      `| ${x.name}: ${x.description} | ${fmt(x.search.maxQps)} | ${x.search.atConnections} | ${(x.search.maxQps / noop).toFixed(2)} | ` +
        `${fmt(x.search.maxQps * x.checksPerRequest)} | ${fmt(x.hold.qps)} | ${fmt(x.hold.achieved)} | ` +
        `${pct(x.hold.success)} | ${fmt(x.hold.latencyMs.p99)} | ${x.probe.p50.toFixed(2)} / ${x.probe.p99.toFixed(2)} |`,
    );
  }
  lines.push(
    "",
    `Single check against the no-op, alternating runs at ${r.paired.connections} connections: ` +
      `single ${r.paired.runs.a.map((x) => fmt(x)).join(", ")}; no-op ${r.paired.runs.b.map((x) => fmt(x)).join(", ")} req/s; ` +
      `ratio of medians **${r.paired.ratio.toFixed(2)}**.`,
  );
  lines.push("", "## Targets", "", "| figure | value | target | met |", "| --- | ---: | --- | --- |");
  for (const t of r.targets)
    lines.push(`| ${t.name} | ${fmt(t.value, 3)} | ${t.target} | ${t.met ? "yes" : "**no**"} |`);
  lines.push("", "## Every step", "");
  lines.push(
    "| route | connections | achieved req/s | p50 ms | p99 ms | success | server cores | client cores | within SLO |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
  );
  for (const x of r.routes) {
    for (const p of x.search.steps) {
      lines.push(
        `| ${x.name} | ${p.connections} | ${fmt(p.achieved)} | ` +
          `${fmt(p.latencyMs.p50)} | ${fmt(p.latencyMs.p99)} | ${pct(p.success)} | ${p.serverCores.toFixed(2)} | ` +
          `${p.clientCores.toFixed(2)} | ${p.withinSlo ? "yes" : "no"} |`,
      );
    }
  }
  return lines.join("\n") + "\n";
}

export async function chart(r: Report): Promise<string> {
  const values = r.routes.flatMap((x) =>
    x.search.steps.map((p) => ({
      route: x.name,
      achieved: p.achieved,
      connections: p.connections,
      p99: Math.max(p.latencyMs.p99, 0.5),
    })),
  );
  const spec: TopLevelSpec = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: "bitsync: p99 latency against load (one point per step: connections " + r.load.connections.join(", ") + ")",
    width: 640,
    height: 360,
    layer: [
      {
        data: { values },
        mark: { type: "line", point: true },
        encoding: {
          order: { field: "connections", type: "quantitative" },
          x: { field: "achieved", type: "quantitative", scale: { type: "log" }, title: "load carried, requests/s" },
          y: { field: "p99", type: "quantitative", scale: { type: "log" }, title: "p99 latency, ms" },
          color: { field: "route", type: "nominal" },
        },
      },
      {
        data: { values: [{ slo: SLO.p99Ms }] },
        mark: { type: "rule", strokeDash: [4, 4], color: "firebrick" },
        encoding: { y: { field: "slo", type: "quantitative" } },
      },
    ],
  };
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export async function writeReport(dir: string, r: Report): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const files = [join(dir, "results.json"), join(dir, "results.md"), join(dir, "latency.svg")];
  writeFileSync(files[0]!, JSON.stringify(r, null, 2) + "\n");
  writeFileSync(files[1]!, markdown(r));
  writeFileSync(files[2]!, await chart(r));
  return files;
}
