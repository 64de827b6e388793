// Membership of many bits across the segments of one version, in one call: the bits are sorted
// here (radix), each segment is walked once with containsMany, and the answers are written in
// request order.
//
// containsMany parses each segment's header into format.ts' h* globals: nothing here reads them.
import { E_BAD_ARGUMENT } from "./format";
import { containsMany } from "./query";

const COUNTS: usize = memory.data(256 * 4);

/** Work bytes containsBits needs per bit: two u64 sort buffers, a u32 offset and a u8 answer. */
export const WORK_BYTES_PER_BIT: usize = 21;

/**
 * Sorts n u64 keys at a, all below 2^keyBits, using tmp (n words) as the other buffer: LSD radix,
 * a byte per pass and only as many passes as the keys have bytes. Branch-free, unlike a
 * comparison sort, whose mispredictions on random bits cost more than the whole walk after it.
 * The result ends up at a.
 */
function radixSort(a: usize, tmp: usize, n: u32, keyBits: u32): void {
  let src = a;
  let dst = tmp;
  for (let shift: u64 = 0; shift < <u64>keyBits; shift += 8) {
    memory.fill(COUNTS, 0, 256 * 4);
    for (let i: u32 = 0; i < n; i++) {
      const c = COUNTS + ((<usize>((load<u64>(src + ((<usize>i) << 3)) >> shift) & 0xff)) << 2);
      store<u32>(c, load<u32>(c) + 1);
    }
    let sum: u32 = 0;
    for (let d: usize = 0; d < 256; d++) {
      const c = load<u32>(COUNTS + (d << 2));
      store<u32>(COUNTS + (d << 2), sum);
      sum += c;
    }
    for (let i: u32 = 0; i < n; i++) {
      const k = load<u64>(src + ((<usize>i) << 3));
      const c = COUNTS + ((<usize>((k >> shift) & 0xff)) << 2);
      const at = load<u32>(c);
      store<u32>(c, at + 1);
      store<u64>(dst + ((<usize>at) << 3), k);
    }
    const t = src;
    src = dst;
    dst = t;
  }
  if (src != a) memory.copy(a, src, (<usize>n) << 3);
}

/**
 * Membership of n bits (f64 at `bits`; a negative one is no member) in one version: `table` holds
 * `segs` entries { u32 segment, u32 ptr, u32 len }, ascending by segment, of the segments the
 * bits touch (a segment absent from it is empty). The bits are sorted here with their positions,
 * so each segment is walked once in ascending order; out[i] gets 1 or 0 for bits[i]. `work` must
 * hold WORK_BYTES_PER_BIT bytes per bit, 8-aligned. Returns the number of members, or an error code.
 */
export function containsBits(
  bits: usize,
  n: u32,
  segmentBits: u32,
  table: usize,
  segs: u32,
  work: usize,
  out: usize,
): i32 {
  if (segmentBits < 16 || segmentBits > 32) return E_BAD_ARGUMENT;
  memory.fill(out, 0, n);
  if (n == 0) return 0;
  const idxBits: u64 = 32 - clz<u32>(n);
  const limit: f64 = <f64>((<u64>1) << (64 - idxBits));
  // key = bit << idxBits | position: sorting the keys sorts the bits and keeps their positions.
  let m: u32 = 0;
  let top: u64 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const b = load<f64>(bits + ((<usize>i) << 3));
    if (b < 0) continue;
    if (b >= limit || b != Math.floor(b)) return E_BAD_ARGUMENT;
    const key = ((<u64>b) << idxBits) | (<u64>i);
    store<u64>(work + ((<usize>m) << 3), key);
    top |= key;
    m++;
  }
  radixSort(work, work + ((<usize>n) << 3), m, 64 - <u32>clz<u64>(top));
  const offsets = work + ((<usize>n) << 4);
  const answers = offsets + ((<usize>m) << 2);
  const posMask: u64 = ((<u64>1) << idxBits) - 1;
  const segMask: u64 = ((<u64>1) << segmentBits) - 1;
  let hits: i32 = 0;
  let e: u32 = 0;
  let k: u32 = 0;
  while (k < m) {
    const seg = load<u64>(work + ((<usize>k) << 3)) >> (idxBits + segmentBits);
    let j = k;
    do {
      const key = load<u64>(work + ((<usize>j) << 3));
      if (key >> (idxBits + segmentBits) != seg) break;
      store<u32>(offsets + ((<usize>(j - k)) << 2), <u32>((key >> idxBits) & segMask));
      j++;
    } while (j < m);
    while (e < segs && <u64>load<u32>(table + <usize>e * 12) < seg) e++;
    if (e < segs && <u64>load<u32>(table + <usize>e * 12) == seg) {
      const entry = table + <usize>e * 12;
      const rc = containsMany(<usize>load<u32>(entry, 4), <usize>load<u32>(entry, 8), offsets, j - k, answers, 0);
      if (rc < 0) return rc;
      hits += rc;
      for (let r = k; r < j; r++) {
        const pos = <usize>(load<u64>(work + ((<usize>r) << 3)) & posMask);
        store<u8>(out + pos, load<u8>(answers + <usize>(r - k)));
      }
    }
    k = j;
  }
  return hits;
}
