// The forward cache of the ID mapping (uid bytes -> bit) in linear memory, so a uid is looked up
// without becoming a JS string first (strings and Map lookups were most of a batch's cost), and
// the scan of a batch request's JSON body straight into it. The scan stays in this file on
// purpose: it reads each key once and keeps the key's words and hash (the k* state below) for
// the lookups, which a module boundary would make it copy. Batch membership is in batch.ts, the
// JSON of the answers in json.ts.
//
// The cache has two generations, as quick-lru: entries go into the young one, a hit in the old one
// is copied into the young one, and when the young one is full the old one is dropped whole. Nothing
// is ever deleted, so open addressing needs no tombstones, and eviction costs one reset per
// generation's life.
//
// Callers guarantee 16 readable bytes past the end of every key and body they pass: keys are
// read a word at a time, and masked.

// Table header: u32 fields, then two generation records.
const T_GEN_MAX = 0; // entries a generation takes before it rotates
const T_ARENA_MAX = 4; // most arena bytes of a generation
const T_YOUNG = 8; // 0 or 1: which generation is young
const T_GENS = 16;
// Generation record: its slots and their count - 1, its arena (the bytes of keys over 16 bytes)
// and the arena's size, entries, arena bytes used. Slots and arena start small and double as the
// generation fills: a cache sized for millions that holds thousands stays small, and its lookups
// stay in the CPU's caches.
const G_SLOTS = 0;
const G_MASK = 4;
const G_ARENA = 8;
const G_ARENA_CAP = 12;
const G_COUNT = 16;
const G_USED = 20;
const G_BYTES = 24;
const HEADER: usize = T_GENS + 2 * G_BYTES;
// Slot (32 bytes, half a cache line): u32 hash (0: empty), u32 key length, f64 bit, then the key
// itself when it has at most 16 bytes (two words, zero-padded), else the u32 offset of its bytes
// in the arena. A lookup of a short key touches one slot and nothing else.
const SLOT_SHIFT = 5;
const SLOT_BYTES: usize = 1 << SLOT_SHIFT;
const INLINE: usize = 16;
const FIRST_SLOTS: u32 = 1024;
const FIRST_ARENA: u32 = 16384;
const MIN_ARENA: u32 = 4096;
// MurmurHash3 x64's constants (its body's and its finalizer's).
const K1: u64 = 0x87c37b91114253d5;
const K2: u64 = 0xff51afd7ed558ccd;
const K3: u64 = 0xc4ceb9fe1a85ec53;

/** Returned by uidScanJson for a body it does not take: the caller parses it as JSON instead. */
export const SCAN_FALLBACK: i32 = -1;

function gen(t: usize, g: u32): usize {
  return t + T_GENS + <usize>g * G_BYTES;
}

/**
 * A cache that always holds the latest `maxEntries` uids used (and up to twice that many, as
 * quick-lru), with about `bytesPerKey` bytes of arena per entry for keys over 16 bytes (longer
 * keys make a generation rotate sooner). Returns the table.
 */
export function uidTableCreate(maxEntries: u32, bytesPerKey: u32): usize {
  const t = heap.alloc(HEADER);
  const entries = max<u32>(1, maxEntries);
  store<u32>(t, entries, T_GEN_MAX);
  store<u32>(t, <u32>max<u64>(MIN_ARENA, min<u64>(0x7fffffff, <u64>entries * bytesPerKey)), T_ARENA_MAX);
  store<u32>(t, 0, T_YOUNG);
  for (let g: u32 = 0; g < 2; g++) {
    const r = gen(t, g);
    store<u32>(r, 0, G_SLOTS);
    store<u32>(r, 0, G_ARENA);
    resetGen(t, g);
  }
  return t;
}

/** Empties generation g, back to its first small sizes. */
function resetGen(t: usize, g: u32): void {
  const r = gen(t, g);
  const oldSlots = <usize>load<u32>(r, G_SLOTS);
  if (oldSlots == 0 || load<u32>(r, G_MASK) + 1 != FIRST_SLOTS) {
    if (oldSlots != 0) heap.free(oldSlots);
    store<u32>(r, <u32>heap.alloc((<usize>FIRST_SLOTS) << SLOT_SHIFT), G_SLOTS);
    store<u32>(r, FIRST_SLOTS - 1, G_MASK);
  }
  memory.fill(<usize>load<u32>(r, G_SLOTS), 0, (<usize>FIRST_SLOTS) << SLOT_SHIFT);
  const firstArena = min<u32>(FIRST_ARENA, load<u32>(t, T_ARENA_MAX));
  if (load<u32>(r, G_ARENA) == 0 || load<u32>(r, G_ARENA_CAP) != firstArena) {
    if (load<u32>(r, G_ARENA) != 0) heap.free(<usize>load<u32>(r, G_ARENA));
    store<u32>(r, <u32>heap.alloc(firstArena), G_ARENA);
    store<u32>(r, firstArena, G_ARENA_CAP);
  }
  store<u32>(r, 0, G_COUNT);
  store<u32>(r, 0, G_USED);
}

export function uidTableFree(t: usize): void {
  for (let g: u32 = 0; g < 2; g++) {
    const r = gen(t, g);
    heap.free(<usize>load<u32>(r, G_SLOTS));
    heap.free(<usize>load<u32>(r, G_ARENA));
  }
  heap.free(t);
}

export function uidTableClear(t: usize): void {
  resetGen(t, 0);
  resetGen(t, 1);
}

/** Entries held (both generations; a uid promoted from the old one counts twice). */
export function uidTableSize(t: usize): u32 {
  return load<u32>(gen(t, 0), G_COUNT) + load<u32>(gen(t, 1), G_COUNT);
}

/** Bytes the table holds in linear memory. */
export function uidTableBytes(t: usize): f64 {
  let bytes = <f64>HEADER;
  for (let g: u32 = 0; g < 2; g++) {
    const r = gen(t, g);
    bytes += <f64>((<u64>load<u32>(r, G_MASK) + 1) << SLOT_SHIFT) + <f64>load<u32>(r, G_ARENA_CAP);
  }
  return bytes;
}

// ---- keys -------------------------------------------------------------------------------------

// A key as it is looked up: its length, its first two words (zero-padded past its end) and hash.
let kLen: usize = 0;
let kW0: u64 = 0;
let kW1: u64 = 0;
let kHash: u32 = 0;

/** The n < 8 bytes at p as a word, zero-padded (reads a whole word: see the padding rule). */
function partial(p: usize, n: usize): u64 {
  return n >= 8 ? load<u64>(p) : load<u64>(p) & (((<u64>1) << ((<u64>n) << 3)) - 1);
}

/** Folds one word into the hash, as MurmurHash3's body does. */
function mixWord(h: u64, w: u64): u64 {
  w *= K1;
  w = rotl<u64>(w, 31);
  w *= K2;
  h ^= w;
  h = rotl<u64>(h, 27);
  return h * 5 + 0x52dce729;
}

/**
 * Sets the k* globals for the key at p. The hash is never 0 (0 marks an empty slot). Every word
 * is mixed in fully: uids are structured ("u" and zero-padded digits), and a cheaper hash left
 * runs of them in neighbouring slots, doubling the probes.
 */
function readKey(p: usize, len: usize): void {
  kLen = len;
  kW0 = partial(p, len);
  kW1 = len > 8 ? partial(p + 8, len - 8) : 0;
  let h = mixWord(mixWord(K3 ^ (<u64>len), kW0), kW1);
  for (let i: usize = INLINE; i < len; i += 8) h = mixWord(h, partial(p + i, len - i));
  h ^= h >> 33;
  h *= K2;
  h ^= h >> 33;
  h *= K3;
  h ^= h >> 33;
  const x = <u32>h;
  kHash = x == 0 ? 1 : x;
}

function sameBytes(a: usize, b: usize, len: usize): bool {
  let i: usize = 0;
  for (; i + 8 <= len; i += 8) if (load<u64>(a + i) != load<u64>(b + i)) return false;
  for (; i < len; i++) if (load<u8>(a + i) != load<u8>(b + i)) return false;
  return true;
}

/** The slot of generation g holding the key read by readKey (its bytes at `key`), or 0. */
function find(t: usize, g: u32, key: usize): usize {
  const r = gen(t, g);
  if (load<u32>(r, G_COUNT) == 0) return 0;
  const mask = load<u32>(r, G_MASK);
  const slots = <usize>load<u32>(r, G_SLOTS);
  const h = kHash;
  let i = h & mask;
  while (true) {
    const s = slots + ((<usize>i) << SLOT_SHIFT);
    const sh = load<u32>(s);
    if (sh == 0) return 0;
    if (sh == h && <usize>load<u32>(s, 4) == kLen) {
      if (kLen <= INLINE) {
        if (load<u64>(s, 16) == kW0 && load<u64>(s, 24) == kW1) return s;
      } else if (sameBytes(<usize>load<u32>(r, G_ARENA) + <usize>load<u32>(s, 16), key, kLen)) {
        return s;
      }
    }
    i = (i + 1) & mask;
  }
}

/** Doubles generation r's slots, placing every entry again by its stored hash. */
function growSlots(r: usize): void {
  const oldMask = load<u32>(r, G_MASK);
  const old = <usize>load<u32>(r, G_SLOTS);
  const mask = (oldMask << 1) | 1;
  const bytes = (<usize>mask + 1) << SLOT_SHIFT;
  const slots = heap.alloc(bytes);
  memory.fill(slots, 0, bytes);
  for (let i: u32 = 0; i <= oldMask; i++) {
    const o = old + ((<usize>i) << SLOT_SHIFT);
    const h = load<u32>(o);
    if (h == 0) continue;
    let j = h & mask;
    while (load<u32>(slots + ((<usize>j) << SLOT_SHIFT)) != 0) j = (j + 1) & mask;
    memory.copy(slots + ((<usize>j) << SLOT_SHIFT), o, SLOT_BYTES);
  }
  heap.free(old);
  store<u32>(r, <u32>slots, G_SLOTS);
  store<u32>(r, mask, G_MASK);
}

/** Puts the key read by readKey (absent from the young generation) into it, rotating first if full. */
function insert(t: usize, key: usize, bit: f64): void {
  const len = kLen;
  const arenaMax = load<u32>(t, T_ARENA_MAX);
  const need: u32 = len > INLINE ? <u32>len : 0;
  if (need > arenaMax) return; // longer than a whole arena: not cached
  let y = load<u32>(t, T_YOUNG);
  let r = gen(t, y);
  if (load<u32>(r, G_COUNT) >= load<u32>(t, T_GEN_MAX) || load<u32>(r, G_USED) + need > arenaMax) {
    // The old generation goes; the young one becomes old. The key comes from the caller's bytes,
    // never from the arena being cleared.
    y ^= 1;
    resetGen(t, y);
    store<u32>(t, y, T_YOUNG);
    r = gen(t, y);
  }
  const used = load<u32>(r, G_USED);
  if (need > 0) {
    const cap = load<u32>(r, G_ARENA_CAP);
    if (used + need > cap) {
      let grown = cap;
      while (used + need > grown) grown = <u32>min<u64>((<u64>grown) << 1, arenaMax);
      const arena = heap.alloc(grown);
      memory.copy(arena, <usize>load<u32>(r, G_ARENA), used);
      heap.free(<usize>load<u32>(r, G_ARENA));
      store<u32>(r, <u32>arena, G_ARENA);
      store<u32>(r, grown, G_ARENA_CAP);
    }
    memory.copy(<usize>load<u32>(r, G_ARENA) + used, key, len);
    store<u32>(r, used + need, G_USED);
  }
  const count = load<u32>(r, G_COUNT) + 1;
  // At most 3/4 full: linear probing stays short.
  if (count * 4 > (load<u32>(r, G_MASK) + 1) * 3) growSlots(r);
  const mask = load<u32>(r, G_MASK);
  const slots = <usize>load<u32>(r, G_SLOTS);
  let i = kHash & mask;
  while (load<u32>(slots + ((<usize>i) << SLOT_SHIFT)) != 0) i = (i + 1) & mask;
  const s = slots + ((<usize>i) << SLOT_SHIFT);
  store<u32>(s, kHash);
  store<u32>(s, <u32>len, 4);
  store<f64>(s, bit, 8);
  if (need > 0) {
    store<u64>(s, <u64>used, 16);
    store<u64>(s, 0, 24);
  } else {
    store<u64>(s, kW0, 16);
    store<u64>(s, kW1, 24);
  }
  store<u32>(r, count, G_COUNT);
}

function lookup(t: usize, key: usize, len: usize): f64 {
  readKey(key, len);
  return lookupRead(t, key);
}

/** lookup() of the key readKey last read (its bytes at `key`). */
function lookupRead(t: usize, key: usize): f64 {
  const y = load<u32>(t, T_YOUNG);
  let s = find(t, y, key);
  if (s != 0) return load<f64>(s, 8);
  s = find(t, y ^ 1, key);
  if (s == 0) return -1;
  const bit = load<f64>(s, 8);
  insert(t, key, bit);
  return bit;
}

/** The bit cached for the key's bytes, or -1. A table of 0 caches nothing. */
export function uidTableGet(t: usize, key: usize, len: usize): f64 {
  return t == 0 ? -1 : lookup(t, key, len);
}

/** Caches key -> bit (a uid's bit never changes, so an entry present stays as it is). */
export function uidTableSet(t: usize, key: usize, len: usize, bit: f64): void {
  if (t == 0) return;
  readKey(key, len);
  if (find(t, load<u32>(t, T_YOUNG), key) != 0) return;
  insert(t, key, bit);
}

// ---- the batch body ---------------------------------------------------------------------------

function skipWs(p: usize, end: usize): usize {
  while (p < end) {
    const c = load<u8>(p);
    if (c != 0x20 && c != 0x0a && c != 0x0d && c != 0x09) break;
    p++;
  }
  return p;
}

// `"uids"` as it appears in the body, read little-endian: `"uid` as a u32, then `s"` as a u16.
const UIDS_HEAD: u32 = 0x64697522;
const UIDS_TAIL: u16 = 0x2273;
const ONES: u64 = 0x0101010101010101;
const HIGHS: u64 = 0x8080808080808080;

/**
 * Per byte of w, the high bit set where the byte ends a plain JSON string or cannot be in one:
 * a quote, a backslash, a control character, or any byte >= 0x80. A borrow can mark a byte above
 * a marked one as well, so only the lowest mark is exact: that is the one used.
 */
function specialBytes(w: u64): u64 {
  const q = w ^ 0x2222222222222222;
  const b = w ^ 0x5c5c5c5c5c5c5c5c;
  return (((q - ONES) & ~q) | ((b - ONES) & ~b) | ((w - 0x2020202020202020) & ~w) | w) & HIGHS;
}

/** Bytes per uid of uidScanJson's `meta`: u32 start (from body), u32 length, u32 hash, pad, u64. */
export const META: usize = 24;

/**
 * Reads a body of exactly the form {"uids":["...", ...]} (any JSON whitespace), looking every uid
 * up in the table: bits[i] (f64) is its bit or -1; meta (META bytes a uid) starts with where its
 * bytes start (from body) and how many, as two u32. Returns the number of uids, or SCAN_FALLBACK for anything else:
 * another shape, more than `maxItems` uids, a uid with an escape, a control character or a
 * non-ASCII byte. The caller parses those as JSON, which also gives a malformed body its error.
 */
export function uidScanJson(t: usize, body: usize, len: usize, maxItems: u32, bits: usize, meta: usize): i32 {
  const end = body + len;
  let p = skipWs(body, end);
  if (p >= end || load<u8>(p) != 0x7b) return SCAN_FALLBACK; // {
  p = skipWs(p + 1, end);
  if (p + 6 > end || load<u32>(p) != UIDS_HEAD || load<u16>(p, 4) != UIDS_TAIL) return SCAN_FALLBACK;
  p = skipWs(p + 6, end);
  if (p >= end || load<u8>(p) != 0x3a) return SCAN_FALLBACK; // :
  p = skipWs(p + 1, end);
  if (p >= end || load<u8>(p) != 0x5b) return SCAN_FALLBACK; // [
  p = skipWs(p + 1, end);
  let n: u32 = 0;
  if (p < end && load<u8>(p) == 0x5d) {
    p++; // ]
  } else {
    while (true) {
      if (p >= end || load<u8>(p) != 0x22) return SCAN_FALLBACK; // "
      const start = ++p;
      // A word at a time to the first byte that ends or spoils the string.
      let marks = specialBytes(load<u64>(p));
      while (marks == 0) {
        p += 8;
        if (p >= end) return SCAN_FALLBACK;
        marks = specialBytes(load<u64>(p));
      }
      p += <usize>(ctz<u64>(marks) >> 3);
      if (p >= end || load<u8>(p) != 0x22) return SCAN_FALLBACK;
      if (n >= maxItems) return SCAN_FALLBACK;
      const klen = p - start;
      // The key read once: its words and hash wait in bits and meta for the lookups below.
      const m = meta + <usize>n * META;
      store<u32>(m, <u32>(start - body));
      store<u32>(m, <u32>klen, 4);
      if (t != 0) {
        readKey(start, klen);
        store<u64>(bits + ((<usize>n) << 3), kW0);
        store<u32>(m, kHash, 8);
        store<u64>(m, kW1, 16);
      }
      n++;
      p++;
      // The common separator, `,"`, without the whitespace loop.
      if (p + 1 < end && load<u16>(p) == 0x222c) {
        p++;
        continue;
      }
      p = skipWs(p, end);
      if (p >= end) return SCAN_FALLBACK;
      const c = load<u8>(p);
      if (c == 0x5d) {
        p++;
        break;
      }
      if (c != 0x2c) return SCAN_FALLBACK; // ,
      p = skipWs(p + 1, end);
    }
  }
  p = skipWs(p, end);
  if (p >= end || load<u8>(p) != 0x7d) return SCAN_FALLBACK; // }
  p = skipWs(p + 1, end);
  if (p != end) return SCAN_FALLBACK;
  if (t == 0) {
    for (let i: u32 = 0; i < n; i++) store<f64>(bits + ((<usize>i) << 3), -1);
    return <i32>n;
  }
  // The young generation's slot of every uid, loaded once ahead of the lookups: these loads do
  // not depend on one another, so the CPU overlaps their cache misses, and each lookup after
  // them finds its slot in cache. (A table too big for the caches costs one miss per lookup.)
  const r = gen(t, load<u32>(t, T_YOUNG));
  const slots = <usize>load<u32>(r, G_SLOTS);
  const mask = load<u32>(r, G_MASK);
  let touched: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    touched += load<u32>(slots + ((<usize>(load<u32>(meta + <usize>i * META, 8) & mask)) << SLOT_SHIFT));
  }
  _sink = touched;
  for (let i: u32 = 0; i < n; i++) {
    const m = meta + <usize>i * META;
    const b = bits + ((<usize>i) << 3);
    kLen = <usize>load<u32>(m, 4);
    kW0 = load<u64>(b);
    kW1 = load<u64>(m, 16);
    kHash = load<u32>(m, 8);
    store<f64>(b, lookupRead(t, body + <usize>load<u32>(m)));
  }
  return <i32>n;
}

/** Keeps the loads ahead of the lookups from being optimized away. */
let _sink: u32 = 0;
