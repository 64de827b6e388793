// Decoded source rows -> the segments of one version. Rows (hash parts) are unioned: a segment
// that only one row touches is taken as the core cut it; one that several rows touch is
// unioned with roaring-wasm and cut again.
import { RoaringBitmap32 } from "roaring-wasm";
import type { DecodedBitmap } from "../source/decode/types.js";
import type { BitmapCore, Segment, SegmentCut } from "../wasm/core.js";
import { IntegrityError } from "./errors.js";
import type { SegmentEntry } from "../versions/format.js";

/** A segment ready to store, with its content hash (from the core's segmentation). */
export interface BuiltSegment extends SegmentEntry {
  blob: Uint8Array;
}

/** A segment's place in the version, known before its bytes are hashed and copied out. */
export interface PlannedSegment {
  segment: number;
  cardinality: number;
  min: number;
  max: number;
  bytes: number;
}

/**
 * The segments of one version. Segments that one part alone touches stay in the core's memory
 * until taken, so the sync hashes and copies each one just before writing it, while Redis
 * stores the previous ones. Dispose when done.
 */
export interface BuiltVersion {
  /** Ascending by segment number. */
  planned: PlannedSegment[];
  /** Segment i of `planned`, hashed and copied out. */
  take(i: number): BuiltSegment;
  dispose(): void;
  /** Members of each input row, before the union: for checking against the source's counts. */
  rowCardinalities: number[];
  cardinality: number;
  min: number | null;
  max: number | null;
  bytes: number;
}

type Source = { cut: SegmentCut; i: number } | { built: Segment };

export function buildSegments(core: BitmapCore, rows: readonly DecodedBitmap[], bits: number): BuiltVersion {
  // Segments of one 2^32 bucket: every segment size divides 2^32 (bits <= 32).
  const perBucket = 2 ** (32 - bits);
  const cuts: SegmentCut[] = [];
  const bySegment = new Map<number, { cut: SegmentCut; i: number }[]>();
  const rowCardinalities: number[] = [];
  try {
    for (const row of rows) {
      let rowCardinality = 0;
      for (const part of row.parts) {
        const cut = core.cut("portable" in part ? part.portable : part.values, bits);
        cuts.push(cut);
        rowCardinality += cut.cardinality;
        cut.entries.forEach((s, i) => {
          const global = part.high * perBucket + s.segment;
          const list = bySegment.get(global);
          if (list) list.push({ cut, i });
          else bySegment.set(global, [{ cut, i }]);
        });
      }
      rowCardinalities.push(rowCardinality);
    }

    const numbers = [...bySegment.keys()].sort((a, b) => a - b);
    const planned: PlannedSegment[] = [];
    const sources: Source[] = [];
    let cardinality = 0;
    let bytes = 0;
    for (const n of numbers) {
      const parts = bySegment.get(n)!;
      // Several parts touch this segment: union them now, as the version's cardinality needs it.
      const source: Source = parts.length === 1 ? parts[0]! : { built: union(core, parts, bits) };
      const s = "built" in source ? source.built : source.cut.entries[source.i]!;
      const size = "built" in source ? source.built.blob.length : source.cut.entries[source.i]!.bytes;
      planned.push({ segment: n, cardinality: s.cardinality, min: s.min, max: s.max, bytes: size });
      sources.push(source);
      cardinality += s.cardinality;
      bytes += size;
    }
    const first = planned[0];
    const last = planned[planned.length - 1];
    const min = first ? first.segment * 2 ** bits + first.min : null;
    const max = last ? last.segment * 2 ** bits + last.max : null;
    if (max !== null && !Number.isSafeInteger(max)) {
      // In bigint: past 2^53 the number above has lost digits (2^64 - 1 would print as 18446744073709552000).
      const exact = BigInt(last!.segment) * (1n << BigInt(bits)) + BigInt(last!.max);
      throw new IntegrityError(`bitmap holds position ${exact}, beyond 2^53: bit positions must be dense IDs`);
    }
    const dispose = (): void => {
      for (const c of cuts) c.dispose();
    };
    const take = (i: number): BuiltSegment => {
      const p = planned[i];
      const source = sources[i];
      if (p === undefined || source === undefined) throw new RangeError(`no segment #${i} of ${planned.length}`);
      const s = "built" in source ? source.built : source.cut.take(source.i);
      return { ...p, hash: s.hash, blob: s.blob };
    };
    return { planned, take, dispose, rowCardinalities, cardinality, min, max, bytes };
  } catch (err) {
    for (const c of cuts) c.dispose();
    throw err;
  }
}

function union(core: BitmapCore, parts: readonly { cut: SegmentCut; i: number }[], bits: number): Segment {
  const bitmaps = parts.map((p) => RoaringBitmap32.deserialize("portable", p.cut.take(p.i).blob));
  try {
    const merged = RoaringBitmap32.orMany(bitmaps);
    try {
      merged.runOptimize();
      merged.shrinkToFit();
      const cut = core.segment(merged.serialize("portable"), bits);
      return cut.segments[0]!;
    } finally {
      merged.dispose();
    }
  } finally {
    for (const b of bitmaps) b.dispose();
  }
}
