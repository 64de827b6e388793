// Deterministic fixtures shared by the benchmarks: a seeded generator, so every run measures
// the same data and two runs can be compared.
export { mulberry32 } from "../orchestrator/util/prng.js";
import { mulberry32 } from "../orchestrator/util/prng.js";

/** `count` distinct random positions in [0, space), ascending. */
export function randomMembers(count: number, space: number, seed: number): Uint32Array {
  const rnd = mulberry32(seed);
  const bits = new Uint8Array(Math.ceil(space / 8));
  let n = 0;
  while (n < count) {
    const v = Math.floor(rnd() * space);
    const byte = v >>> 3;
    const mask = 1 << (v & 7);
    if ((bits[byte]! & mask) === 0) {
      bits[byte] = bits[byte]! | mask;
      n++;
    }
  }
  const out = new Uint32Array(count);
  let k = 0;
  for (let i = 0; i < bits.length; i++) {
    let b = bits[i]!;
    while (b !== 0) {
      const low = b & -b;
      out[k++] = i * 8 + (31 - Math.clz32(low));
      b ^= low;
    }
  }
  return out;
}

/** Queries: `hitRatio` of them drawn from members, the rest uniform in [0, space). */
export function randomQueries(
  members: Uint32Array,
  count: number,
  space: number,
  hitRatio: number,
  seed: number,
): Uint32Array {
  const rnd = mulberry32(seed);
  const q = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    q[i] = rnd() < hitRatio ? members[Math.floor(rnd() * members.length)]! : Math.floor(rnd() * space);
  }
  return q;
}

/** Runs fn `rounds` times and returns the median wall time in ns. */
export function medianNs(rounds: number, fn: () => void): number {
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    times.push(Number(process.hrtime.bigint() - t0));
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}
