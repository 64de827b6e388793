// Batch paths across several resident blobs: many bits of one version in one call (the serving
// hot path), one offset per blob (hasEach), and the answers as JSON text.
import { BlobFormatError } from "./errors.js";
import type { CoreMemory } from "./memory.js";
import { residentAddress, type ResidentBlob } from "./resident.js";
import type { BatchFormat, SegmentBlob } from "./types.js";

/** One offset per query, each against its own resident blob (null: an empty segment). */
export function hasEach(
  mem: CoreMemory,
  blobs: readonly (ResidentBlob | null)[],
  offsets: Uint32Array,
  format: BatchFormat,
): Uint8Array {
  const n = offsets.length;
  if (blobs.length !== n) throw new RangeError(`hasEach: ${blobs.length} blobs for ${n} offsets`);
  const outBytes = format === "bytes" ? n : (n + 7) >>> 3;
  const area = mem.scratch(n * 12 + outBytes);
  const table = mem.u32;
  let t = area >>> 2;
  for (let i = 0; i < n; i++) {
    const blob = blobs[i];
    table[t] = blob ? residentAddress(blob, mem, "hasEach") : 0;
    table[t + 1] = blob ? blob.byteLength : 0;
    table[t + 2] = offsets[i]!;
    t += 3;
  }
  const out = area + n * 12;
  const rc = mem.x.containsEach(area, n, out, format === "bytes" ? 0 : 1);
  if (rc < 0) throw new BlobFormatError(rc, "hasEach");
  return mem.u8.slice(out, out + outBytes);
}

/** Work bytes containsBits needs per bit: assembly/batch.ts' WORK_BYTES_PER_BIT (test/contracts). */
export const WORK_BYTES_PER_BIT = 21;

/** See BitmapCore.containsBits. */
export function containsBits(
  mem: CoreMemory,
  bits: Float64Array,
  segmentBits: number,
  segments: readonly SegmentBlob[],
): Uint8Array {
  const n = bits.length;
  if (n > 1 << 20) throw new RangeError(`containsBits: ${n} bits, over 2^20`);
  const segs = [...segments].sort((a, b) => a.segment - b.segment);
  const tableBytes = segs.length * 12;
  // bits (8-aligned), then the segment table, the work area and the answers
  const area = mem.scratch(8 + n * 8 + tableBytes + 8 + n * WORK_BYTES_PER_BIT + n);
  const bitsAt = (area + 7) & ~7;
  new Float64Array(mem.buffer, bitsAt, n).set(bits);
  const table = bitsAt + n * 8;
  let t = table >>> 2;
  const u32 = mem.u32;
  for (const { segment, blob } of segs) {
    const at = residentAddress(blob, mem, "containsBits");
    if (segment >>> 0 !== segment) throw new RangeError(`containsBits: segment ${segment} is not a u32`);
    u32[t++] = segment;
    u32[t++] = at;
    u32[t++] = blob.byteLength;
  }
  const work = (table + tableBytes + 7) & ~7;
  const out = work + n * WORK_BYTES_PER_BIT;
  const rc = mem.x.containsBits(bitsAt, n, segmentBits, table, segs.length, work, out);
  if (rc < 0) throw new BlobFormatError(rc, "containsBits");
  return mem.u8.slice(out, out + n);
}

/** Answers (bytes 0/1) as the inside of a JSON array of booleans: "true,false,...". */
export function boolsJson(mem: CoreMemory, answers: Uint8Array): string {
  const n = answers.length;
  const area = mem.scratch(n * 7 + 8);
  mem.u8.set(answers, area);
  const len = mem.x.boolsJson(area, n, area + n);
  return Buffer.from(mem.buffer, area + n, len).toString("latin1");
}
