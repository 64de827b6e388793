// bench:core — zero-copy membership on segmented portable blobs vs roaring-wasm `has`.
//
// Fixture: 1M random members in a 100M bit space (seeded), cut into segments of 2^bits.
// Queries: half drawn from the members, half uniform (so both hits and misses cost something),
// once in random order and once sorted. Every figure is measured in this run, against the
// baseline measured in this run; the ratios are what the targets are about.
//
//   npm run bench:core [-- --json] [-- --bits 20] [-- --queries 2000000] [-- --rounds 7]
import { parseArgs } from "node:util";
import { createRequire } from "node:module";
import { RoaringBitmap32 } from "roaring-wasm";
import { BitmapCore, type ResidentBlob } from "../orchestrator/wasm/core.js";
import { DEFAULT_SEGMENT_BITS } from "../orchestrator/config/defaults.js";
import { medianNs, randomMembers, randomQueries } from "./fixtures.js";
import { PinnedTable } from "./pinned-table.js";

const { values: args } = parseArgs({
  options: {
    json: { type: "boolean", default: false },
    bits: { type: "string", default: String(DEFAULT_SEGMENT_BITS) },
    members: { type: "string", default: "1000000" },
    space: { type: "string", default: "100000000" },
    queries: { type: "string", default: "2000000" },
    rounds: { type: "string", default: "7" },
  },
});
const bits = Number(args.bits);
const memberCount = Number(args.members);
const space = Number(args.space);
const queryCount = Number(args.queries);
const rounds = Number(args.rounds);
const mask = 2 ** bits - 1;

const log = (line: string): void => {
  if (!args.json) console.log(line);
};

const members = randomMembers(memberCount, space, 42);
const random = randomQueries(members, queryCount, space, 0.5, 7);
const sorted = Uint32Array.from(random).sort();

// ---- subjects -------------------------------------------------------------------------------
const rw = new RoaringBitmap32(members);
rw.runOptimize();
const core = BitmapCore.create();
const segmented = core.segment(rw.serialize("portable"), bits);
const table: (ResidentBlob | undefined)[] = [];
for (const s of segmented.segments) table[s.segment] = core.pin(s.blob, { segmentBits: bits });

let sink = 0; // results feed this so the JIT cannot drop the work

const pinned = new PinnedTable(bits, table);
const zeroCopySingle = (q: Uint32Array): number => pinned.single(q);
const zeroCopySortedBatch = (q: Uint32Array): number => pinned.sortedBatch(q);

/** Random order through hasEach: one call, one table entry per query. */
function zeroCopyEachBatch(q: Uint32Array): number {
  const blobs: (ResidentBlob | null)[] = new Array<ResidentBlob | null>(q.length);
  const offsets = new Uint32Array(q.length);
  for (let i = 0; i < q.length; i++) {
    blobs[i] = table[pinned.segmentOf(q[i]!)] ?? null;
    offsets[i] = q[i]! & mask;
  }
  const out = core.hasEach(blobs, offsets);
  let hits = 0;
  for (let k = 0; k < out.length; k++) hits += out[k]!;
  return hits;
}

function roaringWasmHas(q: Uint32Array): number {
  let hits = 0;
  for (let i = 0; i < q.length; i++) if (rw.has(q[i]!)) hits++;
  return hits;
}

// The native `roaring` package is measured only where it happens to be installed.
type NativeBitmap = { has(x: number): boolean };
let native: NativeBitmap | undefined;
try {
  const require = createRequire(import.meta.url);
  const mod = require("roaring") as { RoaringBitmap32: new (values: Uint32Array) => NativeBitmap };
  native = new mod.RoaringBitmap32(members);
} catch {
  native = undefined;
}
function nativeHas(q: Uint32Array): number {
  let hits = 0;
  for (let i = 0; i < q.length; i++) if (native!.has(q[i]!)) hits++;
  return hits;
}

// ---- measure --------------------------------------------------------------------------------
const expected = roaringWasmHas(random);
for (const [name, fn] of [
  ["single", () => zeroCopySingle(random)],
  ["sorted", () => zeroCopySortedBatch(sorted)],
  ["each", () => zeroCopyEachBatch(random)],
] as const) {
  const got = fn();
  if (got !== expected) throw new Error(`bench self-check failed: ${name} found ${got} hits, roaring-wasm ${expected}`);
}

function opsPerSec(fn: (q: Uint32Array) => number, q: Uint32Array): number {
  fn(q); // warm up
  fn(q);
  const ns = medianNs(rounds, () => {
    sink += fn(q);
  });
  return (q.length / ns) * 1e9;
}

const figures: Record<string, number> = {
  roaring_wasm_has_random: opsPerSec(roaringWasmHas, random),
  zero_copy_single_random: opsPerSec(zeroCopySingle, random),
  roaring_wasm_has_sorted: opsPerSec(roaringWasmHas, sorted),
  zero_copy_single_sorted: opsPerSec(zeroCopySingle, sorted),
  zero_copy_batch_sorted: opsPerSec(zeroCopySortedBatch, sorted),
  zero_copy_batch_each_random: opsPerSec(zeroCopyEachBatch, random),
};
if (native) {
  figures.native_roaring_has_random = opsPerSec(nativeHas, random);
  figures.native_roaring_has_sorted = opsPerSec(nativeHas, sorted);
}

const ratios: Record<string, number> = {
  single_vs_roaring_wasm: figures.zero_copy_single_random! / figures.roaring_wasm_has_random!,
  sorted_batch_vs_roaring_wasm: figures.zero_copy_batch_sorted! / figures.roaring_wasm_has_sorted!,
  random_batch_vs_roaring_wasm: figures.zero_copy_batch_each_random! / figures.roaring_wasm_has_random!,
};
if (native) {
  ratios.single_vs_native_roaring = figures.zero_copy_single_random! / figures.native_roaring_has_random!;
  ratios.sorted_batch_vs_native_roaring = figures.zero_copy_batch_sorted! / figures.native_roaring_has_sorted!;
}

const setup = {
  members: memberCount,
  space,
  queries: queryCount,
  hit_ratio_of_queries: 0.5,
  segment_bits: bits,
  segments: segmented.segments.length,
  segment_bytes: segmented.segments.reduce((n, s) => n + s.blob.length, 0),
  rounds,
  node: process.version,
  native_roaring: native !== undefined,
};

log(`bench:core  ${memberCount} members in ${space} bits, ${queryCount} queries, segments of 2^${bits}`);
log(
  `            ${setup.segments} segments, ${setup.segment_bytes} B; median of ${rounds} rounds; node ${process.version}`,
);
for (const [k, v] of Object.entries(figures)) log(`  ${k.padEnd(32)} ${(v / 1e6).toFixed(2).padStart(8)} M ops/s`);
for (const [k, v] of Object.entries(ratios)) log(`  ratio ${k.padEnd(26)} ${v.toFixed(2).padStart(8)}x`);
if (!native) log("  (native `roaring` not installed: not measured)");
if (sink === -1) log(""); // keep the sink alive

for (const blob of table) blob?.dispose();
rw.dispose();

if (args.json) console.log(JSON.stringify({ bench: "core", setup, figures, ratios }));
