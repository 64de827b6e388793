// Roaring portable format (RoaringFormatSpec), 32-bit, read straight from linear memory.
//
// Every reader here is bounds-checked against the blob's end: a corrupt blob must yield an
// error code, never a read of unrelated data elsewhere in linear memory.

export const COOKIE_NO_RUN: u32 = 12346;
export const COOKIE_RUN: u32 = 12347;
/** With the run cookie, the offset header exists only from this many containers on. */
export const NO_OFFSET_THRESHOLD: u32 = 4;
/** Containers above this cardinality that are not runs are bitsets. */
export const ARRAY_MAX: u32 = 4096;
export const BITSET_BYTES: usize = 8192;
export const MAX_CONTAINERS: u32 = 65536;

// Error codes shared with the TS wrapper (orchestrator/wasm/errors.ts). Negative so that every
// export can return either a result (>= 0) or an error in one number.
export const E_NONE: i32 = -1; // select: no member at that rank
export const E_TRUNCATED: i32 = -2;
export const E_BAD_COOKIE: i32 = -3;
export const E_TOO_MANY_CONTAINERS: i32 = -4;
export const E_UNSORTED_KEYS: i32 = -5;
export const E_BAD_OFFSET: i32 = -6;
export const E_BAD_CARDINALITY: i32 = -7;
export const E_UNSORTED_VALUES: i32 = -8;
export const E_BAD_RUN: i32 = -9;
export const E_TRAILING_BYTES: i32 = -10;
export const E_OUT_OF_MEMORY: i32 = -11;
export const E_UNSORTED_INPUT: i32 = -12;
export const E_BAD_ARGUMENT: i32 = -13;
export const E_VALUE_OUT_OF_SEGMENT: i32 = -14;

// The parsed header of the blob most recently passed to parseHeader(). Module globals rather
// than an object: the hot path must not allocate, and the module is single-threaded. This is
// their one home, and the rule for them: they describe the LAST blob parsed, so every query that
// parses (contains, containsMany, validate, ...) overwrites them. A caller reads them right after
// its own parseHeader and never across a call into another query (batch.ts' containsBits calls
// containsMany per segment and reads none of them).
export let hBase: usize = 0; // first byte of the blob (the cookie)
export let hEnd: usize = 0; // one past its last byte
export let hN: u32 = 0; // number of containers
export let hRunFlags: usize = 0; // run-flag bitset, 0 when the cookie says there are no runs
export let hDesc: usize = 0; // descriptive header: n x { u16 key, u16 card-1 }
export let hOffsets: usize = 0; // offset header, 0 when absent
export let hBodies: usize = 0; // first container body

/** Parses the header of the blob at [ptr, ptr+len). Returns 0 or an error code. */
export function parseHeader(ptr: usize, len: usize): i32 {
  if (len < 8) return E_TRUNCATED;
  const end = ptr + len;
  const cookie = load<u32>(ptr);
  let n: u32;
  let p: usize;
  let runFlags: usize = 0;
  let hasOffsets: bool;
  if (cookie == COOKIE_NO_RUN) {
    n = load<u32>(ptr, 4);
    if (n > MAX_CONTAINERS) return E_TOO_MANY_CONTAINERS;
    p = ptr + 8;
    hasOffsets = true;
  } else if ((cookie & 0xffff) == COOKIE_RUN) {
    n = (cookie >>> 16) + 1;
    runFlags = ptr + 4;
    p = runFlags + ((n + 7) >>> 3);
    hasOffsets = n >= NO_OFFSET_THRESHOLD;
  } else {
    return E_BAD_COOKIE;
  }
  const desc = p;
  p += (<usize>n) << 2;
  let offsets: usize = 0;
  if (hasOffsets) {
    offsets = p;
    p += (<usize>n) << 2;
  }
  if (p > end) return E_TRUNCATED;
  hBase = ptr;
  hEnd = end;
  hN = n;
  hRunFlags = runFlags;
  hDesc = desc;
  hOffsets = offsets;
  hBodies = p;
  return 0;
}

/** The byte mask of bit n within its byte (n & 7). */
export function bitOf(n: u32): u8 {
  const one: u32 = 1;
  return <u8>(one << (n & 7));
}

export function keyAt(i: u32): u32 {
  return <u32>load<u16>(hDesc + ((<usize>i) << 2));
}

export function cardAt(i: u32): u32 {
  return <u32>load<u16>(hDesc + ((<usize>i) << 2), 2) + 1;
}

export function isRun(i: u32): bool {
  return hRunFlags != 0 && ((load<u8>(hRunFlags + (i >>> 3)) >>> (i & 7)) & 1) != 0;
}

/** Size of container i's body, given its start. Returns 0 when the size field lies past the end. */
export function bodySize(i: u32, p: usize): usize {
  if (isRun(i)) {
    if (p + 2 > hEnd) return 0;
    return 2 + ((<usize>load<u16>(p)) << 2);
  }
  const card = cardAt(i);
  return card > ARRAY_MAX ? BITSET_BYTES : (<usize>card) << 1;
}

/**
 * Start of container i's body, or 0 when it does not lie wholly inside the blob. Without an
 * offset header (run cookie, fewer than 4 containers) it walks the previous bodies.
 */
export function bodyStart(i: u32): usize {
  let p: usize;
  if (hOffsets != 0) {
    p = hBase + <usize>load<u32>(hOffsets + ((<usize>i) << 2));
    if (p < hBodies) return 0;
  } else {
    p = hBodies;
    for (let j: u32 = 0; j < i; j++) {
      const size = bodySize(j, p);
      if (size == 0) return 0;
      p += size;
    }
  }
  const size = bodySize(i, p);
  if (size == 0 || p + size > hEnd) return 0;
  return p;
}

/** Index of the container holding key `hi` in [from, hN), or -1. Keys are ascending. */
export function findKey(hi: u32, from: u32): i32 {
  let lo = from;
  let top = hN;
  // Most segments have few containers: a short linear scan beats the branchy search there.
  while (top - lo > 8) {
    const mid = (lo + top) >>> 1;
    if (keyAt(mid) < hi) lo = mid + 1;
    else top = mid;
  }
  // The first key >= hi is at an index in [lo, top]; the scan stops there at the latest.
  while (lo < hN) {
    const k = keyAt(lo);
    if (k >= hi) return k == hi ? <i32>lo : -1;
    lo++;
  }
  return -1;
}

/** Lower bound of `v` among `count` ascending u16 at p, searching from index `from`. */
export function lowerBound16(p: usize, from: u32, count: u32, v: u32): u32 {
  let lo = from;
  let hi = count;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (<u32>load<u16>(p + ((<usize>mid) << 1)) < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Galloping lower bound from `from`: cheap when the answer is near the cursor, which is the
 * case for sorted batches.
 */
export function gallop16(p: usize, from: u32, count: u32, v: u32): u32 {
  let step: u32 = 1;
  let lo = from;
  let hi = from;
  while (hi < count && <u32>load<u16>(p + ((<usize>hi) << 1)) < v) {
    lo = hi + 1;
    hi = from + step;
    step <<= 1;
  }
  if (hi > count) hi = count;
  return lowerBound16(p, lo, hi, v);
}

/** Index of the last run (runs at p+2, 4 bytes each) whose start is <= v, or -1. */
export function lastRunAtOrBefore(p: usize, from: u32, nRuns: u32, v: u32): i32 {
  let lo = from;
  let hi = nRuns;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (<u32>load<u16>(p + 2 + ((<usize>mid) << 2)) <= v) lo = mid + 1;
    else hi = mid;
  }
  return <i32>lo - 1;
}

/** Membership of `lo` in container i whose body starts at p. */
export function containerHas(i: u32, p: usize, lo: u32): bool {
  if (isRun(i)) {
    const r = lastRunAtOrBefore(p, 0, <u32>load<u16>(p), lo);
    if (r < 0) return false;
    const q = p + 2 + ((<usize>r) << 2);
    return lo <= <u32>load<u16>(q) + <u32>load<u16>(q, 2);
  }
  const card = cardAt(i);
  if (card > ARRAY_MAX) return ((load<u8>(p + (lo >>> 3)) >>> (lo & 7)) & 1) != 0;
  const k = lowerBound16(p, 0, card, lo);
  return k < card && <u32>load<u16>(p + ((<usize>k) << 1)) == lo;
}

/** Number of members <= lo in container i (body at p). */
export function containerRank(i: u32, p: usize, lo: u32): u32 {
  if (isRun(i)) {
    const nRuns = <u32>load<u16>(p);
    let count: u32 = 0;
    for (let r: u32 = 0; r < nRuns; r++) {
      const q = p + 2 + ((<usize>r) << 2);
      const start = <u32>load<u16>(q);
      if (start > lo) break;
      const last = start + <u32>load<u16>(q, 2);
      count += (last < lo ? last : lo) - start + 1;
    }
    return count;
  }
  const card = cardAt(i);
  if (card > ARRAY_MAX) {
    const words = lo >>> 6;
    let count: u32 = 0;
    for (let w: u32 = 0; w < words; w++) count += <u32>popcnt(load<u64>(p + ((<usize>w) << 3)));
    const bits = lo & 63;
    const last = load<u64>(p + ((<usize>words) << 3));
    const mask: u64 = bits == 63 ? u64.MAX_VALUE : ((1 as u64) << ((bits + 1) as u64)) - 1;
    return count + <u32>popcnt(last & mask);
  }
  const k = lowerBound16(p, 0, card, lo + 1);
  return k;
}

/** The member of rank r (0-based, r < card) in container i (body at p), as a 16-bit low part. */
export function containerSelect(i: u32, p: usize, r: u32): u32 {
  if (isRun(i)) {
    const nRuns = <u32>load<u16>(p);
    for (let j: u32 = 0; j < nRuns; j++) {
      const q = p + 2 + ((<usize>j) << 2);
      const length = <u32>load<u16>(q, 2) + 1;
      if (r < length) return <u32>load<u16>(q) + r;
      r -= length;
    }
    return 0; // unreachable on validated blobs: run lengths add up to the cardinality
  }
  const card = cardAt(i);
  if (card > ARRAY_MAX) {
    for (let w: u32 = 0; w < 1024; w++) {
      let word = load<u64>(p + ((<usize>w) << 3));
      const pc = <u32>popcnt(word);
      if (r < pc) {
        for (let k: u32 = 0; k < r; k++) word &= word - 1;
        return (w << 6) + <u32>ctz(word);
      }
      r -= pc;
    }
    return 0;
  }
  return <u32>load<u16>(p + ((<usize>r) << 1));
}

/** Smallest and largest low part of container i (body at p); returns (min << 16) | max. */
export function containerMinMax(i: u32, p: usize): u32 {
  let mn: u32;
  let mx: u32;
  if (isRun(i)) {
    const nRuns = <u32>load<u16>(p);
    mn = <u32>load<u16>(p, 2);
    const q = p + 2 + ((<usize>(nRuns - 1)) << 2);
    mx = <u32>load<u16>(q) + <u32>load<u16>(q, 2);
  } else {
    const card = cardAt(i);
    if (card > ARRAY_MAX) {
      let w: u32 = 0;
      while (load<u64>(p + ((<usize>w) << 3)) == 0) w++;
      mn = (w << 6) + <u32>ctz(load<u64>(p + ((<usize>w) << 3)));
      w = 1023;
      while (load<u64>(p + ((<usize>w) << 3)) == 0) w--;
      mx = (w << 6) + 63 - <u32>clz(load<u64>(p + ((<usize>w) << 3)));
    } else {
      mn = <u32>load<u16>(p);
      mx = <u32>load<u16>(p + ((<usize>(card - 1)) << 1));
    }
  }
  return (mn << 16) | mx;
}
