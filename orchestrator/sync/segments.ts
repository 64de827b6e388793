// Decoded source rows -> the segments of one version. Rows (hash parts) are unioned: a segment
// that only one row touches is taken as the core cut it; one that several rows touch is
// unioned with roaring-wasm and cut again.
import { RoaringBitmap32 } from "roaring-wasm";
import type { DecodedBitmap } from "../source/decode/types.js";
import type { BitmapCore, Segment } from "../wasm/core.js";
import { IntegrityError } from "./errors.js";
import type { SegmentEntry } from "./version.js";

/** A segment ready to store, with its content hash (from the core's segmentation). */
export interface BuiltSegment extends SegmentEntry {
  blob: Uint8Array;
}

export interface BuiltVersion {
  segments: BuiltSegment[];
  /** Members of each input row, before the union: for checking against the source's counts. */
  rowCardinalities: number[];
  cardinality: number;
  min: number | null;
  max: number | null;
  bytes: number;
}

export function buildSegments(core: BitmapCore, rows: readonly DecodedBitmap[], bits: number): BuiltVersion {
  // Segments of one 2^32 bucket: every segment size divides 2^32 (bits <= 32).
  const perBucket = 2 ** (32 - bits);
  const bySegment = new Map<number, Segment[]>();
  const rowCardinalities: number[] = [];
  for (const row of rows) {
    let rowCardinality = 0;
    for (const part of row.parts) {
      const cut = core.segment("portable" in part ? part.portable : part.values, bits);
      rowCardinality += cut.cardinality;
      for (const s of cut.segments) {
        const global = part.high * perBucket + s.segment;
        const list = bySegment.get(global);
        if (list) list.push(s);
        else bySegment.set(global, [s]);
      }
    }
    rowCardinalities.push(rowCardinality);
  }

  const numbers = [...bySegment.keys()].sort((a, b) => a - b);
  const segments: BuiltSegment[] = [];
  let cardinality = 0;
  let bytes = 0;
  for (const n of numbers) {
    const parts = bySegment.get(n)!;
    const s = parts.length === 1 ? parts[0]! : union(core, parts, bits);
    segments.push({
      segment: n,
      cardinality: s.cardinality,
      min: s.min,
      max: s.max,
      bytes: s.blob.length,
      hash: s.hash,
      blob: s.blob,
    });
    cardinality += s.cardinality;
    bytes += s.blob.length;
  }
  const first = segments[0];
  const last = segments[segments.length - 1];
  const min = first ? first.segment * 2 ** bits + first.min : null;
  const max = last ? last.segment * 2 ** bits + last.max : null;
  if (max !== null && !Number.isSafeInteger(max)) {
    throw new IntegrityError(`bitmap holds position ${max}, beyond 2^53: bit positions must be dense IDs`);
  }
  return { segments, rowCardinalities, cardinality, min, max, bytes };
}

function union(core: BitmapCore, parts: readonly Segment[], bits: number): Segment {
  const bitmaps = parts.map((p) => RoaringBitmap32.deserialize("portable", p.blob));
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
