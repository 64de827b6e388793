// Questions about a decoded bitmap's members, answered through the WASM core (portable parts
// are read in place, never expanded). Positions are bigint: they may exceed 2^53.
import type { BitmapCore, ResidentBlob } from "../../wasm/core.js";
import type { BitmapPart, DecodedBitmap } from "./types.js";

/** Number of members. A number: exceeding 2^53 would take terabytes of input. */
export function cardinality(core: BitmapCore, d: DecodedBitmap): number {
  let total = 0;
  for (const part of d.parts) total += "values" in part ? part.values.length : core.cardinality(part.portable);
  return total;
}

/** Smallest and largest member, or undefined when the bitmap is empty. */
export function minMax(core: BitmapCore, d: DecodedBitmap): { min: bigint; max: bigint } | undefined {
  const first = d.parts[0];
  const last = d.parts[d.parts.length - 1];
  if (!first || !last) return undefined;
  const min = withLows(core, first, (lows) => lows.first());
  const max = withLows(core, last, (lows) => lows.last());
  return { min: position(first.high, min), max: position(last.high, max) };
}

/** The n smallest members, ascending. */
export function smallest(core: BitmapCore, d: DecodedBitmap, n: number): bigint[] {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`smallest: n must be an integer >= 0, got ${n}`);
  const out: bigint[] = [];
  for (const part of d.parts) {
    if (out.length >= n) break;
    const lows = withLows(core, part, (l) => l.page(n - out.length));
    for (const low of lows) out.push(position(part.high, low));
  }
  return out;
}

export function position(high: number, low: number): bigint {
  return (BigInt(high) << 32n) | BigInt(low);
}

interface Lows {
  first(): number;
  last(): number;
  page(count: number): Uint32Array;
}

/** Runs `fn` over a part's lows: a pinned blob for portable parts (released after). */
function withLows<T>(core: BitmapCore, part: BitmapPart, fn: (lows: Lows) => T): T {
  if ("values" in part) {
    const v = part.values;
    return fn({ first: () => v[0]!, last: () => v[v.length - 1]!, page: (count) => v.subarray(0, count) });
  }
  const blob: ResidentBlob = core.pin(part.portable);
  try {
    return fn({
      first: () => blob.select(0)!,
      last: () => blob.select(blob.cardinality - 1)!,
      page: (count) => blob.page(0, count),
    });
  } finally {
    blob.dispose();
  }
}
