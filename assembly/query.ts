import {
  ARRAY_MAX,
  E_BAD_ARGUMENT,
  E_NONE,
  E_TRUNCATED,
  bodyStart,
  cardAt,
  containerHas,
  containerRank,
  containerSelect,
  findKey,
  gallop16,
  hN,
  isRun,
  keyAt,
  lastRunAtOrBefore,
  parseHeader,
  bitOf,
} from "./format";

/** 1 if `x` is in the blob, 0 if not, or an error code. No deserialization: reads the bytes. */
export function contains(ptr: usize, len: usize, x: u32): i32 {
  const err = parseHeader(ptr, len);
  if (err != 0) return err;
  const i = findKey(x >>> 16, 0);
  if (i < 0) return 0;
  const p = bodyStart(<u32>i);
  if (p == 0) return E_TRUNCATED;
  return containerHas(<u32>i, p, x & 0xffff) ? 1 : 0;
}

// Cursor over one blob for batches. Ascending queries move it forward only, so a sorted batch
// walks each container once; a query smaller than the previous one restarts it.
let cBlob: usize = 0;
let cLen: usize = 0;
let cLastQ: u32 = 0;
let cKey: i32 = -1; // key of the current container, -1 for none
let cIdx: u32 = 0; // its index
let cBody: usize = 0; // its body, 0 when the key is absent
let cCard: u32 = 0;
let cKind: u32 = 0; // 0 array, 1 bitset, 2 run
let cPos: u32 = 0; // array index or run index reached so far
let cSearchFrom: u32 = 0; // first container index that may hold a later key

function cursorOpen(ptr: usize, len: usize): i32 {
  const err = parseHeader(ptr, len);
  if (err != 0) return err;
  cBlob = ptr;
  cLen = len;
  cLastQ = 0;
  cKey = -1;
  cSearchFrom = 0;
  return 0;
}

/** 1, 0 or an error code for offset q against the open cursor. */
function cursorHas(q: u32): i32 {
  if (q < cLastQ) {
    cKey = -1;
    cSearchFrom = 0;
  }
  cLastQ = q;
  const hi = <i32>(q >>> 16);
  const lo = q & 0xffff;
  if (hi != cKey) {
    cKey = hi;
    cPos = 0;
    const i = findKey(<u32>hi, cSearchFrom);
    if (i < 0) {
      cBody = 0;
      return 0;
    }
    cIdx = <u32>i;
    cSearchFrom = cIdx + 1;
    cBody = bodyStart(cIdx);
    if (cBody == 0) return E_TRUNCATED;
    cCard = cardAt(cIdx);
    cKind = isRun(cIdx) ? 2 : cCard > ARRAY_MAX ? 1 : 0;
  }
  const p = cBody;
  if (p == 0) return 0;
  if (cKind == 0) {
    const k = gallop16(p, cPos, cCard, lo);
    cPos = k;
    return k < cCard && <u32>load<u16>(p + ((<usize>k) << 1)) == lo ? 1 : 0;
  }
  if (cKind == 1) return (load<u8>(p + (lo >>> 3)) >>> (lo & 7)) & 1;
  const r = lastRunAtOrBefore(p, cPos, <u32>load<u16>(p), lo);
  if (r < 0) return 0;
  cPos = <u32>r;
  const run = p + 2 + ((<usize>r) << 2);
  return lo <= <u32>load<u16>(run) + <u32>load<u16>(run, 2) ? 1 : 0;
}

function emit(out: usize, mode: u32, i: u32, hit: i32): void {
  if (mode == 0) store<u8>(out + i, <u8>hit);
  else if (hit) store<u8>(out + (i >>> 3), load<u8>(out + (i >>> 3)) | bitOf(i));
}

function clearOut(out: usize, n: u32, mode: u32): void {
  if (mode == 1) memory.fill(out, 0, (<usize>n + 7) >>> 3);
}

/**
 * Many offsets (u32 at q) against one blob. Results go to `out`: one byte per query (mode 0) or
 * one bit per query (mode 1; `out` must still have room for n bytes, packed in place at the end).
 * Returns the number of hits or an error code.
 *
 * Ascending stretches of queries are merged against each container in one pass with local
 * cursors; a descending query only restarts the container search.
 */
export function containsMany(ptr: usize, len: usize, q: usize, n: u32, out: usize, mode: u32): i32 {
  if (mode > 1) return E_BAD_ARGUMENT;
  const err = parseHeader(ptr, len);
  if (err != 0) return err;
  let hits: u32 = 0;
  let i: u32 = 0;
  let searchFrom: u32 = 0;
  let prev: u32 = 0;
  while (i < n) {
    const first = load<u32>(q + ((<usize>i) << 2));
    if (first < prev) searchFrom = 0;
    const hi = first >>> 16;
    const idx = findKey(hi, searchFrom);
    // The group: queries from i on that stay in this container and keep ascending.
    let last = first;
    if (idx < 0) {
      do {
        store<u8>(out + i, 0);
        last = load<u32>(q + ((<usize>i) << 2));
        i++;
      } while (i < n && inGroup(load<u32>(q + ((<usize>i) << 2)), hi, last));
      prev = last;
      continue;
    }
    searchFrom = <u32>idx + 1;
    const p = bodyStart(<u32>idx);
    if (p == 0) return E_TRUNCATED;
    const card = cardAt(<u32>idx);
    if (isRun(<u32>idx)) {
      const nRuns = <u32>load<u16>(p);
      let r: u32 = 0;
      do {
        last = load<u32>(q + ((<usize>i) << 2));
        const lo = last & 0xffff;
        // advance to the last run starting at or before lo
        while (r + 1 < nRuns && <u32>load<u16>(p + 2 + ((<usize>(r + 1)) << 2)) <= lo) r++;
        const run = p + 2 + ((<usize>r) << 2);
        const start = <u32>load<u16>(run);
        const hit: u32 = lo >= start && lo <= start + <u32>load<u16>(run, 2) ? 1 : 0;
        store<u8>(out + i, <u8>hit);
        hits += hit;
        i++;
      } while (i < n && inGroup(load<u32>(q + ((<usize>i) << 2)), hi, last));
    } else if (card > ARRAY_MAX) {
      do {
        last = load<u32>(q + ((<usize>i) << 2));
        const lo = last & 0xffff;
        const hit = ((<u32>load<u8>(p + (lo >>> 3))) >>> (lo & 7)) & 1;
        store<u8>(out + i, <u8>hit);
        hits += hit;
        i++;
      } while (i < n && inGroup(load<u32>(q + ((<usize>i) << 2)), hi, last));
    } else {
      // Count the group first: its size decides between merging and materializing.
      let j = i + 1;
      last = first;
      while (j < n) {
        const x = load<u32>(q + ((<usize>j) << 2));
        if (!inGroup(x, hi, last)) break;
        last = x;
        j++;
      }
      if ((j - i) << 2 > card) hits += arrayGroupViaBits(p, card, q, i, j, out);
      else hits += arrayGroupMerge(p, card, q, i, j, out);
      i = j;
    }
    prev = last;
  }
  if (mode == 1) packBits(out, n);
  return <i32>hits;
}

/**
 * Many sorted queries against one array container: spread the array into a bitset once, answer
 * each query with a branch-free bit test, then clear only the bits that were set. Far cheaper
 * than a data-dependent merge once there are more than a few queries per member.
 */
const SPREAD: usize = memory.data(8192);

function arrayGroupViaBits(p: usize, card: u32, q: usize, i: u32, j: u32, out: usize): u32 {
  for (let k: u32 = 0; k < card; k++) {
    const lo = <u32>load<u16>(p + ((<usize>k) << 1));
    const b = SPREAD + (lo >>> 3);
    store<u8>(b, load<u8>(b) | bitOf(lo));
  }
  let hits: u32 = 0;
  for (let k = i; k < j; k++) {
    const lo = load<u32>(q + ((<usize>k) << 2)) & 0xffff;
    const hit = ((<u32>load<u8>(SPREAD + (lo >>> 3))) >>> (lo & 7)) & 1;
    store<u8>(out + k, <u8>hit);
    hits += hit;
  }
  for (let k: u32 = 0; k < card; k++) store<u8>(SPREAD + ((<usize>load<u16>(p + ((<usize>k) << 1))) >>> 3), 0);
  return hits;
}

/** Few sorted queries against one array container: galloping merge. */
function arrayGroupMerge(p: usize, card: u32, q: usize, i: u32, j: u32, out: usize): u32 {
  let hits: u32 = 0;
  let pos: u32 = 0;
  for (let k = i; k < j; k++) {
    const lo = load<u32>(q + ((<usize>k) << 2)) & 0xffff;
    pos = gallop16(p, pos, card, lo);
    const hit: u32 = pos < card && <u32>load<u16>(p + ((<usize>pos) << 1)) == lo ? 1 : 0;
    store<u8>(out + k, <u8>hit);
    hits += hit;
  }
  return hits;
}

function inGroup(x: u32, hi: u32, last: u32): bool {
  return x >>> 16 == hi && x >= last;
}

/** Packs n bytes (0/1) at out into n bits at out, in place: byte k is written after 8k..8k+7 are read. */
function packBits(out: usize, n: u32): void {
  const full = n >>> 3;
  for (let k: u32 = 0; k < full; k++) {
    const v = load<u64>(out + ((<usize>k) << 3));
    // gather the low bit of each of the 8 bytes into one byte
    store<u8>(out + k, <u8>(((v & 0x0101010101010101) * 0x0102040810204080) >>> 56));
  }
  const rest = n & 7;
  if (rest != 0) {
    let b: u32 = 0;
    for (let j: u32 = 0; j < rest; j++) b |= (<u32>load<u8>(out + (full << 3) + j)) << j;
    store<u8>(out + full, <u8>b);
  }
}

/**
 * One offset per query, each against its own blob: `table` holds n entries of
 * { u32 ptr, u32 len, u32 offset }; len 0 stands for an empty segment. Runs of entries on the
 * same blob share one cursor. Returns the number of hits or an error code.
 */
export function containsEach(table: usize, n: u32, out: usize, mode: u32): i32 {
  if (mode > 1) return E_BAD_ARGUMENT;
  clearOut(out, n, mode);
  cBlob = 0;
  let hits: i32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const e = table + <usize>i * 12;
    const ptr = <usize>load<u32>(e);
    const len = <usize>load<u32>(e, 4);
    let hit: i32 = 0;
    if (len != 0) {
      // Only cursorOpen parses headers here, so the parsed header is still this blob's.
      if (ptr != cBlob || len != cLen) {
        const err = cursorOpen(ptr, len);
        if (err != 0) return err;
      }
      hit = cursorHas(load<u32>(e, 8));
      if (hit < 0) return hit;
    }
    hits += hit;
    emit(out, mode, i, hit);
  }
  return hits;
}

/** Number of members, summed from the descriptive header alone. */
export function cardinality(ptr: usize, len: usize): f64 {
  const err = parseHeader(ptr, len);
  if (err != 0) return <f64>err;
  let total: u64 = 0;
  for (let i: u32 = 0; i < hN; i++) total += cardAt(i);
  return <f64>total;
}

/** Number of members <= x, or an error code. */
export function rank(ptr: usize, len: usize, x: u32): f64 {
  const err = parseHeader(ptr, len);
  if (err != 0) return <f64>err;
  const hi = x >>> 16;
  let total: u64 = 0;
  for (let i: u32 = 0; i < hN; i++) {
    const key = keyAt(i);
    if (key < hi) {
      total += cardAt(i);
      continue;
    }
    if (key == hi) {
      const p = bodyStart(i);
      if (p == 0) return <f64>E_TRUNCATED;
      total += containerRank(i, p, x & 0xffff);
    }
    break;
  }
  return <f64>total;
}

/** The member of 0-based rank r, E_NONE when r >= cardinality, or an error code. */
export function select(ptr: usize, len: usize, r: f64): f64 {
  const err = parseHeader(ptr, len);
  if (err != 0) return <f64>err;
  if (!(r >= 0)) return <f64>E_NONE;
  let k = <u64>r;
  for (let i: u32 = 0; i < hN; i++) {
    const card = <u64>cardAt(i);
    if (k < card) {
      const p = bodyStart(i);
      if (p == 0) return <f64>E_TRUNCATED;
      return <f64>((keyAt(i) << 16) | containerSelect(i, p, <u32>k));
    }
    k -= card;
  }
  return <f64>E_NONE;
}

/**
 * Writes up to `count` members as u32, in ascending order, starting at 0-based rank `from`.
 * This is a page: O(containers) to find the start, then sequential. Returns the number written.
 */
export function extract(ptr: usize, len: usize, from: f64, count: u32, out: usize): i32 {
  const err = parseHeader(ptr, len);
  if (err != 0) return err;
  if (!(from >= 0)) return E_BAD_ARGUMENT;
  let k = <u64>from;
  let written: u32 = 0;
  for (let i: u32 = 0; i < hN && written < count; i++) {
    const card = <u64>cardAt(i);
    if (k >= card) {
      k -= card;
      continue;
    }
    const p = bodyStart(i);
    if (p == 0) return E_TRUNCATED;
    const high = keyAt(i) << 16;
    const want = count - written;
    const dst = out + ((<usize>written) << 2);
    const n = emitContainer(i, p, <u32>k, want, high, dst);
    written += n;
    k = 0;
  }
  return <i32>written;
}

function emitContainer(i: u32, p: usize, skip: u32, want: u32, high: u32, dst: usize): u32 {
  let n: u32 = 0;
  if (isRun(i)) {
    const nRuns = <u32>load<u16>(p);
    for (let r: u32 = 0; r < nRuns && n < want; r++) {
      const run = p + 2 + ((<usize>r) << 2);
      const start = <u32>load<u16>(run);
      const length = <u32>load<u16>(run, 2) + 1;
      if (skip >= length) {
        skip -= length;
        continue;
      }
      for (let v = start + skip; v < start + length && n < want; v++) {
        store<u32>(dst + ((<usize>n) << 2), high | v);
        n++;
      }
      skip = 0;
    }
    return n;
  }
  const card = cardAt(i);
  if (card > ARRAY_MAX) {
    const v = containerSelect(i, p, skip);
    let w = v >>> 6;
    let word = load<u64>(p + ((<usize>w) << 3)) & (u64.MAX_VALUE << ((v & 63) as u64));
    while (n < want) {
      while (word == 0) {
        if (++w == 1024) return n;
        word = load<u64>(p + ((<usize>w) << 3));
      }
      store<u32>(dst + ((<usize>n) << 2), high | ((w << 6) + <u32>ctz(word)));
      n++;
      word &= word - 1;
    }
    return n;
  }
  for (let j = skip; j < card && n < want; j++) {
    store<u32>(dst + ((<usize>n) << 2), high | (<u32>load<u16>(p + ((<usize>j) << 1))));
    n++;
  }
  return n;
}
