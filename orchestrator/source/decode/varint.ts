// Unsigned LEB128: 7 bits per byte, least significant group first, 0x80 = more follows.
// StarRocks/Doris `put_varint64` (64-bit map bucket count) and ClickHouse `writeVarUInt`
// (small-set size, roaring byte length) both write this.

export type VarintResult =
  { ok: true; value: bigint; next: number } | { ok: false; problem: "truncated" | "too long" | "overflow" };

const MAX_BYTES = 10; // ceil(64 / 7)

/** Reads one varint starting at `pos`, never past `end`. */
export function readVarUint(bytes: Uint8Array, pos: number, end: number): VarintResult {
  let value = 0n;
  for (let i = 0; i < MAX_BYTES; i++) {
    if (pos + i >= end) return { ok: false, problem: "truncated" };
    const b = bytes[pos + i]!;
    value |= BigInt(b & 0x7f) << BigInt(7 * i);
    if ((b & 0x80) === 0) {
      // The 10th byte may only carry bit 63.
      if (i === MAX_BYTES - 1 && b > 1) return { ok: false, problem: "overflow" };
      return { ok: true, value, next: pos + i + 1 };
    }
  }
  return { ok: false, problem: "too long" };
}

/** Encodes a varint (tests and fixtures build engine bytes with it). */
export function encodeVarUint(value: bigint | number): Uint8Array {
  let v = BigInt(value);
  if (v < 0n || v >= 1n << 64n) throw new RangeError(`varint: ${v} is not a u64`);
  const out: number[] = [];
  do {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v === 0n ? b : b | 0x80);
  } while (v !== 0n);
  return Uint8Array.from(out);
}
