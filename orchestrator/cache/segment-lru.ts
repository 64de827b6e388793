// The segments the cache holds pinned in WASM memory, under a byte budget, evicted least
// recently used. Keys are audience NUL hash: segments are content-addressed, so one pinned
// segment serves every version of its audience that shares it.
import type { ResidentBlob } from "../wasm/core.js";

/** A pinned segment and its place in the LRU order (the insertion count when last inserted). */
interface Resident {
  blob: ResidentBlob;
  seq: number;
}

export class SegmentLru {
  /**
   * Map iteration order is insertion order, and a hit on an entry in the older half re-inserts
   * it at the end. Hits in the younger half leave the order alone: a hot segment costs one Map
   * lookup per query, not a delete and an insert.
   */
  readonly #segments = new Map<string, Resident>();
  #inserted = 0;
  #bytes = 0;
  readonly stats = { hits: 0, misses: 0, evictions: 0 };

  constructor(readonly budgetBytes: number) {}

  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#segments.size;
  }

  /** The pinned segment under `key` if resident (counted as a hit), else undefined. */
  get(key: string): ResidentBlob | undefined {
    const r = this.#segments.get(key);
    if (r === undefined || r.blob.disposed) return undefined;
    if (this.#inserted - r.seq > this.#segments.size >> 1) {
      this.#segments.delete(key);
      this.#insert(key, r);
    }
    this.stats.hits++;
    return r.blob;
  }

  /** Evicts the least recently used segments until `bytes` more fit the budget. */
  makeRoom(bytes: number): void {
    for (const [key, r] of this.#segments) {
      if (this.#bytes + bytes <= this.budgetBytes) break;
      this.#segments.delete(key);
      this.#bytes -= r.blob.byteLength;
      r.blob.dispose();
      this.stats.evictions++;
    }
  }

  add(key: string, blob: ResidentBlob): void {
    this.#insert(key, { blob, seq: 0 });
    this.#bytes += blob.byteLength;
  }

  #insert(key: string, r: Resident): void {
    r.seq = this.#inserted++;
    this.#segments.set(key, r);
  }

  /** Disposes the segments whose keys start with `prefix` and are not in `keep`. */
  drop(prefix: string, keep: ReadonlySet<string>): void {
    for (const [key, r] of this.#segments) {
      if (!key.startsWith(prefix) || keep.has(key)) continue;
      this.#segments.delete(key);
      this.#bytes -= r.blob.byteLength;
      r.blob.dispose();
    }
  }

  /** Disposes every segment. */
  clear(): void {
    for (const r of this.#segments.values()) r.blob.dispose();
    this.#segments.clear();
    this.#bytes = 0;
  }
}
