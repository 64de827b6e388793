// Turning loose values (sets, singles, ClickHouse small states) into ascending parts.
import type { BitmapPart } from "./types.js";

/** Sorts in place and drops duplicates; returns a view of the distinct prefix. */
export function sortedDistinctU32(values: Uint32Array): Uint32Array {
  let sorted = true;
  for (let i = 1; i < values.length; i++) {
    if (values[i]! <= values[i - 1]!) {
      sorted = false;
      break;
    }
  }
  if (sorted) return values;
  values.sort();
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    if (n === 0 || values[i] !== values[n - 1]) values[n++] = values[i]!;
  }
  return values.subarray(0, n);
}

/** Parts for 32-bit values (all in high 0). */
export function partsFromU32(values: Uint32Array): BitmapPart[] {
  const lows = sortedDistinctU32(values);
  return lows.length === 0 ? [] : [{ high: 0, values: lows }];
}

/** Parts for 64-bit values in any order, duplicates allowed: split by their high 32 bits. */
export function partsFromU64(values: BigUint64Array): BitmapPart[] {
  values.sort();
  const parts: BitmapPart[] = [];
  let high = -1;
  let lows: number[] = [];
  let prev = -1n;
  const flush = (): void => {
    if (lows.length > 0) parts.push({ high, values: Uint32Array.from(lows) });
  };
  for (const v of values) {
    if (v === prev) continue;
    prev = v;
    const h = Number(v >> 32n);
    if (h !== high) {
      flush();
      high = h;
      lows = [];
    }
    lows.push(Number(v & 0xffffffffn));
  }
  flush();
  return parts;
}
