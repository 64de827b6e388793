import {
  ARRAY_MAX,
  BITSET_BYTES,
  COOKIE_NO_RUN,
  COOKIE_RUN,
  E_BAD_ARGUMENT,
  E_TRAILING_BYTES,
  E_UNSORTED_INPUT,
  NO_OFFSET_THRESHOLD,
  bodySize,
  cardAt,
  containerMinMax,
  hBodies,
  hN,
  isRun,
  keyAt,
  bitOf,
} from "./format";
import { validateBlob } from "./validate";

// Segmentation cuts a bitmap into segments of 2^S consecutive positions, S in [16, 32], so a
// segment always holds whole 2^16 containers. Each segment becomes a standard portable blob of
// the offsets inside it (container keys rebased to the segment's first key).
//
// Output, written to RESULT: [u32 blobsPtr, u32 blobsLen, u32 indexPtr, u32 segmentCount].
// Both buffers come from heap.alloc; the caller copies them out and frees them.
// The index holds one 32-byte record per non-empty segment, in ascending segment order:
//   u64 segment, u32 blobOffset, u32 blobLength, u64 cardinality, u32 min, u32 max
// where min and max are offsets inside the segment.
export const RECORD_BYTES: u32 = 32;
export const RESULT: usize = memory.data(16);

const KIND_ARRAY: u8 = 0;
const KIND_BITSET: u8 = 1;
const KIND_RUN: u8 = 2;

function headerBytes(m: u32, hasRun: bool): usize {
  if (!hasRun) return 8 + ((<usize>m) << 3);
  return 4 + ((<usize>m + 7) >>> 3) + ((<usize>m) << 2) + (m >= NO_OFFSET_THRESHOLD ? (<usize>m) << 2 : 0);
}

/** Writes cookie, run flags and (when required) zeroed offsets; returns the descriptive header. */
function writeCookie(dst: usize, m: u32, hasRun: bool): usize {
  if (!hasRun) {
    store<u32>(dst, COOKIE_NO_RUN);
    store<u32>(dst, m, 4);
    return dst + 8;
  }
  store<u32>(dst, COOKIE_RUN | ((m - 1) << 16));
  memory.fill(dst + 4, 0, (<usize>m + 7) >>> 3);
  return dst + 4 + ((<usize>m + 7) >>> 3);
}

function setRunFlag(dst: usize, j: u32): void {
  const b = dst + 4 + (j >>> 3);
  store<u8>(b, load<u8>(b) | bitOf(j));
}

function writeRecord(idx: usize, seg: u64, blobOff: usize, blobLen: usize, card: u64, mn: u32, mx: u32): void {
  store<u64>(idx, seg);
  store<u32>(idx, <u32>blobOff, 8);
  store<u32>(idx, <u32>blobLen, 12);
  store<u64>(idx, card, 16);
  store<u32>(idx, mn, 24);
  store<u32>(idx, mx, 28);
}

function publish(blobs: usize, blobsLen: usize, index: usize, count: u32): void {
  store<u32>(RESULT, <u32>blobs);
  store<u32>(RESULT, <u32>blobsLen, 4);
  store<u32>(RESULT, <u32>index, 8);
  store<u32>(RESULT, count, 12);
}

/**
 * Segments a whole 32-bit portable bitmap. The input is validated first and must be exactly
 * `len` bytes. Container bodies are copied verbatim, so their kinds (array, bitset, run) stay.
 */
export function segmentPortable(ptr: usize, len: usize, bits: u32): i32 {
  if (bits < 16 || bits > 32) return E_BAD_ARGUMENT;
  const size = validateBlob(ptr, len, 65536);
  if (size < 0) return size;
  if (<usize>size != len) return E_TRAILING_BYTES;
  const shift = bits - 16;
  const n = hN;

  // Pass 1: sizes. A validated blob's bodies lie back to back from hBodies.
  let total: usize = 0;
  let segments: u32 = 0;
  let i: u32 = 0;
  let p = hBodies;
  while (i < n) {
    const seg = keyAt(i) >>> shift;
    let j = i;
    let hasRun: bool = false;
    while (j < n && keyAt(j) >>> shift == seg) {
      hasRun = hasRun || isRun(j);
      const s = bodySize(j, p);
      p += s;
      total += s;
      j++;
    }
    total += headerBytes(j - i, hasRun);
    segments++;
    i = j;
  }

  const blobs = heap.alloc(total > 0 ? total : 1);
  const index = heap.alloc(segments > 0 ? <usize>segments * RECORD_BYTES : 1);

  // Pass 2: one header per segment, then that segment's bodies in one copy.
  let out = blobs;
  let rec = index;
  i = 0;
  p = hBodies;
  while (i < n) {
    const seg = keyAt(i) >>> shift;
    let j = i;
    let hasRun: bool = false;
    let bodies: usize = 0;
    let card: u64 = 0;
    while (j < n && keyAt(j) >>> shift == seg) {
      hasRun = hasRun || isRun(j);
      bodies += bodySize(j, p + bodies);
      card += cardAt(j);
      j++;
    }
    const m = j - i;
    const base = seg << shift;
    const desc = writeCookie(out, m, hasRun);
    const offsets = desc + ((<usize>m) << 2);
    const withOffsets = !hasRun || m >= NO_OFFSET_THRESHOLD;
    let body = out + headerBytes(m, hasRun);
    const firstBody = body;
    let q = p;
    let lastBody = p;
    for (let k: u32 = 0; k < m; k++) {
      const c = i + k;
      if (hasRun && isRun(c)) setRunFlag(out, k);
      store<u16>(desc + ((<usize>k) << 2), <u16>(keyAt(c) - base));
      store<u16>(desc + ((<usize>k) << 2), <u16>(cardAt(c) - 1), 2);
      if (withOffsets) store<u32>(offsets + ((<usize>k) << 2), <u32>(body - out));
      const s = bodySize(c, q);
      lastBody = q;
      body += s;
      q += s;
    }
    memory.copy(firstBody, p, bodies);
    const first = containerMinMax(i, p);
    const last = containerMinMax(j - 1, lastBody);
    const mn = ((keyAt(i) - base) << 16) | (first >>> 16);
    const mx = ((keyAt(j - 1) - base) << 16) | (last & 0xffff);
    writeRecord(rec, <u64>seg, out - blobs, body - out, card, mn, mx);
    rec += RECORD_BYTES;
    out = body;
    p += bodies;
    i = j;
  }
  publish(blobs, total, index, segments);
  return <i32>segments;
}

// ---- sorted positions -------------------------------------------------------------------

function valueAt(ptr: usize, i: usize, wide: bool): u64 {
  return wide ? load<u64>(ptr + (i << 3)) : <u64>load<u32>(ptr + (i << 2));
}

// Per-container plan for one segment, in a scratch buffer of 16-byte entries:
//   u32 first index, u32 end index, u32 cardinality, u16 local key, u8 kind, u8 unused
let plan: usize = 0;
let planCapacity: u32 = 0;

function ensurePlan(entries: u32): void {
  if (entries <= planCapacity) return;
  if (plan != 0) heap.free(plan);
  plan = heap.alloc((<usize>entries) << 4);
  planCapacity = entries;
}

/**
 * Plans the containers of the segment starting at index i. Returns the index one past the
 * segment; leaves planCount, planHasRun and planBodies behind.
 */
let planCount: u32 = 0;
let planHasRun: bool = false;
let planBodies: usize = 0;

function planSegment(ptr: usize, count: usize, i: usize, wide: bool, bits: u32): usize {
  const seg = valueAt(ptr, i, wide) >>> (<u64>bits);
  const segKeyBase = seg << ((bits - 16) as u64);
  planCount = 0;
  planHasRun = false;
  planBodies = 0;
  while (i < count) {
    const v0 = valueAt(ptr, i, wide);
    if (v0 >>> (<u64>bits) != seg) break;
    const key = v0 >>> 16;
    const start = i;
    let card: u32 = 0;
    let runs: u32 = 0;
    let prev: i64 = -2;
    while (i < count) {
      const v = valueAt(ptr, i, wide);
      if (v >>> 16 != key) break;
      const lo = <i64>(v & 0xffff);
      if (lo != prev) {
        if (lo != prev + 1) runs++;
        card++;
        prev = lo;
      }
      i++;
    }
    const plain: usize = card > ARRAY_MAX ? BITSET_BYTES : (<usize>card) << 1;
    const runBytes: usize = 2 + ((<usize>runs) << 2);
    let kind = card > ARRAY_MAX ? KIND_BITSET : KIND_ARRAY;
    let bytes = plain;
    // CRoaring's runOptimize rule (it counts an array as 2 + 2·card), so output matches it byte for byte.
    if (runBytes < (card > ARRAY_MAX ? plain : plain + 2)) {
      kind = KIND_RUN;
      bytes = runBytes;
      planHasRun = true;
    }
    const e = plan + ((<usize>planCount) << 4);
    store<u32>(e, <u32>start);
    store<u32>(e, <u32>i, 4);
    store<u32>(e, card, 8);
    store<u16>(e, <u16>(key - segKeyBase), 12);
    store<u8>(e, kind, 14);
    planCount++;
    planBodies += bytes;
  }
  return i;
}

function writeBody(ptr: usize, wide: bool, e: usize, dst: usize): usize {
  const start = <usize>load<u32>(e);
  const end = <usize>load<u32>(e, 4);
  const kind = load<u8>(e, 14);
  if (kind == KIND_BITSET) {
    memory.fill(dst, 0, BITSET_BYTES);
    for (let i = start; i < end; i++) {
      const lo = <u32>(valueAt(ptr, i, wide) & 0xffff);
      const b = dst + (lo >>> 3);
      store<u8>(b, load<u8>(b) | bitOf(lo));
    }
    return BITSET_BYTES;
  }
  if (kind == KIND_ARRAY) {
    let n: usize = 0;
    let prev: i32 = -1;
    for (let i = start; i < end; i++) {
      const lo = <i32>(valueAt(ptr, i, wide) & 0xffff);
      if (lo == prev) continue;
      store<u16>(dst + (n << 1), <u16>lo);
      prev = lo;
      n++;
    }
    return n << 1;
  }
  let runs: usize = 0;
  let runStart: i32 = -1;
  let prev: i32 = -2;
  for (let i = start; i < end; i++) {
    const lo = <i32>(valueAt(ptr, i, wide) & 0xffff);
    if (lo == prev) continue;
    if (lo != prev + 1) {
      if (runStart >= 0) {
        store<u16>(dst + 2 + (runs << 2), <u16>runStart);
        store<u16>(dst + 2 + (runs << 2), <u16>(prev - runStart), 2);
        runs++;
      }
      runStart = lo;
    }
    prev = lo;
  }
  store<u16>(dst + 2 + (runs << 2), <u16>runStart);
  store<u16>(dst + 2 + (runs << 2), <u16>(prev - runStart), 2);
  runs++;
  store<u16>(dst, <u16>runs);
  return 2 + (runs << 2);
}

/**
 * Segments ascending positions (u32 when wide is 0, u64 when 1). Duplicates are merged; a
 * descending pair fails with E_UNSORTED_INPUT.
 */
export function segmentSorted(ptr: usize, count: u32, wide: u32, bits: u32): i32 {
  if (bits < 16 || bits > 32 || wide > 1) return E_BAD_ARGUMENT;
  const w = wide == 1;
  const n = <usize>count;
  for (let i: usize = 1; i < n; i++) {
    if (valueAt(ptr, i, w) < valueAt(ptr, i - 1, w)) return E_UNSORTED_INPUT;
  }
  ensurePlan((<u32>1) << (bits - 16));

  let total: usize = 0;
  let segments: u32 = 0;
  let i: usize = 0;
  while (i < n) {
    i = planSegment(ptr, n, i, w, bits);
    total += headerBytes(planCount, planHasRun) + planBodies;
    segments++;
  }

  const blobs = heap.alloc(total > 0 ? total : 1);
  const index = heap.alloc(segments > 0 ? <usize>segments * RECORD_BYTES : 1);
  const mask: u64 = ((1 as u64) << (bits as u64)) - 1;
  let out = blobs;
  let rec = index;
  i = 0;
  while (i < n) {
    const first = i;
    const seg = valueAt(ptr, i, w) >>> (<u64>bits);
    i = planSegment(ptr, n, i, w, bits);
    const m = planCount;
    const hasRun = planHasRun;
    const desc = writeCookie(out, m, hasRun);
    const offsets = desc + ((<usize>m) << 2);
    const withOffsets = !hasRun || m >= NO_OFFSET_THRESHOLD;
    let body = out + headerBytes(m, hasRun);
    let card: u64 = 0;
    for (let k: u32 = 0; k < m; k++) {
      const e = plan + ((<usize>k) << 4);
      const c = load<u32>(e, 8);
      card += c;
      if (load<u8>(e, 14) == KIND_RUN) setRunFlag(out, k);
      store<u16>(desc + ((<usize>k) << 2), load<u16>(e, 12));
      store<u16>(desc + ((<usize>k) << 2), <u16>(c - 1), 2);
      if (withOffsets) store<u32>(offsets + ((<usize>k) << 2), <u32>(body - out));
      body += writeBody(ptr, w, e, body);
    }
    const mn = <u32>(valueAt(ptr, first, w) & mask);
    const mx = <u32>(valueAt(ptr, i - 1, w) & mask);
    writeRecord(rec, seg, out - blobs, body - out, card, mn, mx);
    rec += RECORD_BYTES;
    out = body;
  }
  publish(blobs, total, index, segments);
  return <i32>segments;
}
