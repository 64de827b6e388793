// The ID mapping's forward cache, uid -> bit, in the core's linear memory: two generations, so
// the uids used lately stay and the rest go, as with an LRU. Bits are exact up to 2^53.
import { WasmCoreError } from "./errors.js";
import type { CoreMemory } from "./memory.js";
import type { UidScan } from "./types.js";

/** Bytes of one uid's scan record (u32 start, u32 length, ...): assembly/uids.ts' META (test/contracts). */
export const SCAN_META_BYTES = 24;

export class UidTable {
  readonly #mem: CoreMemory;
  #t: number;

  /** Use BitmapCore.uidTable(): at most `maxEntries` uids of about `bytesPerKey` bytes each. */
  constructor(mem: CoreMemory, maxEntries: number, bytesPerKey: number) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1 || maxEntries > 2 ** 28) {
      throw new RangeError(`uidTable: maxEntries must be an integer in [1, 2^28], got ${maxEntries}`);
    }
    let t: number;
    try {
      t = mem.x.uidTableCreate(maxEntries, bytesPerKey) >>> 0;
    } catch (err) {
      throw new WasmCoreError(`WASM core could not allocate a uid cache of ${maxEntries} entries`, { cause: err });
    }
    mem.refresh();
    this.#mem = mem;
    this.#t = t;
  }

  #table(): number {
    if (this.#t === 0) throw new WasmCoreError("uid table used after dispose()");
    return this.#t;
  }

  /** Copies a uid's UTF-8 bytes to scratch; returns their length (they start at the scratch area). */
  #uidBytes(uid: string): number {
    const n = uid.length;
    // ASCII, the common case, without an encoder call; anything else through Buffer.
    // 16 bytes past the key: the core reads keys a word at a time (and masks).
    const area = this.#mem.scratch(n * 3 + 16);
    const u8 = this.#mem.u8;
    for (let i = 0; i < n; i++) {
      const c = uid.charCodeAt(i);
      if (c >= 0x80) return Buffer.from(u8.buffer, area, n * 3).write(uid, "utf8");
      u8[area + i] = c;
    }
    return n;
  }

  /** The cached bit of the uid, or undefined. */
  get(uid: string): number | undefined {
    const t = this.#table();
    const len = this.#uidBytes(uid);
    const bit = this.#mem.x.uidTableGet(t, this.#mem.scratchAt, len);
    this.#mem.refresh(); // a hit in the old generation is copied to the young one, which may grow
    return bit < 0 ? undefined : bit;
  }

  set(uid: string, bit: number): void {
    if (!Number.isSafeInteger(bit) || bit < 0) throw new RangeError(`uid table: bit ${bit} is not a safe integer >= 0`);
    const t = this.#table();
    const len = this.#uidBytes(uid);
    this.#mem.x.uidTableSet(t, this.#mem.scratchAt, len, bit);
    this.#mem.refresh();
  }

  /**
   * Reads a body of the form {"uids":["...", ...]} and looks every uid up: its bit, or -1 when
   * not cached. Null for any other body (another shape, escapes or non-ASCII in a uid, more than
   * maxItems uids): parse that one as JSON.
   */
  scan(body: Uint8Array, maxItems: number): UidScan | null {
    const t = this.#table();
    const mem = this.#mem;
    const len = body.length;
    // bits (8-aligned), the meta of each uid, the body, and 16 bytes past it (the core reads words).
    const area = mem.scratch(8 + maxItems * (8 + SCAN_META_BYTES) + len + 16);
    const bitsAt = (area + 7) & ~7;
    const metaAt = bitsAt + maxItems * 8;
    const bodyAt = metaAt + maxItems * SCAN_META_BYTES;
    mem.u8.set(body, bodyAt);
    const n = mem.x.uidScanJson(t, bodyAt, len, maxItems, bitsAt, metaAt);
    mem.refresh();
    if (n < 0) return null;
    const bits = new Float64Array(n);
    bits.set(new Float64Array(mem.buffer, bitsAt, n));
    // Only the uids the cache lacks become strings (the scan takes ASCII only: latin1 is UTF-8).
    const missing: number[] = [];
    const missingUids: string[] = [];
    const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    const u32 = mem.u32;
    for (let i = 0; i < n; i++) {
      if (bits[i]! >= 0) continue;
      const m = (metaAt + i * SCAN_META_BYTES) >>> 2; // u32 start, u32 length, ...
      missing.push(i);
      missingUids.push(text.toString("latin1", u32[m]!, u32[m]! + u32[m + 1]!));
    }
    return { bits, missing, missingUids };
  }

  get size(): number {
    return this.#mem.x.uidTableSize(this.#table());
  }

  /** Bytes of linear memory the table holds. */
  get byteLength(): number {
    return this.#mem.x.uidTableBytes(this.#table());
  }

  clear(): void {
    this.#mem.x.uidTableClear(this.#table());
  }

  dispose(): void {
    if (this.#t === 0) return;
    this.#mem.x.uidTableFree(this.#t);
    this.#t = 0;
  }
}
