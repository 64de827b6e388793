// The demo of the WASM core on generated data: build an audience the way the warehouse would
// (a run-optimized portable Roaring bitmap), cut it into segments, pin them, then answer
// membership checks and page through members, checking every answer against roaring-wasm.
import { RoaringBitmap32 } from "roaring-wasm";
import { mulberry32 } from "../util/prng.js";
import { BitmapCore, type ResidentBlob } from "../wasm/core.js";

export interface CoreDemoOptions {
  members: number;
  space: number;
  segmentBits: number;
  seed: number;
  print: (line: string) => void;
}

export interface CoreDemoResult {
  segments: number;
  segmentBytes: number;
  checked: number;
  hits: number;
  pageMembers: number[];
}

export function runCoreDemo(opts: CoreDemoOptions): CoreDemoResult {
  const { print, segmentBits: bits } = opts;
  const rnd = mulberry32(opts.seed);
  const audience = new RoaringBitmap32();
  // Mostly scattered users plus a few blocks of consecutive bits (a batch registered together).
  while (audience.size < opts.members) {
    const x = Math.floor(rnd() * opts.space);
    if (rnd() < 0.001) audience.addRange(x, Math.min(opts.space, x + 500));
    else audience.add(x);
  }
  audience.runOptimize();
  const portable = audience.serialize("portable");
  print(`audience: ${audience.size} members in a ${opts.space}-bit space, ${portable.length} B portable Roaring`);

  const core = BitmapCore.create();
  const t0 = performance.now();
  const seg = core.segment(portable, bits);
  const t1 = performance.now();
  const segmentBytes = seg.segments.reduce((n, s) => n + s.blob.length, 0);
  print(
    `segmented: ${seg.segments.length} segments of 2^${bits} bits, ${segmentBytes} B, ` +
      `cardinality ${seg.cardinality}, in ${(t1 - t0).toFixed(1)} ms`,
  );
  const biggest = seg.segments.reduce((a, b) => (b.blob.length > a.blob.length ? b : a));
  print(
    `largest segment: #${biggest.segment}, ${biggest.cardinality} members, ${biggest.blob.length} B, ` +
      `offsets ${biggest.min}..${biggest.max}`,
  );

  const table = new Map<number, ResidentBlob>();
  for (const s of seg.segments) table.set(s.segment, core.pin(s.blob, { segmentBits: bits }));
  const has = (x: number): boolean => table.get(Math.floor(x / 2 ** bits))?.has(x % 2 ** bits) ?? false;

  let checked = 0;
  let hits = 0;
  for (let i = 0; i < 100_000; i++) {
    const x = Math.floor(rnd() * opts.space);
    const got = has(x);
    if (got !== audience.has(x)) throw new Error(`demo: membership of ${x} disagrees with roaring-wasm`);
    checked++;
    if (got) hits++;
  }
  print(`membership: ${checked} random checks, ${hits} hits, all agree with roaring-wasm`);

  // First page: walk segments in order, taking members by rank inside each.
  const pageMembers: number[] = [];
  for (const s of seg.segments) {
    const blob = table.get(s.segment)!;
    for (const off of blob.page(0, 10 - pageMembers.length)) pageMembers.push(s.segment * 2 ** bits + off);
    if (pageMembers.length === 10) break;
  }
  const expected = Array.from(audience.sliceUint32Array(0, 10));
  if (pageMembers.join() !== expected.join()) throw new Error("demo: first page disagrees with roaring-wasm");
  print(`first page: ${pageMembers.join(", ")}`);
  print(`wasm memory: ${JSON.stringify(core.stats())}`);

  for (const blob of table.values()) blob.dispose();
  audience.dispose();
  return { segments: seg.segments.length, segmentBytes, checked, hits, pageMembers };
}
