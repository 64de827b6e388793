// Oracle helpers over roaring-wasm, and fast-check generators of bitmaps that exercise every
// container kind (array, bitset, run) and the header variants.
import fc from "fast-check";
import { RoaringBitmap32 } from "roaring-wasm";
export { mulberry32 } from "../../orchestrator/util/prng.js";
import { mulberry32 } from "../../orchestrator/util/prng.js";

export { RoaringBitmap32 };

/** A generator of ascending unique u32 sets, shaped so all container kinds occur. */
export function arbMembers(opts: { maxKey?: number } = {}): fc.Arbitrary<number[]> {
  const maxKey = opts.maxKey ?? 0xffff;
  const key = fc.oneof(fc.constantFrom(0, 1, maxKey), fc.integer({ min: 0, max: maxKey }));
  // One container's worth of low bits, in one of several shapes.
  const container = fc.tuple(
    key,
    fc.oneof(
      // sparse array
      fc.uniqueArray(fc.integer({ min: 0, max: 0xffff }), { minLength: 1, maxLength: 60 }),
      // edge values
      fc.subarray([0, 1, 2, 0x7fff, 0xfffe, 0xffff], { minLength: 1 }),
      // dense bitset: many random values
      fc
        .integer({ min: 4097, max: 20000 })
        .chain((n) => fc.integer({ min: 1, max: 0xffffffff }).map((seed) => randomLows(seed, n))),
      // runs
      fc
        .array(fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 3000 })), {
          minLength: 1,
          maxLength: 8,
        })
        .map((runs) => runs.flatMap(([s, l]) => range(s, Math.min(0xffff, s + l)))),
      // full container
      fc.constant(range(0, 0xffff)),
    ),
  );
  return fc.array(container, { minLength: 0, maxLength: 12 }).map((containers) => {
    const set = new Set<number>();
    for (const [k, lows] of containers) for (const lo of lows) set.add((k * 65536 + lo) >>> 0);
    return [...set].sort((a, b) => a - b);
  });
}

export function range(from: number, toInclusive: number): number[] {
  const out: number[] = [];
  for (let v = from; v <= toInclusive; v++) out.push(v);
  return out;
}

/** Deterministic pseudo-random lows (mulberry32). */
export function randomLows(seed: number, n: number): number[] {
  const rnd = mulberry32(seed);
  const set = new Set<number>();
  while (set.size < n) set.add(Math.floor(rnd() * 65536));
  return [...set];
}

/** Portable bytes of `members`, optionally run-optimized, via roaring-wasm. */
export function portable(members: Iterable<number>, runOptimize: boolean): Uint8Array {
  const bm = new RoaringBitmap32(members);
  try {
    if (runOptimize) bm.runOptimize();
    bm.shrinkToFit();
    return bm.serialize("portable");
  } finally {
    bm.dispose();
  }
}

export function fromPortable(bytes: Uint8Array): number[] {
  const bm = RoaringBitmap32.deserialize("portable", bytes);
  try {
    return Array.from(bm.toUint32Array());
  } finally {
    bm.dispose();
  }
}

/** Copies `bytes` to an odd byte offset inside a larger buffer, as a StarRocks type byte does. */
export function atOddOffset(bytes: Uint8Array): Uint8Array {
  const buf = new Uint8Array(bytes.length + 3);
  buf.set(bytes, 1);
  return buf.subarray(1, 1 + bytes.length);
}

/**
 * The Roaring 64-bit portable format of `members` (below 2^53): a u64 bucket count, then per
 * high 32 bits a u32 key and the portable blob of the lows (run-optimized), keys ascending.
 */
export function portable64(members: Iterable<number>): Uint8Array {
  const byHigh = new Map<number, number[]>();
  for (const m of members) {
    const high = Math.floor(m / 2 ** 32);
    let lows = byHigh.get(high);
    if (!lows) byHigh.set(high, (lows = []));
    lows.push(m % 2 ** 32);
  }
  const chunks: Uint8Array[] = [];
  const count = Buffer.alloc(8);
  count.writeBigUInt64LE(BigInt(byHigh.size));
  chunks.push(count);
  for (const high of [...byHigh.keys()].sort((a, b) => a - b)) {
    const key = Buffer.alloc(4);
    key.writeUInt32LE(high);
    chunks.push(key, portable(byHigh.get(high)!, true));
  }
  return Buffer.concat(chunks);
}
