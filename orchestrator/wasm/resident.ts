// Blobs held in the core's linear memory, queried in place (zero-copy): has, hasMany, rank,
// select, page. A handle owns its bytes until dispose() (idempotent); a query after that throws.
import { BlobErrorCode, BlobFormatError, WasmCoreError } from "./errors.js";
import { checkU32, checked, keyLimitFor, MAX_BITS, type CoreMemory } from "./memory.js";
import type { BatchFormat, PinOptions } from "./types.js";

/**
 * Where a blob lies, for the batch paths of this folder (never exported past core.ts): the blob
 * must belong to `mem`.
 */
export let residentAddress: (blob: ResidentBlob, mem: CoreMemory, op: string) => number;

export class ResidentBlob {
  readonly #mem: CoreMemory;
  #block: number;
  #ptr: number;
  readonly cardinality: number;

  static {
    residentAddress = (blob, mem, op) => {
      if (blob.#mem !== mem) throw new WasmCoreError(`${op}: blob belongs to another core`);
      return blob.#address();
    };
  }

  /** Use BitmapCore.pin(): copies `bytes` in, validates the blob at `offset`, counts it resident. */
  constructor(mem: CoreMemory, bytes: Uint8Array, options: PinOptions = {}) {
    const keyLimit = keyLimitFor(options.segmentBits ?? MAX_BITS);
    const offset = options.offset ?? 0;
    if (!Number.isInteger(offset) || offset < 0 || offset > bytes.length) {
      throw new RangeError(`pin: offset ${offset} is outside the ${bytes.length} B given`);
    }
    mem.checkBudget(bytes.length);
    const block = mem.alloc(bytes.length);
    mem.u8.set(bytes, block);
    const len = bytes.length - offset;
    const rc = mem.x.validate(block + offset, len, keyLimit);
    if (rc < 0) {
      mem.free(block);
      throw new BlobFormatError(rc, "pin");
    }
    mem.countResident(bytes.length);
    this.#mem = mem;
    this.#block = block;
    this.#ptr = block + offset;
    this.byteLength = len;
    this.cardinality = mem.x.cardinality(this.#ptr, len);
  }

  readonly byteLength: number;

  get disposed(): boolean {
    return this.#ptr === 0;
  }

  #address(): number {
    if (this.#ptr === 0) throw new WasmCoreError("resident blob used after dispose()");
    return this.#ptr;
  }

  /** Zero-copy membership of offset x (a u32). */
  has(x: number): boolean {
    if (x >>> 0 !== x) throw new RangeError(`has: ${x} is not a u32 offset`);
    const rc = this.#mem.x.contains(this.#address(), this.byteLength, x);
    if (rc < 0) throw new BlobFormatError(rc, "has");
    return rc === 1;
  }

  /** Membership of many offsets; ascending offsets are answered in one walk of the blob. */
  hasMany(offsets: Uint32Array, format: BatchFormat = "bytes"): Uint8Array {
    const mem = this.#mem;
    const n = offsets.length;
    const outBytes = format === "bytes" ? n : (n + 7) >>> 3;
    // Room for one byte per query either way: bits are packed in place by the core.
    const area = mem.scratch(n * 4 + n + 8);
    mem.u32.set(offsets, area >>> 2);
    const out = area + n * 4;
    const rc = mem.x.containsMany(this.#address(), this.byteLength, area, n, out, format === "bytes" ? 0 : 1);
    if (rc < 0) throw new BlobFormatError(rc, "hasMany");
    return mem.u8.slice(out, out + outBytes);
  }

  /** How many members are <= x. */
  rank(x: number): number {
    checkU32(x, "rank");
    return checked(this.#mem.x.rank(this.#address(), this.byteLength, x), "rank");
  }

  /** The member of 0-based rank r, or undefined when r is out of range. */
  select(r: number): number | undefined {
    const v = this.#mem.x.select(this.#address(), this.byteLength, r);
    if (v === BlobErrorCode.NONE) return undefined;
    return checked(v, "select");
  }

  /** Up to `count` members in ascending order, from 0-based rank `from` (a page). */
  page(from: number, count: number): Uint32Array {
    if (!Number.isInteger(from) || from < 0) throw new RangeError(`page: from must be a rank >= 0, got ${from}`);
    if (!Number.isInteger(count) || count < 0) throw new RangeError(`page: count must be >= 0, got ${count}`);
    const mem = this.#mem;
    const area = mem.scratch(count * 4);
    const n = mem.x.extract(this.#address(), this.byteLength, from, count, area);
    if (n < 0) throw new BlobFormatError(n, "page");
    return mem.u32.slice(area >>> 2, (area >>> 2) + n);
  }

  dispose(): void {
    if (this.#ptr === 0) return;
    const block = this.#block;
    const blockBytes = this.#ptr - block + this.byteLength;
    this.#ptr = 0;
    this.#block = 0;
    this.#mem.releaseResident(block, blockBytes);
  }
}
