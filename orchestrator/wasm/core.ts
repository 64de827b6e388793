// The one owner of the WASM core instance and its linear memory: the public surface of
// orchestrator/wasm/ (the rest of the folder is internal; eslint refuses imports of it).
//
// Ownership rules:
// - Pointers never leave orchestrator/wasm/: no public method takes or returns one. Callers hold
//   ResidentBlob, SegmentCut and UidTable handles, or plain JS arrays.
// - `pin()` copies bytes into linear memory once; the handle owns them until `dispose()`.
//   Queries on a handle read those bytes in place (zero-copy): no glue, no copies.
// - Everything else (`segment`, one-shot `contains` on JS bytes, batch inputs and outputs) goes
//   through a reusable scratch area and returns fresh JS-owned arrays (copies).
// - Linear memory never shrinks, so resident bytes are capped by `budgetBytes`; freed blocks
//   are reused by the allocator (TLSF). Growth detaches views: memory.ts re-creates them.
import { boolsJson, containsBits, hasEach } from "./batch.js";
import { BlobFormatError } from "./errors.js";
import { CoreMemory, checkU32, checked, instantiate, keyLimitFor } from "./memory.js";
import { ResidentBlob } from "./resident.js";
import { SegmentCut } from "./segmenting.js";
import type { BatchFormat, CoreOptions, CoreStats, PinOptions, SegmentBlob, SegmentedBitmap } from "./types.js";
import { UidTable } from "./uid-table.js";

export { ResidentBlob } from "./resident.js";
export { SegmentCut } from "./segmenting.js";
export { UidTable } from "./uid-table.js";
export * from "./types.js";

const DEFAULT_BUDGET = 1 << 30;

export class BitmapCore {
  readonly #m: CoreMemory;

  private constructor(m: CoreMemory) {
    this.#m = m;
  }

  /** Instantiates a fresh core (its own linear memory). Synchronous: the module is small. */
  static create(options: CoreOptions = {}): BitmapCore {
    const budget = options.budgetBytes ?? DEFAULT_BUDGET;
    if (!(budget > 0)) throw new RangeError(`budgetBytes must be positive, got ${budget}`);
    return new BitmapCore(new CoreMemory(instantiate(options.variant ?? "release"), budget));
  }

  get budgetBytes(): number {
    return this.#m.budgetBytes;
  }

  stats(): CoreStats {
    const m = this.#m;
    return {
      memoryBytes: m.x.memory.buffer.byteLength,
      residentBytes: m.resident,
      residentBlobs: m.residentCount,
      budgetBytes: m.budgetBytes,
    };
  }

  // ---- one-shot calls on JS-owned bytes (copied into scratch) -------------------------------

  /**
   * Throws BlobFormatError unless `bytes` is exactly one valid portable blob. With `segmentBits`
   * it must also be a valid segment: every member below 2^segmentBits.
   */
  validate(bytes: Uint8Array, segmentBits = 32): void {
    const keyLimit = keyLimitFor(segmentBits);
    const rc = this.#m.x.validate(this.#m.copyIn(bytes), bytes.length, keyLimit);
    if (rc < 0) throw new BlobFormatError(rc, "validate");
  }

  /**
   * Size the portable blob starting at bytes[0] claims, from its header alone; the claim may
   * exceed bytes.length. Throws BlobFormatError (TRUNCATED) when the header itself is cut off.
   * Validates nothing beyond the header: validate() the claimed bytes next.
   */
  blobExtent(bytes: Uint8Array): number {
    return checked(this.#m.x.blobExtent(this.#m.copyIn(bytes), bytes.length), "blobExtent");
  }

  /** Membership on unpinned bytes. Copies them in first: for cold paths and tests. */
  contains(bytes: Uint8Array, x: number): boolean {
    checkU32(x, "contains");
    const rc = this.#m.x.contains(this.#m.copyIn(bytes), bytes.length, x);
    if (rc < 0) throw new BlobFormatError(rc, "contains");
    return rc === 1;
  }

  /** MurmurHash3 x64 128 of the bytes (the segments' content hash), h1 then h2, little-endian. */
  hash128(bytes: Uint8Array, seed = 0n): Uint8Array {
    const m = this.#m;
    const ptr = m.copyIn(bytes);
    const out = m.alloc(16);
    try {
      m.x.murmur3x64_128(ptr, bytes.length, seed, out);
      return m.u8.slice(out, out + 16);
    } finally {
      m.free(out);
    }
  }

  /** Cardinality from the descriptive header alone. */
  cardinality(bytes: Uint8Array): number {
    return checked(this.#m.x.cardinality(this.#m.copyIn(bytes), bytes.length), "cardinality");
  }

  // ---- segmentation -----------------------------------------------------------------------

  /**
   * Cuts a bitmap into segments of 2^bits positions. Input: a 32-bit portable Roaring blob
   * (Uint8Array), or ascending positions (Uint32Array, BigUint64Array; duplicates are merged).
   */
  segment(input: Uint8Array | Uint32Array | BigUint64Array, bits: number): SegmentedBitmap {
    const cut = this.cut(input, bits);
    try {
      return { bits, cardinality: cut.cardinality, segments: cut.entries.map((_, i) => cut.take(i)) };
    } finally {
      cut.dispose();
    }
  }

  /**
   * Like segment(), but the segments stay in linear memory until taken one by one: a caller
   * that writes each as it is taken overlaps hashing and copying with the write. The cut holds
   * its bytes (about the input's size) until dispose().
   */
  cut(input: Uint8Array | Uint32Array | BigUint64Array, bits: number): SegmentCut {
    return new SegmentCut(this.#m, input, bits);
  }

  // ---- resident blobs (zero-copy queries) --------------------------------------------------

  /**
   * Copies `bytes` into linear memory, validates the blob in them, and returns a handle whose
   * queries read it in place. The blob starts at `offset` (e.g. 1, past a StarRocks type byte)
   * and runs to the end. `segmentBits` also checks that it is a valid segment of that size.
   * Throws WasmBudgetError when the budget would be exceeded, BlobFormatError when invalid.
   */
  pin(bytes: Uint8Array, options: PinOptions = {}): ResidentBlob {
    return new ResidentBlob(this.#m, bytes, options);
  }

  /**
   * One offset per query, each against its own resident blob (null: an empty segment).
   * Consecutive queries on the same blob with ascending offsets walk it once.
   */
  hasEach(blobs: readonly (ResidentBlob | null)[], offsets: Uint32Array, format: BatchFormat = "bytes"): Uint8Array {
    return hasEach(this.#m, blobs, offsets, format);
  }

  /**
   * Membership of many bits (a negative one is no member) in one version, answered in request
   * order (out[i] is 1 or 0): sorted inside the core, each segment walked once. `segments` must
   * hold every segment the bits touch that is not empty; every bit must be below BATCH_BIT_LIMIT.
   */
  containsBits(bits: Float64Array, segmentBits: number, segments: readonly SegmentBlob[]): Uint8Array {
    return containsBits(this.#m, bits, segmentBits, segments);
  }

  /** Answers (bytes 0/1) as the inside of a JSON array of booleans: "true,false,...". */
  boolsJson(answers: Uint8Array): string {
    return boolsJson(this.#m, answers);
  }

  /**
   * A forward cache of the ID mapping, uid -> bit, in linear memory: at most `maxEntries` uids,
   * about `bytesPerKey` bytes of key each (longer ones make it hold fewer).
   */
  uidTable(maxEntries: number, bytesPerKey = 24): UidTable {
    return new UidTable(this.#m, maxEntries, bytesPerKey);
  }
}
