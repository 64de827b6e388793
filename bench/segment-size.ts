// bench:segment-size — what the segment size 2^S costs, to choose the default S.
//
// Audiences of four shapes in a 100M bit space (seeded), each cut into segments of 2^S for
// every S measured. Per (shape, S): segment count (= Redis keys and cache entries), serialized
// bytes (a cache miss fetches and pins one blob), segmentation time from a portable blob, pin
// time, and query throughput: single contains, sorted batch, and paging across segments.
// Queries are half drawn from the members, half uniform, as in bench:core. Timing rounds are
// interleaved across S, so noise from other processes does not favour one segment size.
//
//   npm run bench:segment-size [-- --json] [-- --bits 16,20,24] [-- --shapes sparse,dense]
//                              [-- --queries 1000000] [-- --pages 1000] [-- --page-size 1000] [-- --rounds 7]
import { parseArgs } from "node:util";
import { RoaringBitmap32 } from "roaring-wasm";
import { BitmapCore, type ResidentBlob, type Segment } from "../orchestrator/wasm/core.js";
import { medianNs, mulberry32, randomMembers, randomQueries } from "./fixtures.js";
import { PinnedTable } from "./pinned-table.js";

const { values: args } = parseArgs({
  options: {
    json: { type: "boolean", default: false },
    bits: { type: "string", default: "16,18,20,22,24,26" },
    shapes: { type: "string", default: "sparse,medium,dense,clustered" },
    queries: { type: "string", default: "1000000" },
    pages: { type: "string", default: "1000" },
    "page-size": { type: "string", default: "1000" },
    rounds: { type: "string", default: "7" },
  },
});
const SPACE = 100_000_000;
const bitsList = args.bits.split(",").map(Number);
const queryCount = Number(args.queries);
const pageCount = Number(args.pages);
const pageSize = Number(args["page-size"]);
const rounds = Number(args.rounds);
for (const b of bitsList) {
  if (!Number.isInteger(b) || b < 16 || b > 32) throw new RangeError(`--bits: ${b} is not an integer in [16, 32]`);
}

/**
 * Clustered: whole runs of consecutive positions, as sequentially assigned user ids of one
 * cohort (e.g. everyone who signed up during one campaign hour). Run lengths are log-uniform
 * in [64, 16384] (mean ~2.8k, so ~350 runs); runs are placed uniformly, without overlap.
 */
function clusteredMembers(count: number, space: number, seed: number): Uint32Array {
  const rnd = mulberry32(seed);
  const lengths: number[] = [];
  let total = 0;
  while (total < count) {
    const len = Math.min(Math.floor(64 * 256 ** rnd()), count - total);
    lengths.push(len);
    total += len;
  }
  // Uniform cut points in the free space give uniformly placed, non-overlapping runs.
  const cuts = Float64Array.from(lengths, () => Math.floor(rnd() * (space - count + 1))).sort();
  const out = new Uint32Array(count);
  let k = 0;
  let before = 0;
  for (let i = 0; i < lengths.length; i++) {
    const start = cuts[i]! + before;
    const len = lengths[i]!;
    for (let v = start; v < start + len; v++) out[k++] = v;
    before += len;
  }
  return out;
}

interface Shape {
  name: string;
  description: string;
  members: () => Uint32Array;
}

const allShapes: Shape[] = [
  { name: "sparse", description: "100k random members", members: () => randomMembers(100_000, SPACE, 42) },
  { name: "medium", description: "1M random members (bench:core)", members: () => randomMembers(1_000_000, SPACE, 42) },
  { name: "dense", description: "20M random members", members: () => randomMembers(20_000_000, SPACE, 42) },
  {
    name: "clustered",
    description: "1M members in runs of 64..16384 consecutive ids (log-uniform)",
    members: () => clusteredMembers(1_000_000, SPACE, 42),
  },
];
const wanted = args.shapes.split(",");
const shapes = allShapes.filter((s) => wanted.includes(s.name));
if (shapes.length !== wanted.length) throw new RangeError(`--shapes: expected some of ${allShapes.map((s) => s.name)}`);

const log = (line: string): void => console.log(line);

let sink = 0; // results feed this so the JIT cannot drop the work

interface Row {
  bits: number;
  segments: number;
  total_bytes: number;
  mean_blob_bytes: number;
  max_blob_bytes: number;
  segment_ms: number;
  pin_us_per_blob: number;
  single_mops: number;
  sorted_batch_mops: number;
  pages_per_s: number;
}

interface ShapeResult {
  shape: string;
  description: string;
  members: number;
  unsegmented_bytes: number;
  rows: Row[];
}

/** The fixture of one shape, shared by every segment size. */
interface Fixture {
  members: Uint32Array;
  portable: Uint8Array;
  random: Uint32Array;
  sorted: Uint32Array;
  expectedHits: number;
  pageStarts: Uint32Array;
}

/** One shape cut at one segment size, all segments pinned on a core of its own. */
interface Subject {
  bits: number;
  segments: Segment[];
  segmentOnce(): number;
  pinAll(): number;
  single(): number;
  sortedBatch(): number;
  pages(): number;
  dispose(): void;
}

function prepare(fx: Fixture, bits: number): Subject {
  const core = BitmapCore.create();
  const segs = core.segment(fx.portable, bits).segments;

  const table: (ResidentBlob | undefined)[] = [];
  const pinned: ResidentBlob[] = [];
  // cum[i]: members in segments before pinned[i], to find the segment a global rank falls in.
  const cum = new Float64Array(segs.length + 1);
  const base = new Float64Array(segs.length);
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i]!;
    const blob = core.pin(s.blob, { segmentBits: bits });
    table[s.segment] = blob;
    pinned.push(blob);
    cum[i + 1] = cum[i]! + s.cardinality;
    base[i] = s.segment * 2 ** bits;
  }

  const queries = new PinnedTable(bits, table);
  const single = (): number => queries.single(fx.random);
  const sortedBatch = (): number => queries.sortedBatch(fx.sorted);

  /** One page of global positions from global rank `from`; it continues into later segments. */
  const pageOut = new Uint32Array(pageSize);
  function pageAt(from: number): number {
    let lo = 0;
    let hi = pinned.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (cum[mid]! <= from) lo = mid;
      else hi = mid - 1;
    }
    let r = from - cum[lo]!;
    let written = 0;
    for (let i = lo; i < pinned.length && written < pageSize; i++) {
      const part = pinned[i]!.page(r, pageSize - written);
      const b = base[i]!;
      for (let k = 0; k < part.length; k++) pageOut[written + k] = b + part[k]!;
      written += part.length;
      r = 0;
    }
    return written;
  }
  function pages(): number {
    let acc = 0;
    for (let p = 0; p < fx.pageStarts.length; p++) acc += pageAt(fx.pageStarts[p]!) + pageOut[0]!;
    return acc;
  }

  // Self-checks: every path must agree with roaring-wasm and with the member list.
  for (const [name, got] of [
    ["single", single()],
    ["sorted", sortedBatch()],
  ] as const) {
    if (got !== fx.expectedHits) {
      throw new Error(`self-check failed: S=${bits} ${name} found ${got} hits, expected ${fx.expectedHits}`);
    }
  }
  for (const from of fx.pageStarts) {
    const n = pageAt(from);
    let ok = n === Math.min(pageSize, fx.members.length - from);
    for (let k = 0; ok && k < n; k++) ok = pageOut[k] === fx.members[from + k];
    if (!ok) throw new Error(`self-check failed: S=${bits} page at rank ${from} differs from the members`);
  }

  return {
    bits,
    segments: segs,
    segmentOnce: () => core.segment(fx.portable, bits).segments.length,
    // Pin cost: copy into linear memory + validate, what a cache miss pays after the fetch.
    pinAll(): number {
      let n = 0;
      for (const s of segs) {
        const blob = core.pin(s.blob, { segmentBits: bits });
        n += blob.cardinality;
        blob.dispose();
      }
      return n;
    },
    single,
    sortedBatch,
    pages,
    dispose(): void {
      for (const blob of pinned) blob.dispose();
    },
  };
}

/**
 * Median ns of `rounds` runs per subject. Rounds are interleaved across subjects (rotating the
 * order), so load from other processes on the machine hits every segment size alike.
 */
function interleavedMedians(subjects: Subject[], run: (s: Subject) => number): number[] {
  for (const s of subjects) sink += run(s) + run(s); // warm up
  const samples: number[][] = subjects.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < subjects.length; k++) {
      const i = (k + r) % subjects.length;
      const s = subjects[i]!;
      samples[i]!.push(medianNs(1, () => (sink += run(s)))); // one timed run
    }
  }
  return samples.map((t) => t.sort((a, b) => a - b)[Math.floor(t.length / 2)]!);
}

function measureShape(fx: Fixture): Row[] {
  const subjects = bitsList.map((bits) => prepare(fx, bits));
  const segmentNs = interleavedMedians(subjects, (s) => s.segmentOnce());
  const pinNs = interleavedMedians(subjects, (s) => s.pinAll());
  const singleNs = interleavedMedians(subjects, (s) => s.single());
  const sortedNs = interleavedMedians(subjects, (s) => s.sortedBatch());
  const pagesNs = interleavedMedians(subjects, (s) => s.pages());
  const rows = subjects.map((s, i): Row => {
    const bytes = s.segments.map((seg) => seg.blob.length);
    const total = bytes.reduce((a, b) => a + b, 0);
    const n = Math.max(1, s.segments.length);
    return {
      bits: s.bits,
      segments: s.segments.length,
      total_bytes: total,
      mean_blob_bytes: Math.round(total / n),
      max_blob_bytes: bytes.reduce((a, b) => Math.max(a, b), 0),
      segment_ms: segmentNs[i]! / 1e6,
      pin_us_per_blob: pinNs[i]! / 1e3 / n,
      single_mops: (fx.random.length / singleNs[i]!) * 1e3,
      sorted_batch_mops: (fx.sorted.length / sortedNs[i]!) * 1e3,
      pages_per_s: (fx.pageStarts.length / pagesNs[i]!) * 1e9,
    };
  });
  for (const s of subjects) s.dispose();
  return rows;
}

const fmtBytes = (n: number): string =>
  n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(2)} MiB` : n >= 1 << 10 ? `${(n / (1 << 10)).toFixed(1)} KiB` : `${n} B`;

const header =
  "  S   segments   total bytes   overhead   mean blob    max blob   segment ms  pin us/blob" +
  "   single M/s  sorted M/s   pages k/s";
log(`bench:segment-size  ${SPACE} bit space, ${queryCount} queries (half members), ${pageCount} pages of ${pageSize}`);
log(`                    median of ${rounds} rounds, interleaved across S; node ${process.version}`);

const results: ShapeResult[] = [];
for (const shape of shapes) {
  const members = shape.members();
  const rw = new RoaringBitmap32(members);
  rw.runOptimize();
  const portable = rw.serialize("portable");
  const random = randomQueries(members, queryCount, SPACE, 0.5, 7);
  const sorted = Uint32Array.from(random).sort();
  let expectedHits = 0;
  for (let i = 0; i < random.length; i++) if (rw.has(random[i]!)) expectedHits++;
  const rnd = mulberry32(11);
  const lastStart = Math.max(0, members.length - pageSize);
  const pageStarts = Uint32Array.from({ length: pageCount }, () => Math.floor(rnd() * (lastStart + 1)));
  rw.dispose();

  log("");
  log(
    `${shape.name}: ${shape.description}; ${members.length} members, unsegmented portable ${fmtBytes(portable.length)}`,
  );
  log(header);
  const rows = measureShape({ members, portable, random, sorted, expectedHits, pageStarts });
  for (const r of rows) {
    const overhead = ((r.total_bytes / portable.length - 1) * 100).toFixed(1) + "%";
    log(
      `  ${String(r.bits).padStart(2)}` +
        `${String(r.segments).padStart(11)}` +
        `${fmtBytes(r.total_bytes).padStart(14)}` +
        `${overhead.padStart(11)}` +
        `${fmtBytes(r.mean_blob_bytes).padStart(12)}` +
        `${fmtBytes(r.max_blob_bytes).padStart(12)}` +
        `${r.segment_ms.toFixed(2).padStart(13)}` +
        `${r.pin_us_per_blob.toFixed(1).padStart(13)}` +
        `${r.single_mops.toFixed(2).padStart(13)}` +
        `${r.sorted_batch_mops.toFixed(2).padStart(12)}` +
        `${(r.pages_per_s / 1e3).toFixed(1).padStart(12)}`,
    );
  }
  results.push({
    shape: shape.name,
    description: shape.description,
    members: members.length,
    unsegmented_bytes: portable.length,
    rows,
  });
}
if (sink === -1) log(""); // keep the sink alive

if (args.json) {
  const setup = {
    space: SPACE,
    queries: queryCount,
    hit_ratio_of_queries: 0.5,
    pages: pageCount,
    page_size: pageSize,
    rounds,
    node: process.version,
  };
  console.log(JSON.stringify({ bench: "segment-size", setup, shapes: results }));
}
