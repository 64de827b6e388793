// Cutting a bitmap into segments of 2^bits positions inside the core. The cut segments stay in
// linear memory until taken one by one (hashed where they lie, then copied out), so a caller
// that writes each as it is taken overlaps hashing and copying with the write.
import { BlobFormatError, WasmCoreError } from "./errors.js";
import { MAX_BITS, MIN_BITS, type CoreMemory } from "./memory.js";
import type { Segment, SegmentInfo } from "./types.js";

/** Bytes of one index record of a segmentation: assembly/segment.ts' RECORD_BYTES (test/contracts). */
export const RECORD_BYTES = 32;

/** Segments cut by BitmapCore.cut(), held in linear memory until taken; see there. */
export class SegmentCut {
  readonly #mem: CoreMemory;
  readonly #places: readonly number[];
  #block: number;
  readonly bits: number;
  readonly cardinality: number;
  /** Non-empty segments only, ascending by segment number. */
  readonly entries: readonly SegmentInfo[];

  /** Use BitmapCore.cut(): runs the segmentation of `input` in the core. */
  constructor(mem: CoreMemory, input: Uint8Array | Uint32Array | BigUint64Array, bits: number) {
    if (!Number.isInteger(bits) || bits < MIN_BITS || bits > MAX_BITS) {
      throw new RangeError(`segment bits must be an integer in [${MIN_BITS}, ${MAX_BITS}], got ${bits}`);
    }
    const bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
    // Inputs can be large: use a dedicated block rather than growing the scratch area for good.
    const ptr = mem.alloc(bytes.length);
    try {
      mem.u8.set(bytes, ptr);
      let rc: number;
      if (input instanceof Uint8Array) rc = mem.x.segmentPortable(ptr, bytes.length, bits);
      else rc = mem.x.segmentSorted(ptr, input.length, input instanceof BigUint64Array ? 1 : 0, bits);
      mem.refresh();
      if (rc < 0) throw new BlobFormatError(rc, "segment");
    } finally {
      mem.free(ptr);
    }
    const view = mem.view;
    const result = (mem.x.RESULT.value as number) >>> 0;
    const blobs = view.getUint32(result, true);
    const index = view.getUint32(result + 8, true);
    const count = view.getUint32(result + 12, true);
    const entries: SegmentInfo[] = [];
    const places: number[] = [];
    let cardinality = 0;
    for (let i = 0; i < count; i++) {
      const rec = index + i * RECORD_BYTES;
      const card = Number(view.getBigUint64(rec + 16, true));
      cardinality += card;
      places.push(blobs + view.getUint32(rec + 8, true));
      entries.push({
        segment: Number(view.getBigUint64(rec, true)),
        cardinality: card,
        min: view.getUint32(rec + 24, true),
        max: view.getUint32(rec + 28, true),
        bytes: view.getUint32(rec + 12, true),
      });
    }
    mem.free(index);
    this.#mem = mem;
    this.#places = places;
    this.#block = blobs;
    this.bits = bits;
    this.cardinality = cardinality;
    this.entries = entries;
  }

  /** Segment i, hashed and copied out (each call hashes and copies again). */
  take(i: number): Segment {
    if (this.#block === 0) throw new WasmCoreError("segment cut used after dispose()");
    const info = this.entries[i];
    if (info === undefined) throw new RangeError(`segment cut: no segment #${i} of ${this.entries.length}`);
    const mem = this.#mem;
    const at = this.#places[i]!;
    // The scratch area never overlaps the cut's block.
    const digest = mem.scratch(16);
    mem.x.murmur3x64_128(at, info.bytes, 0n, digest);
    return {
      segment: info.segment,
      cardinality: info.cardinality,
      min: info.min,
      max: info.max,
      blob: mem.u8.slice(at, at + info.bytes),
      hash: Buffer.from(mem.u8.buffer, digest, 16).toString("base64url"),
    };
  }

  /** Frees the cut's bytes; idempotent. */
  dispose(): void {
    if (this.#block === 0) return;
    this.#mem.free(this.#block);
    this.#block = 0;
  }
}
