// Pinned segments indexed by segment number, and the two ways the benchmarks query them.
import type { ResidentBlob } from "../orchestrator/wasm/core.js";

export class PinnedTable {
  readonly #mask: number;
  readonly #segmentOf: (x: number) => number;
  #offsets = new Uint32Array(0);

  constructor(
    readonly bits: number,
    readonly table: readonly (ResidentBlob | undefined)[],
  ) {
    this.#mask = 2 ** bits - 1;
    // `>>>` cannot shift by 32, and with 2^32 bits there is one segment.
    this.#segmentOf = bits >= 32 ? (): number => 0 : (x: number): number => x >>> bits;
  }

  segmentOf(x: number): number {
    return this.#segmentOf(x);
  }

  /** One zero-copy `has` per query; returns the number of hits. */
  single(q: Uint32Array): number {
    const { table } = this;
    const mask = this.#mask;
    let hits = 0;
    for (let i = 0; i < q.length; i++) {
      const x = q[i]!;
      const blob = table[this.#segmentOf(x)];
      if (blob !== undefined && blob.has(x & mask)) hits++;
    }
    return hits;
  }

  /** Sorted positions: one batch call per segment, each walking its blob once. */
  sortedBatch(q: Uint32Array): number {
    if (this.#offsets.length < q.length) this.#offsets = new Uint32Array(q.length);
    const offsets = this.#offsets;
    const mask = this.#mask;
    let hits = 0;
    let i = 0;
    while (i < q.length) {
      const seg = this.#segmentOf(q[i]!);
      let j = i;
      while (j < q.length && this.#segmentOf(q[j]!) === seg) {
        offsets[j] = q[j]! & mask;
        j++;
      }
      const blob = this.table[seg];
      if (blob !== undefined) {
        const out = blob.hasMany(offsets.subarray(i, j));
        for (let k = 0; k < out.length; k++) hits += out[k]!;
      }
      i = j;
    }
    return hits;
  }
}
