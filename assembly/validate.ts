import {
  ARRAY_MAX,
  BITSET_BYTES,
  E_BAD_CARDINALITY,
  E_BAD_OFFSET,
  E_BAD_RUN,
  E_TRUNCATED,
  E_UNSORTED_KEYS,
  E_UNSORTED_VALUES,
  E_VALUE_OUT_OF_SEGMENT,
  cardAt,
  hBase,
  hBodies,
  hEnd,
  hN,
  hOffsets,
  isRun,
  keyAt,
  parseHeader,
} from "./format";

/**
 * Checks a whole portable blob: header, key order, offsets, every container's bounds, order and
 * cardinality. `keyLimit` is one past the largest allowed container key (65536 for a plain
 * 32-bit bitmap, 2^(S-16) for a segment). Returns the blob's size in bytes, which may be less
 * than `len` when more data follows it, or an error code.
 */
export function validateBlob(ptr: usize, len: usize, keyLimit: u32): i32 {
  const err = parseHeader(ptr, len);
  if (err != 0) return err;
  const n = hN;
  let p = hBodies;
  let prevKey: i32 = -1;
  for (let i: u32 = 0; i < n; i++) {
    const key = keyAt(i);
    if (<i32>key <= prevKey) return E_UNSORTED_KEYS;
    if (key >= keyLimit) return E_VALUE_OUT_OF_SEGMENT;
    prevKey = <i32>key;
    // Writers lay containers out back to back; an offset anywhere else is corrupt.
    if (hOffsets != 0 && hBase + <usize>load<u32>(hOffsets + ((<usize>i) << 2)) != p) return E_BAD_OFFSET;
    const card = cardAt(i);
    if (isRun(i)) {
      if (p + 2 > hEnd) return E_TRUNCATED;
      const nRuns = <u32>load<u16>(p);
      if (nRuns == 0) return E_BAD_RUN;
      const size: usize = 2 + ((<usize>nRuns) << 2);
      if (p + size > hEnd) return E_TRUNCATED;
      let total: u32 = 0;
      let nextFree: i32 = 0; // first value a run may start at
      for (let r: u32 = 0; r < nRuns; r++) {
        const q = p + 2 + ((<usize>r) << 2);
        const start = <i32>load<u16>(q);
        const length = <i32>load<u16>(q, 2);
        if (start < nextFree || start + length > 0xffff) return E_BAD_RUN;
        nextFree = start + length + 1;
        total += <u32>length + 1;
      }
      if (total != card) return E_BAD_CARDINALITY;
      p += size;
    } else if (card > ARRAY_MAX) {
      if (p + BITSET_BYTES > hEnd) return E_TRUNCATED;
      let total: u32 = 0;
      for (let w: usize = 0; w < BITSET_BYTES; w += 8) total += <u32>popcnt(load<u64>(p + w));
      if (total != card) return E_BAD_CARDINALITY;
      p += BITSET_BYTES;
    } else {
      const size = (<usize>card) << 1;
      if (p + size > hEnd) return E_TRUNCATED;
      let prev: i32 = -1;
      for (let k: usize = 0; k < size; k += 2) {
        const v = <i32>load<u16>(p + k);
        if (v <= prev) return E_UNSORTED_VALUES;
        prev = v;
      }
      p += size;
    }
  }
  return <i32>(p - hBase);
}
