// The one owner of the WASM core instance and its linear memory.
//
// Ownership rules:
// - Pointers never leave this module. Callers hold ResidentBlob handles or plain JS arrays.
// - `pin()` copies bytes into linear memory once; the handle owns them until `dispose()`.
//   Queries on a handle read those bytes in place (zero-copy): no glue, no copies.
// - Everything else (`segment`, one-shot `contains` on JS bytes, batch inputs and outputs) goes
//   through a reusable scratch area and returns fresh JS-owned arrays (copies).
// - Linear memory never shrinks, so resident bytes are capped by `budgetBytes`; freed blocks
//   are reused by the allocator (TLSF).
// - Growth detaches ArrayBuffer views, so views are re-created whenever `memory.buffer` changes.
import { readFileSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { BlobErrorCode, BlobFormatError, WasmBudgetError, WasmCoreError } from "./errors.js";

interface CoreExports {
  memory: WebAssembly.Memory;
  RESULT: WebAssembly.Global;
  alloc(size: number): number;
  dealloc(ptr: number): void;
  validate(ptr: number, len: number, keyLimit: number): number;
  blobExtent(ptr: number, len: number): number;
  contains(ptr: number, len: number, x: number): number;
  containsMany(ptr: number, len: number, q: number, n: number, out: number, mode: number): number;
  containsEach(table: number, n: number, out: number, mode: number): number;
  cardinality(ptr: number, len: number): number;
  rank(ptr: number, len: number, x: number): number;
  select(ptr: number, len: number, r: number): number;
  extract(ptr: number, len: number, from: number, count: number, out: number): number;
  segmentPortable(ptr: number, len: number, bits: number): number;
  segmentSorted(ptr: number, count: number, wide: number, bits: number): number;
  murmur3x64_128(ptr: number, len: number, seed: bigint, out: number): void;
  uidTableCreate(maxEntries: number, bytesPerKey: number): number;
  uidTableFree(t: number): void;
  uidTableClear(t: number): void;
  uidTableSize(t: number): number;
  uidTableBytes(t: number): number;
  uidTableGet(t: number, key: number, len: number): number;
  uidTableSet(t: number, key: number, len: number, bit: number): void;
  uidScanJson(t: number, body: number, len: number, maxItems: number, bits: number, meta: number): number;
  containsBits(
    bits: number,
    n: number,
    segmentBits: number,
    table: number,
    segs: number,
    work: number,
    out: number,
  ): number;
  boolsJson(src: number, n: number, dst: number): number;
}

/** Shape of batch results: one byte per query (0/1), or a bitset with bit i for query i. */
export type BatchFormat = "bytes" | "bits";

export interface CoreOptions {
  /** `release` (optimized) or `debug` (asserts, source map). Default `release`. */
  variant?: "release" | "debug";
  /** Cap on bytes held by resident blobs. Default 1 GiB. */
  budgetBytes?: number;
}

/** One segment out of segmentation: a standard portable Roaring blob of offsets in the segment. */
export interface Segment {
  /** Segment number k: the segment covers positions [k·2^bits, (k+1)·2^bits). */
  segment: number;
  cardinality: number;
  /** Smallest and largest member, as offsets inside the segment. */
  min: number;
  max: number;
  /** Portable Roaring bytes (JS-owned copy). */
  blob: Uint8Array;
  /** Content hash of the blob: MurmurHash3 x64 128, base64url (22 characters). */
  hash: string;
}

/** What a segment's index record says, before its bytes are taken. */
export interface SegmentInfo {
  segment: number;
  cardinality: number;
  min: number;
  max: number;
  /** Size of the segment's portable blob. */
  bytes: number;
}

export interface SegmentedBitmap {
  bits: number;
  cardinality: number;
  /** Non-empty segments only, ascending by segment number. */
  segments: Segment[];
}

export interface PinOptions {
  /** Also require a valid segment of 2^segmentBits positions. Default 32 (any 32-bit blob). */
  segmentBits?: number;
  /** Where the blob starts inside the bytes given. Default 0. */
  offset?: number;
}

export interface CoreStats {
  memoryBytes: number;
  residentBytes: number;
  residentBlobs: number;
  budgetBytes: number;
}

/** A segment of one version and its pinned bytes, for BitmapCore.containsBits. */
export interface SegmentBlob {
  segment: number;
  blob: ResidentBlob;
}

/** What a batch body scan found: per uid, its cached bit or -1; the uids the cache lacks. */
export interface UidScan {
  bits: Float64Array;
  /** Positions of the uids the cache lacks (bits[i] is -1), and those uids. */
  missing: number[];
  missingUids: string[];
}

/**
 * Below this, a bit takes the batch path of containsBits for any batch of up to 2^20 bits (the
 * bit and its position share one u64 sort key there); above it, one check at a time.
 */
export const BATCH_BIT_LIMIT = 2 ** 44;

const RECORD_BYTES = 32;
/** Bytes per uid of uidScanJson's meta area (META in assembly/uids.ts). */
const SCAN_META_BYTES = 24;
const MIN_BITS = 16;
const MAX_BITS = 32;
const DEFAULT_BUDGET = 1 << 30;

function locateWasm(variant: string): string {
  const name = `core.${variant}.wasm`;
  // Source (orchestrator/wasm) and compiled (dist/orchestrator/wasm) sit at different depths.
  for (const rel of ["../../build/", "../../../build/"]) {
    const path = fileURLToPath(new URL(rel + name, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new WasmCoreError(`WASM core ${name} not found next to ${import.meta.url}: run \`npm run build:wasm\``);
}

export class BitmapCore {
  readonly #x: CoreExports;
  #buffer: ArrayBuffer;
  #u8: Uint8Array;
  #u32: Uint32Array;
  #view: DataView;
  #scratch = 0;
  #scratchBytes = 0;
  #resident = 0;
  #residentCount = 0;
  readonly budgetBytes: number;

  private constructor(x: CoreExports, budgetBytes: number) {
    this.#x = x;
    this.budgetBytes = budgetBytes;
    this.#buffer = x.memory.buffer;
    this.#u8 = new Uint8Array(this.#buffer);
    this.#u32 = new Uint32Array(this.#buffer);
    this.#view = new DataView(this.#buffer);
  }

  /** Instantiates a fresh core (its own linear memory). Synchronous: the module is small. */
  static create(options: CoreOptions = {}): BitmapCore {
    const variant = options.variant ?? "release";
    const budget = options.budgetBytes ?? DEFAULT_BUDGET;
    if (!(budget > 0)) throw new RangeError(`budgetBytes must be positive, got ${budget}`);
    const module = new WebAssembly.Module(readFileSync(locateWasm(variant)));
    const ref: { memory?: WebAssembly.Memory } = {};
    const imports = {
      env: {
        abort(msg: number, file: number, line: number, col: number): never {
          const m = ref.memory;
          const text = m ? `${readAsString(m, msg)} at ${readAsString(m, file)}:${line}:${col}` : "";
          throw new WasmCoreError(`WASM core aborted: ${text}`);
        },
      },
    };
    const instance = new WebAssembly.Instance(module, imports);
    const x = instance.exports as unknown as CoreExports;
    ref.memory = x.memory;
    return new BitmapCore(x, budget);
  }

  // ---- memory ----------------------------------------------------------------------------

  #refresh(): void {
    if (this.#x.memory.buffer !== this.#buffer) {
      this.#buffer = this.#x.memory.buffer;
      this.#u8 = new Uint8Array(this.#buffer);
      this.#u32 = new Uint32Array(this.#buffer);
      this.#view = new DataView(this.#buffer);
    }
  }

  #alloc(size: number): number {
    let ptr: number;
    try {
      ptr = this.#x.alloc(size) >>> 0;
    } catch (err) {
      throw new WasmCoreError(`WASM core could not allocate ${size} B`, { cause: err });
    }
    this.#refresh();
    return ptr;
  }

  /** A scratch area of at least `size` bytes, reused across calls. Invalidated by the next call. */
  #scratchArea(size: number): number {
    if (size > this.#scratchBytes) {
      if (this.#scratch !== 0) this.#x.dealloc(this.#scratch);
      this.#scratch = 0;
      const bytes = Math.max(size, 4096, this.#scratchBytes * 2);
      this.#scratch = this.#alloc(bytes);
      this.#scratchBytes = bytes;
    }
    return this.#scratch;
  }

  /** Copies bytes to scratch, keeping their alignment mod 8 so odd source offsets stay odd. */
  #copyIn(bytes: Uint8Array): number {
    const ptr = this.#scratchArea(bytes.length + 8) + (bytes.byteOffset & 7);
    this.#u8.set(bytes, ptr);
    return ptr;
  }

  stats(): CoreStats {
    return {
      memoryBytes: this.#x.memory.buffer.byteLength,
      residentBytes: this.#resident,
      residentBlobs: this.#residentCount,
      budgetBytes: this.budgetBytes,
    };
  }

  // ---- one-shot calls on JS-owned bytes (copied into scratch) -------------------------------

  /**
   * Throws BlobFormatError unless `bytes` is exactly one valid portable blob. With `segmentBits`
   * it must also be a valid segment: every member below 2^segmentBits.
   */
  validate(bytes: Uint8Array, segmentBits = 32): void {
    const keyLimit = keyLimitFor(segmentBits);
    const rc = this.#x.validate(this.#copyIn(bytes), bytes.length, keyLimit);
    if (rc < 0) throw new BlobFormatError(rc, "validate");
  }

  /**
   * Size the portable blob starting at bytes[0] claims, from its header alone; the claim may
   * exceed bytes.length. Throws BlobFormatError (TRUNCATED) when the header itself is cut off.
   * Validates nothing beyond the header: validate() the claimed bytes next.
   */
  blobExtent(bytes: Uint8Array): number {
    return checked(this.#x.blobExtent(this.#copyIn(bytes), bytes.length), "blobExtent");
  }

  /** Membership on unpinned bytes. Copies them in first: for cold paths and tests. */
  contains(bytes: Uint8Array, x: number): boolean {
    checkU32(x, "contains");
    const rc = this.#x.contains(this.#copyIn(bytes), bytes.length, x);
    if (rc < 0) throw new BlobFormatError(rc, "contains");
    return rc === 1;
  }

  /** MurmurHash3 x64 128 of the bytes, the 16-byte digest as h1 then h2, little-endian. */
  hash128(bytes: Uint8Array, seed = 0n): Uint8Array {
    const ptr = this.#copyIn(bytes);
    const out = this.#alloc(16);
    try {
      this.#x.murmur3x64_128(ptr, bytes.length, seed, out);
      return this.#u8.slice(out, out + 16);
    } finally {
      this.#x.dealloc(out);
    }
  }

  /** Cardinality from the descriptive header alone. */
  cardinality(bytes: Uint8Array): number {
    return checked(this.#x.cardinality(this.#copyIn(bytes), bytes.length), "cardinality");
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
    if (!Number.isInteger(bits) || bits < MIN_BITS || bits > MAX_BITS) {
      throw new RangeError(`segment bits must be an integer in [${MIN_BITS}, ${MAX_BITS}], got ${bits}`);
    }
    const bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
    // Inputs can be large: use a dedicated block rather than growing the scratch area for good.
    const ptr = this.#alloc(bytes.length);
    try {
      this.#u8.set(bytes, ptr);
      let rc: number;
      if (input instanceof Uint8Array) rc = this.#x.segmentPortable(ptr, bytes.length, bits);
      else rc = this.#x.segmentSorted(ptr, input.length, input instanceof BigUint64Array ? 1 : 0, bits);
      this.#refresh();
      if (rc < 0) throw new BlobFormatError(rc, "segment");
    } finally {
      this.#x.dealloc(ptr);
    }
    const result = (this.#x.RESULT.value as number) >>> 0;
    const blobs = this.#view.getUint32(result, true);
    const index = this.#view.getUint32(result + 8, true);
    const count = this.#view.getUint32(result + 12, true);
    const entries: SegmentInfo[] = [];
    const places: number[] = [];
    let cardinality = 0;
    for (let i = 0; i < count; i++) {
      const rec = index + i * RECORD_BYTES;
      const card = Number(this.#view.getBigUint64(rec + 16, true));
      cardinality += card;
      places.push(blobs + this.#view.getUint32(rec + 8, true));
      entries.push({
        segment: Number(this.#view.getBigUint64(rec, true)),
        cardinality: card,
        min: this.#view.getUint32(rec + 24, true),
        max: this.#view.getUint32(rec + 28, true),
        bytes: this.#view.getUint32(rec + 12, true),
      });
    }
    this.#x.dealloc(index);
    return new SegmentCut(this, bits, cardinality, entries, places, blobs);
  }

  /** @internal Hashes a cut segment where it lies and copies it out. */
  takeSegment(at: number, info: SegmentInfo): Segment {
    // The scratch area never overlaps the cut's block.
    const digest = this.#scratchArea(16);
    this.#x.murmur3x64_128(at, info.bytes, 0n, digest);
    return {
      segment: info.segment,
      cardinality: info.cardinality,
      min: info.min,
      max: info.max,
      blob: this.#u8.slice(at, at + info.bytes),
      hash: Buffer.from(this.#u8.buffer, digest, 16).toString("base64url"),
    };
  }

  /** @internal Called by SegmentCut.dispose(). */
  freeBlock(block: number): void {
    this.#x.dealloc(block);
  }

  // ---- resident blobs (zero-copy queries) --------------------------------------------------

  /**
   * Copies `bytes` into linear memory, validates the blob in them, and returns a handle whose
   * queries read it in place. The blob starts at `offset` (e.g. 1, past a StarRocks type byte)
   * and runs to the end. `segmentBits` also checks that it is a valid segment of that size.
   * Throws WasmBudgetError when the budget would be exceeded, BlobFormatError when invalid.
   */
  pin(bytes: Uint8Array, options: PinOptions = {}): ResidentBlob {
    const keyLimit = keyLimitFor(options.segmentBits ?? MAX_BITS);
    const offset = options.offset ?? 0;
    if (!Number.isInteger(offset) || offset < 0 || offset > bytes.length) {
      throw new RangeError(`pin: offset ${offset} is outside the ${bytes.length} B given`);
    }
    if (this.#resident + bytes.length > this.budgetBytes) {
      throw new WasmBudgetError(bytes.length, this.#resident, this.budgetBytes);
    }
    const block = this.#alloc(bytes.length);
    this.#u8.set(bytes, block);
    const len = bytes.length - offset;
    const rc = this.#x.validate(block + offset, len, keyLimit);
    if (rc < 0) {
      this.#x.dealloc(block);
      throw new BlobFormatError(rc, "pin");
    }
    this.#resident += bytes.length;
    this.#residentCount++;
    return new ResidentBlob(this, block, offset, len, this.#x);
  }

  /** @internal Called by ResidentBlob.dispose(). */
  release(block: number, blockBytes: number): void {
    this.#x.dealloc(block);
    this.#resident -= blockBytes;
    this.#residentCount--;
  }

  /** @internal Batch against one resident blob. */
  batch(ptr: number, len: number, offsets: Uint32Array, format: BatchFormat): Uint8Array {
    const n = offsets.length;
    const outBytes = format === "bytes" ? n : (n + 7) >>> 3;
    // Room for one byte per query either way: bits are packed in place by the core.
    const area = this.#scratchArea(n * 4 + n + 8);
    this.#u32.set(offsets, area >>> 2);
    const out = area + n * 4;
    const rc = this.#x.containsMany(ptr, len, area, n, out, format === "bytes" ? 0 : 1);
    if (rc < 0) throw new BlobFormatError(rc, "hasMany");
    return this.#u8.slice(out, out + outBytes);
  }

  /** @internal Pages out members of a resident blob. */
  page(ptr: number, len: number, from: number, count: number): Uint32Array {
    const area = this.#scratchArea(count * 4);
    const n = this.#x.extract(ptr, len, from, count, area);
    if (n < 0) throw new BlobFormatError(n, "page");
    return this.#u32.slice(area >>> 2, (area >>> 2) + n);
  }

  /**
   * One offset per query, each against its own resident blob (null: an empty segment).
   * Consecutive queries on the same blob with ascending offsets walk it once.
   */
  hasEach(blobs: readonly (ResidentBlob | null)[], offsets: Uint32Array, format: BatchFormat = "bytes"): Uint8Array {
    const n = offsets.length;
    if (blobs.length !== n) throw new RangeError(`hasEach: ${blobs.length} blobs for ${n} offsets`);
    const outBytes = format === "bytes" ? n : (n + 7) >>> 3;
    const area = this.#scratchArea(n * 12 + outBytes);
    const table = this.#u32;
    let t = area >>> 2;
    for (let i = 0; i < n; i++) {
      const blob = blobs[i];
      if (blob) {
        if (blob.core !== this) throw new WasmCoreError("hasEach: blob belongs to another core");
        table[t] = blob.address();
        table[t + 1] = blob.byteLength;
      } else {
        table[t] = 0;
        table[t + 1] = 0;
      }
      table[t + 2] = offsets[i]!;
      t += 3;
    }
    const out = area + n * 12;
    const rc = this.#x.containsEach(area, n, out, format === "bytes" ? 0 : 1);
    if (rc < 0) throw new BlobFormatError(rc, "hasEach");
    return this.#u8.slice(out, out + outBytes);
  }

  /**
   * Membership of many bits (a negative one is no member) in one version, answered in request
   * order (out[i] is 1 or 0): sorted inside the core, each segment walked once. `segments` must
   * hold every segment the bits touch that is not empty; every bit must be below BATCH_BIT_LIMIT.
   */
  containsBits(bits: Float64Array, segmentBits: number, segments: readonly SegmentBlob[]): Uint8Array {
    const n = bits.length;
    if (n > 1 << 20) throw new RangeError(`containsBits: ${n} bits, over 2^20`);
    const segs = [...segments].sort((a, b) => a.segment - b.segment);
    const tableBytes = segs.length * 12;
    // bits (8-aligned), then the segment table, the work area (21 B a bit) and the answers
    const area = this.#scratchArea(8 + n * 8 + tableBytes + 8 + n * 21 + n);
    const bitsAt = (area + 7) & ~7;
    new Float64Array(this.#buffer, bitsAt, n).set(bits);
    const table = bitsAt + n * 8;
    let t = table >>> 2;
    for (const { segment, blob } of segs) {
      if (blob.core !== this) throw new WasmCoreError("containsBits: blob belongs to another core");
      if (segment >>> 0 !== segment) throw new RangeError(`containsBits: segment ${segment} is not a u32`);
      this.#u32[t++] = segment;
      this.#u32[t++] = blob.address();
      this.#u32[t++] = blob.byteLength;
    }
    const work = (table + tableBytes + 7) & ~7;
    const out = work + n * 21;
    const rc = this.#x.containsBits(bitsAt, n, segmentBits, table, segs.length, work, out);
    if (rc < 0) throw new BlobFormatError(rc, "containsBits");
    return this.#u8.slice(out, out + n);
  }

  /** Answers (bytes 0/1) as the inside of a JSON array of booleans: "true,false,...". */
  boolsJson(answers: Uint8Array): string {
    const n = answers.length;
    const area = this.#scratchArea(n * 7 + 8);
    this.#u8.set(answers, area);
    const len = this.#x.boolsJson(area, n, area + n);
    return Buffer.from(this.#buffer, area + n, len).toString("latin1");
  }

  /**
   * A forward cache of the ID mapping, uid -> bit, in linear memory: at most `maxEntries` uids,
   * about `bytesPerKey` bytes of key each (longer ones make it hold fewer).
   */
  uidTable(maxEntries: number, bytesPerKey = 24): UidTable {
    if (!Number.isInteger(maxEntries) || maxEntries < 1 || maxEntries > 2 ** 28) {
      throw new RangeError(`uidTable: maxEntries must be an integer in [1, 2^28], got ${maxEntries}`);
    }
    let t: number;
    try {
      t = this.#x.uidTableCreate(maxEntries, bytesPerKey) >>> 0;
    } catch (err) {
      throw new WasmCoreError(`WASM core could not allocate a uid cache of ${maxEntries} entries`, { cause: err });
    }
    this.#refresh();
    return new UidTable(this, t, this.#x);
  }

  /** Copies a uid's UTF-8 bytes to scratch; returns their length (they start at the scratch area). */
  #uidBytes(uid: string): number {
    const n = uid.length;
    // ASCII, the common case, without an encoder call; anything else through Buffer.
    // 16 bytes past the key: the core reads keys a word at a time (and masks).
    const area = this.#scratchArea(n * 3 + 16);
    const u8 = this.#u8;
    for (let i = 0; i < n; i++) {
      const c = uid.charCodeAt(i);
      if (c >= 0x80) return Buffer.from(u8.buffer, area, n * 3).write(uid, "utf8");
      u8[area + i] = c;
    }
    return n;
  }

  /** @internal See UidTable.get. */
  uidGet(t: number, uid: string): number {
    const len = this.#uidBytes(uid);
    const bit = this.#x.uidTableGet(t, this.#scratch, len);
    this.#refresh(); // a hit in the old generation is copied to the young one, which may grow
    return bit;
  }

  /** @internal See UidTable.set. */
  uidSet(t: number, uid: string, bit: number): void {
    const len = this.#uidBytes(uid);
    this.#x.uidTableSet(t, this.#scratch, len, bit);
    this.#refresh();
  }

  /** @internal Scans a batch body into the uid table; see UidTable.scan. */
  uidScan(t: number, body: Uint8Array, maxItems: number): UidScan | null {
    const len = body.length;
    // bits (8-aligned), the meta of each uid, the body, and 16 bytes past it (the core reads words).
    const area = this.#scratchArea(8 + maxItems * (8 + SCAN_META_BYTES) + len + 16);
    const bitsAt = (area + 7) & ~7;
    const metaAt = bitsAt + maxItems * 8;
    const bodyAt = metaAt + maxItems * SCAN_META_BYTES;
    this.#u8.set(body, bodyAt);
    const n = this.#x.uidScanJson(t, bodyAt, len, maxItems, bitsAt, metaAt);
    this.#refresh();
    if (n < 0) return null;
    const bits = new Float64Array(n);
    bits.set(new Float64Array(this.#buffer, bitsAt, n));
    // Only the uids the cache lacks become strings (the scan takes ASCII only: latin1 is UTF-8).
    const missing: number[] = [];
    const missingUids: string[] = [];
    const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    for (let i = 0; i < n; i++) {
      if (bits[i]! >= 0) continue;
      const m = (metaAt + i * SCAN_META_BYTES) >>> 2; // u32 start, u32 length, ...
      missing.push(i);
      missingUids.push(text.toString("latin1", this.#u32[m]!, this.#u32[m]! + this.#u32[m + 1]!));
    }
    return { bits, missing, missingUids };
  }

  /** @internal Copies a resident blob out. */
  copyOut(ptr: number, len: number): Uint8Array {
    return this.#u8.slice(ptr, ptr + len);
  }
}

/**
 * A blob held in the core's linear memory. Queries read it in place. The handle owns the bytes
 * until `dispose()` (idempotent); any query after that throws.
 */
export class ResidentBlob {
  #block: number;
  #ptr: number;
  readonly #x: CoreExports;
  readonly cardinality: number;

  /** @internal Use BitmapCore.pin(). */
  constructor(
    readonly core: BitmapCore,
    block: number,
    offset: number,
    readonly byteLength: number,
    x: CoreExports,
  ) {
    this.#block = block;
    this.#ptr = block + offset;
    this.#x = x;
    this.cardinality = x.cardinality(this.#ptr, byteLength);
  }

  get disposed(): boolean {
    return this.#ptr === 0;
  }

  /** @internal */
  address(): number {
    if (this.#ptr === 0) throw new WasmCoreError("resident blob used after dispose()");
    return this.#ptr;
  }

  /** Zero-copy membership of offset x (a u32). */
  has(x: number): boolean {
    if (x >>> 0 !== x) throw new RangeError(`has: ${x} is not a u32 offset`);
    const rc = this.#x.contains(this.address(), this.byteLength, x);
    if (rc < 0) throw new BlobFormatError(rc, "has");
    return rc === 1;
  }

  /** Membership of many offsets; ascending offsets are answered in one walk of the blob. */
  hasMany(offsets: Uint32Array, format: BatchFormat = "bytes"): Uint8Array {
    return this.core.batch(this.address(), this.byteLength, offsets, format);
  }

  /** How many members are <= x. */
  rank(x: number): number {
    checkU32(x, "rank");
    return checked(this.#x.rank(this.address(), this.byteLength, x), "rank");
  }

  /** The member of 0-based rank r, or undefined when r is out of range. */
  select(r: number): number | undefined {
    const v = this.#x.select(this.address(), this.byteLength, r);
    if (v === BlobErrorCode.NONE) return undefined;
    return checked(v, "select");
  }

  /** Up to `count` members in ascending order, from 0-based rank `from` (a page). */
  page(from: number, count: number): Uint32Array {
    if (!Number.isInteger(from) || from < 0) throw new RangeError(`page: from must be a rank >= 0, got ${from}`);
    if (!Number.isInteger(count) || count < 0) throw new RangeError(`page: count must be >= 0, got ${count}`);
    return this.core.page(this.address(), this.byteLength, from, count);
  }

  /** A JS-owned copy of the bytes. */
  toBytes(): Uint8Array {
    return this.core.copyOut(this.address(), this.byteLength);
  }

  dispose(): void {
    if (this.#ptr === 0) return;
    const block = this.#block;
    const blockBytes = this.#ptr - block + this.byteLength;
    this.#ptr = 0;
    this.#block = 0;
    this.core.release(block, blockBytes);
  }
}

function keyLimitFor(segmentBits: number): number {
  if (!Number.isInteger(segmentBits) || segmentBits < MIN_BITS || segmentBits > MAX_BITS) {
    throw new RangeError(`segment bits must be an integer in [${MIN_BITS}, ${MAX_BITS}], got ${segmentBits}`);
  }
  return 2 ** (segmentBits - 16);
}

function checkU32(x: number, op: string): void {
  if (!Number.isInteger(x) || x < 0 || x > 0xffffffff) throw new RangeError(`${op}: ${x} is not a u32 offset`);
}

function checked(v: number, op: string): number {
  if (v < 0) throw new BlobFormatError(v, op);
  return v;
}

/** Reads an AssemblyScript string (UTF-16, byte length at ptr-4) for abort messages. */
function readAsString(memory: WebAssembly.Memory, ptr: number): string {
  if (ptr === 0) return "";
  const view = new DataView(memory.buffer);
  const bytes = view.getUint32(ptr - 4, true);
  return Buffer.from(memory.buffer, ptr, bytes).toString("utf16le");
}

/** Segments cut by BitmapCore.cut(), held in linear memory until taken; see there. */
export class SegmentCut {
  #block: number;

  /** @internal Use BitmapCore.cut(). */
  constructor(
    private readonly core: BitmapCore,
    readonly bits: number,
    readonly cardinality: number,
    /** Non-empty segments only, ascending by segment number. */
    readonly entries: readonly SegmentInfo[],
    private readonly places: readonly number[],
    block: number,
  ) {
    this.#block = block;
  }

  /** Segment i, hashed and copied out (each call hashes and copies again). */
  take(i: number): Segment {
    if (this.#block === 0) throw new WasmCoreError("segment cut used after dispose()");
    const info = this.entries[i];
    if (info === undefined) throw new RangeError(`segment cut: no segment #${i} of ${this.entries.length}`);
    return this.core.takeSegment(this.places[i]!, info);
  }

  /** Frees the cut's bytes; idempotent. */
  dispose(): void {
    if (this.#block === 0) return;
    this.core.freeBlock(this.#block);
    this.#block = 0;
  }
}

/**
 * The mapping's forward cache in the core's memory (see BitmapCore.uidTable): two generations,
 * so the uids used lately stay and the rest go, as with an LRU. Bits are exact up to 2^53.
 */
export class UidTable {
  #t: number;
  readonly #x: CoreExports;

  /** @internal Use BitmapCore.uidTable(). */
  constructor(
    readonly core: BitmapCore,
    t: number,
    x: CoreExports,
  ) {
    this.#t = t;
    this.#x = x;
  }

  #table(): number {
    if (this.#t === 0) throw new WasmCoreError("uid table used after dispose()");
    return this.#t;
  }

  /** The cached bit of the uid, or undefined. */
  get(uid: string): number | undefined {
    const bit = this.core.uidGet(this.#table(), uid);
    return bit < 0 ? undefined : bit;
  }

  set(uid: string, bit: number): void {
    if (!Number.isSafeInteger(bit) || bit < 0) throw new RangeError(`uid table: bit ${bit} is not a safe integer >= 0`);
    this.core.uidSet(this.#table(), uid, bit);
  }

  /**
   * Reads a body of the form {"uids":["...", ...]} and looks every uid up: its bit, or -1 when
   * not cached. Null for any other body (another shape, escapes or non-ASCII in a uid, more than
   * maxItems uids): parse that one as JSON.
   */
  scan(body: Uint8Array, maxItems: number): UidScan | null {
    return this.core.uidScan(this.#table(), body, maxItems);
  }

  get size(): number {
    return this.#x.uidTableSize(this.#table());
  }

  /** Bytes of linear memory the table holds. */
  get byteLength(): number {
    return this.#x.uidTableBytes(this.#table());
  }

  clear(): void {
    this.#x.uidTableClear(this.#table());
  }

  dispose(): void {
    if (this.#t === 0) return;
    this.#x.uidTableFree(this.#t);
    this.#t = 0;
  }
}
