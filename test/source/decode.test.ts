// Decoders of warehouse bitmap serializations: published vectors, hand-built values of every type
// code (from roaring-wasm's portable and CRoaring-native output), round-trip properties, and
// corrupt input.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  BitmapDecodeError,
  cardinality,
  decodeBitmap,
  minMax,
  smallest,
  type BitmapFormat,
  type ClickHouseWidth,
  type DecodedBitmap,
  type DecodeOptions,
} from "../../orchestrator/source/decode/index.js";
import { encodeVarUint, readVarUint } from "../../orchestrator/source/decode/varint.js";
import { BitmapCore } from "../../orchestrator/wasm/core.js";
import { RoaringBitmap32, arbMembers, atOddOffset, portable, range } from "../helpers/roaring.js";

const core = BitmapCore.create();
const TWO32 = 2n ** 32n;

// ---- byte helpers --------------------------------------------------------------------------

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, "hex"));
const b64 = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, "base64"));

function cat(...chunks: ArrayLike<number>[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let p = 0;
  for (const c of chunks) {
    out.set(c, p);
    p += c.length;
  }
  return out;
}

function le(value: bigint | number, bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  let v = BigInt(value);
  for (let i = 0; i < bytes; i++, v >>= 8n) out[i] = Number(v & 0xffn);
  return out;
}
const u32 = (v: bigint | number): Uint8Array => le(v, 4);
const u64 = (v: bigint | number): Uint8Array => le(v, 8);

function croaring(lows: Iterable<number>, runOptimize = false): Uint8Array {
  const bm = new RoaringBitmap32(lows);
  try {
    if (runOptimize) bm.runOptimize();
    return bm.serialize("croaring");
  } finally {
    bm.dispose();
  }
}

const EMPTY_PORTABLE = hex("3a30000000000000");

// ---- expected-value helpers ----------------------------------------------------------------

const big = (values: Iterable<number | bigint>): bigint[] => [...values].map((v) => BigInt(v));
function sortedUnique(values: Iterable<bigint>): bigint[] {
  const sorted = BigUint64Array.from(values).sort();
  const out: bigint[] = [];
  for (const v of sorted) if (out.length === 0 || out[out.length - 1] !== v) out.push(v);
  return out;
}

/** Every member, ascending, through the decoded form's helpers. */
function members(d: DecodedBitmap): bigint[] {
  return smallest(core, d, cardinality(core, d));
}

function expectMembers(d: DecodedBitmap, expected: bigint[]): void {
  expect(cardinality(core, d)).toBe(expected.length);
  expectSameList(members(d), expected);
  expect(minMax(core, d)).toEqual(
    expected.length ? { min: expected[0], max: expected[expected.length - 1] } : undefined,
  );
  expect(smallest(core, d, 3)).toEqual(expected.slice(0, 3));
  // Normalized form: ascending distinct highs, no empty parts.
  const highs = d.parts.map((p) => p.high);
  expect([...highs].sort((a, b) => a - b)).toEqual(highs);
  expect(new Set(highs).size).toBe(highs.length);
  for (const p of d.parts) expect("values" in p ? p.values.length : core.cardinality(p.portable)).toBeGreaterThan(0);
}

/** toEqual on 10^5 bigints is slow: compare packed, and show the first difference if any. */
function expectSameList(actual: bigint[], expected: bigint[]): void {
  const a = BigUint64Array.from(actual);
  const e = BigUint64Array.from(expected);
  if (Buffer.from(a.buffer).equals(Buffer.from(e.buffer))) return;
  let i = 0;
  while (i < a.length && i < e.length && a[i] === e[i]) i++;
  expect({ at: i, length: a.length, got: actual.slice(i, i + 5) }).toEqual({
    at: i,
    length: e.length,
    got: expected.slice(i, i + 5),
  });
}

function isSortedUnique(values: bigint[]): boolean {
  for (let i = 1; i < values.length; i++) if (values[i]! <= values[i - 1]!) return false;
  return true;
}

function groupByHigh(positions: bigint[]): Map<number, number[]> {
  const groups = new Map<number, number[]>();
  for (const v of isSortedUnique(positions) ? positions : sortedUnique(positions)) {
    const h = Number(v >> 32n);
    let g = groups.get(h);
    if (!g) groups.set(h, (g = []));
    g.push(Number(v & 0xffffffffn));
  }
  return groups;
}

// ---- encoders: engine bytes built by hand following each engine's writer ---------------------

interface MapOptions {
  /** High keys written as empty buckets (StarRocks may leave them; the count includes them). */
  emptyKeys?: number[];
  runOptimize?: boolean;
  /** Bucket bitmaps in CRoaring native format (codes 13): portable-tagged or array form. */
  native?: boolean;
}

function buckets(positions: bigint[], opts: MapOptions): Uint8Array[] {
  const groups = groupByHigh(positions);
  for (const k of opts.emptyKeys ?? []) if (!groups.has(k)) groups.set(k, []);
  return [...groups.keys()].sort((a, b) => a - b).map((k) => cat(u32(k), blob(groups.get(k)!, opts)));
}

function blob(lows: number[], opts: MapOptions): Uint8Array {
  return opts.native ? croaring(lows, opts.runOptimize) : portable(lows, opts.runOptimize ?? false);
}

/** StarRocks/Doris BitmapValue for `code`. Sets are written in the order given (dups kept). */
function bitmapValue(code: number, positions: bigint[], opts: MapOptions = {}): Uint8Array {
  const lows0 = () => (groupByHigh(positions).get(0) ?? []).concat();
  switch (code) {
    case 0:
      return Uint8Array.of(0);
    case 1:
      return cat([1], u32(positions[0]!));
    case 3:
      return cat([3], u64(positions[0]!));
    case 2:
      return cat([2], blob(lows0(), opts));
    case 12:
      return cat([12], blob(lows0(), { ...opts, native: true }));
    case 4:
    case 13: {
      const bs = buckets(positions, { ...opts, native: code === 13 });
      return cat([code], encodeVarUint(bs.length), ...bs);
    }
    case 10:
      return cat([10], u32(positions.length), ...positions.map(u64));
    case 5:
      return cat([5], [positions.length], ...positions.map(u64));
    default:
      throw new Error(`no encoder for code ${code}`);
  }
}

/** ClickHouse groupBitmap state. Small states keep the order given. */
function clickhouseState(kind: 0 | 1, positions: bigint[], width: ClickHouseWidth, opts: MapOptions = {}): Uint8Array {
  if (kind === 0) return cat([0], encodeVarUint(positions.length), ...positions.map((v) => le(v, width)));
  let payload: Uint8Array;
  if (width === 8) {
    const bs = buckets(positions, opts);
    payload = cat(u64(bs.length), ...bs);
  } else {
    payload = portable(groupByHigh(positions).get(0) ?? [], opts.runOptimize ?? false);
  }
  return cat([1], encodeVarUint(payload.length), payload);
}

/** The Roaring 64-bit portable format: a u64 bucket count, then { u32 high key, portable blob } per bucket. */
function portable64(positions: bigint[], opts: MapOptions = {}): Uint8Array {
  const bs = buckets(positions, { ...opts, native: false });
  return cat(u64(bs.length), ...bs);
}

function decode(format: BitmapFormat, bytes: Uint8Array, options: DecodeOptions = {}): DecodedBitmap {
  return decodeBitmap(core, format, bytes, options);
}

// ---- published vectors -----------------------------------------------------------------------

interface Vector {
  name: string;
  format: BitmapFormat;
  bytes: Uint8Array;
  width?: ClickHouseWidth;
  typeCode: number;
  bits64: boolean;
  expected: bigint[];
}

const seq = (from: number | bigint, toInclusive: number | bigint): bigint[] => {
  const out: bigint[] = [];
  for (let v = BigInt(from); v <= BigInt(toInclusive); v++) out.push(v);
  return out;
};

/** [name, type code, bits64, bytes, members] */
type Row = [string, number, boolean, Uint8Array, bigint[]];

function group(format: BitmapFormat, rows: Row[], width?: ClickHouseWidth): Vector[] {
  return rows.map(([name, typeCode, bits64, bytes, expected]) => ({
    name: `${format}: ${name}`,
    format,
    bytes,
    typeCode,
    bits64,
    expected,
    ...(width ? { width } : {}),
  }));
}

const VECTORS: Vector[] = [
  // StarRocks/starrocks docs/en/sql-reference/sql-functions/bitmap-functions/bitmap_to_base64.md
  ...group("starrocks", [
    ["doc bitmap_from_string('0, 1, 2, 3')", 2, false, b64("AjowAAABAAAAAAADABAAAAAAAAEAAgADAA=="), seq(0, 3)],
    ["doc to_bitmap(1)", 1, false, b64("AQEAAAA="), big([1])],
    ["doc bitmap_empty()", 0, false, b64("AA=="), []],
    ["doc page_uv SET {13,23,33}", 10, true, b64("CgMAAAANAAAAAAAAABcAAAAAAAAAIQAAAAAAAAA="), big([13, 23, 33])],
    ["doc page_uv single 13", 1, false, b64("AQ0AAAA="), big([13])],
  ]),
  // /work/shared/reference/bitmap-formats.md §1.3: hex(bitmap_to_binary(bitmap_from_string("0,1,2,3")))
  ...group("starrocks", [
    [
      "notes bitmap_to_binary('0,1,2,3')",
      2,
      false,
      hex("023A3000000100000000000300100000000000010002000300"),
      seq(0, 3),
    ],
  ]),
  // StarRocks/starrocks test/sql/test_bitmap_functions/R/test_bitmap_binary (hex(bitmap_to_binary(c2)))
  ...group("starrocks", [
    ["sql-test empty", 0, false, hex("00"), []],
    ["sql-test to_bitmap(1)", 1, false, hex("0101000000"), big([1])],
    ["sql-test to_bitmap(17179869184)", 3, true, hex("030000000004000000"), big([17179869184n])],
    [
      "sql-test bitmap_agg(1..5) SET",
      10,
      true,
      hex("0A0500000001000000000000000200000000000000030000000000000004000000000000000500000000000000"),
      seq(1, 5),
    ],
    ["sql-test bitmap_agg(1..40) runs", 2, false, hex("023B3000000100002700010001002700"), seq(1, 40)],
    [
      "sql-test 1..20 ∪ 17179869184..17179869284 BITMAP64",
      4,
      true,
      hex(
        "0402000000003A3000000100000000001300100000000100020003000400050006000700080009000A000B000C000D000E000F0010" +
          "001100120013001400040000003B3000000100006400010000006400",
      ),
      [...seq(1, 20), ...seq(17179869184n, 17179869284n)],
    ],
    ["sql-test 1..80 runs", 2, false, hex("023B3000000100004F00010001004F00"), seq(1, 80)],
    [
      "sql-test 1..200 ∪ 900..910",
      2,
      false,
      hex("023B300000010000D20002000100C70084030A00"),
      [...seq(1, 200), ...seq(900, 910)],
    ],
  ]),
  // StarRocks/starrocks test/sql/test_bitmap_functions/R/test_base64_to_bitmap
  ...group("starrocks", [
    [
      "sql-test base64_to_bitmap SET 90..100",
      10,
      true,
      b64(
        "CgsAAABaAAAAAAAAAFsAAAAAAAAAXAAAAAAAAABdAAAAAAAAAF4AAAAAAAAAXwAAAAAAAABgAAAAAAAAAGEAAAAAAAAAYgAAAAAAAABjAA" +
          "AAAAAAAGQAAAAAAAAA",
      ),
      seq(90, 100),
    ],
  ]),
  // apache/doris be/test/vec/function/function_bitmap_test.cpp (function_bitmap_to_base64 and
  // function_bitmap_from_base64; bitmap_serialize_version 1 and 2, enable_set_in_bitmap_value off and on)
  ...group("doris", [
    ["single 1", 1, false, b64("AQEAAAA="), big([1])],
    ["BITMAP32 {1, 9999999}", 2, false, b64("AjowAAACAAAAAAAAAJgAAAAYAAAAGgAAAAEAf5Y="), big([1, 9999999])],
    ["BITMAP32 0..32 runs", 2, false, b64("AjswAAABAAAgAAEAAAAgAA=="), seq(0, 32)],
    ["SINGLE64 2^32", 3, true, b64("AwAAAAABAAAA"), [TWO32]],
    [
      "BITMAP64 {1, 2^32}",
      4,
      true,
      b64("BAIAAAAAOjAAAAEAAAAAAAAAEAAAAAEAAQAAADowAAABAAAAAAAAABAAAAAAAA=="),
      [1n, TWO32],
    ],
    [
      "BITMAP64 0..31 ∪ 2^32 runs",
      4,
      true,
      b64("BAIAAAAAOzAAAAEAAB8AAQAAAB8AAQAAADowAAABAAAAAAAAABAAAAAAAA=="),
      [...seq(0, 31), TWO32],
    ],
    ["empty", 0, false, b64("AA=="), []],
    ["SET(5) {1, 9999999}", 5, true, b64("BQIBAAAAAAAAAH+WmAAAAAAA"), big([1, 9999999])],
    // Stored unsorted: 2^32 comes first.
    ["SET(5) {2^32, 1} unsorted", 5, true, b64("BQIAAAAAAQAAAAEAAAAAAAAA"), [1n, TWO32]],
    ["SET(5) {0,1,2,3}", 5, true, b64("BQQAAAAAAAAAAAEAAAAAAAAAAgAAAAAAAAADAAAAAAAAAA=="), seq(0, 3)],
    ["BITMAP32_V2 0..32", 12, false, b64("DAI7MAAAAQAAIAABAAAAIAA="), seq(0, 32)],
    // Bucket 1 is in CRoaring's array form (tag 1).
    [
      "BITMAP64_V2 0..31 ∪ 2^32",
      13,
      true,
      b64("DQIAAAAAAjswAAABAAAfAAEAAAAfAAEAAAABAQAAAAAAAAA="),
      [...seq(0, 31), TWO32],
    ],
    ["SET(10) {0, 1}", 10, true, b64("CgIAAAAAAAAAAAAAAAEAAAAAAAAA"), seq(0, 1)],
    [
      "BITMAP32 v1 0..32 array",
      2,
      false,
      b64(
        "AjowAAABAAAAAAAgABAAAAAAAAEAAgADAAQABQAGAAcACAAJAAoACwAMAA0ADgAPABAAEQASABMAFAAVABYAFwAYABkAGgAbABwAHQAe" +
          "AB8AIAA=",
      ),
      seq(0, 32),
    ],
    [
      "BITMAP64 v1 0..31 ∪ 2^32 array",
      4,
      true,
      b64(
        "BAIAAAAAOjAAAAEAAAAAAB8AEAAAAAAAAQACAAMABAAFAAYABwAIAAkACgALAAwADQAOAA8AEAARABIAEwAUABUAFgAXABgAGQAaABsAHA" +
          "AdAB4AHwABAAAAOjAAAAEAAAAAAAAAEAAAAAAA",
      ),
      [...seq(0, 31), TWO32],
    ],
    [
      "BITMAP32_V2 0..32 portable-tagged",
      12,
      false,
      b64(
        "DAI6MAAAAQAAAAAAIAAQAAAAAAABAAIAAwAEAAUABgAHAAgACQAKAAsADAANAA4ADwAQABEAEgATABQAFQAWABcAGAAZABoAGwAcAB0AHg" +
          "AfACAA",
      ),
      seq(0, 32),
    ],
    [
      "BITMAP64_V2 0..31 ∪ 2^32 mixed tags",
      13,
      true,
      b64(
        "DQIAAAAAAjowAAABAAAAAAAfABAAAAAAAAEAAgADAAQABQAGAAcACAAJAAoACwAMAA0ADgAPABAAEQASABMAFAAVABYAFwAYABkAGgAbAB" +
          "wAHQAeAB8AAQAAAAEBAAAAAAAAAA==",
      ),
      [...seq(0, 31), TWO32],
    ],
  ]),
  // ClickHouse/ClickHouse src/Functions/FunctionsBitmap.cpp (bitmapBuild documentation examples).
  // Int8 [-128, -1] reads as the unsigned values of the element type, as bitmapMin/bitmapMax document (128, 255).
  ...group(
    "clickhouse",
    [
      ["doc hex(bitmapBuild([1,2,3,4,5])) UInt8", 0, false, hex("00050102030405"), seq(1, 5)],
      ["doc hex(bitmapBuild([-128,-1]::Array(Int8)))", 0, false, hex("000280FF"), big([128, 255])],
    ],
    1,
  ),
];

describe("published vectors", () => {
  it.each(VECTORS.map((v) => [v.name, v] as const))("%s", (_name, v) => {
    const d = decode(v.format, v.bytes, v.width ? { width: v.width } : {});
    expect(d.format).toBe(v.format);
    expect(d.typeCode).toBe(v.typeCode);
    expect(d.bits64).toBe(v.bits64);
    expectMembers(d, v.expected);
  });

  it("Doris codes shared with StarRocks decode the same under both", () => {
    for (const v of VECTORS.filter((x) => x.format === "doris" && x.typeCode !== 5)) {
      expectMembers(decode("starrocks", v.bytes), v.expected);
    }
    for (const v of VECTORS.filter((x) => x.format === "starrocks"))
      expectMembers(decode("doris", v.bytes), v.expected);
  });

  it("StarRocks does not read Doris's SET code 5", () => {
    const v = VECTORS.find((x) => x.typeCode === 5)!;
    expect(() => decode("starrocks", v.bytes)).toThrow(/type code 5 is Doris's SET/);
  });

  it("the base64 and hex transports of bitmap_from_string('0,1,2,3') are the same bytes", () => {
    expect(b64("AjowAAABAAAAAAADABAAAAAAAAEAAgADAA==")).toEqual(
      hex("023A3000000100000000000300100000000000010002000300"),
    );
  });

  it("StarRocks's truncated base64_to_bitmap vector is rejected (the engine returns NULL for it)", () => {
    // test_base64_to_bitmap: the same SET with its last base64 character dropped.
    const cut = b64(
      "CgsAAABaAAAAAAAAAFsAAAAAAAAAXAAAAAAAAABdAAAAAAAAAF4AAAAAAAAAXwAAAAAAAABgAAAAAAAAAGEAAAAAAAAAYgAAAAAAAABjAAAAAAAAAGQAAAAAAAA",
    );
    expect(() => decode("starrocks", cut)).toThrow(BitmapDecodeError);
  });

  // StarRocks/starrocks be/test/types/bitmap_value_test.cpp, TEST(BitmapValueTest1, bitmap_serde):
  // the expected buffers there are built from a type byte, put_fixed32/64_le, put_varint64 and
  // Roaring::write(portable); the same recipe here, with roaring-wasm's portable output.
  it("StarRocks bitmap_serde recipes", () => {
    const single32 = cat([1], u32(0xffffffff));
    expectMembers(decode("starrocks", single32), [0xffffffffn]);
    const bitmap32 = cat([2], portable([0, 0xffffffff], false));
    expectMembers(decode("starrocks", bitmap32), [0n, 0xffffffffn]);
    const single64 = cat([3], u64(TWO32));
    expectMembers(decode("starrocks", single64), [TWO32]);
    const r0 = portable([0], false);
    const bitmap64 = cat([4], encodeVarUint(2), u32(0), r0, u32(1), r0);
    expectMembers(decode("starrocks", bitmap64), [0n, TWO32]);
  });
});

describe("the Roaring 64-bit portable format", () => {
  it("reads bytes written by hand from the spec: {1, 2^32 + 5}", () => {
    // count 2; bucket 0: key 0, a portable blob of {1} (cookie 12346, 1 container, key 0,
    // cardinality-1 0, offset 16, value 1); bucket 1: key 1, the same blob of {5}.
    const bytes = hex(
      "0200000000000000" +
        "00000000" +
        "3a30000001000000000000001000000001" +
        "00" +
        "01000000" +
        "3a30000001000000000000001000000005" +
        "00",
    );
    const d = decode("portable64", bytes);
    expect(d).toMatchObject({ format: "portable64", typeCode: 0, bits64: true });
    expectMembers(d, [1n, TWO32 + 5n]);
  });

  it("the spec's test recipe: every other value of [0, 2^16), all of [2^32, 2^32 + 10^6)", () => {
    // RoaringFormatSpec testdata/README (bitmap64.bin), steps 1 and 2, built with roaring-wasm.
    const evens = Array.from({ length: 32768 }, (_, i) => BigInt(i * 2));
    const run = seq(TWO32, TWO32 + 999_999n);
    expectMembers(decode("portable64", portable64([...evens, ...run], { runOptimize: true })), [...evens, ...run]);
  });

  it("refuses keys out of order, a count past the input, and trailing bytes", () => {
    const b0 = cat(u32(5), portable([1], false));
    const b1 = cat(u32(2), portable([1], false));
    expect(() => decode("portable64", cat(u64(2), b0, b1))).toThrow(/keys must ascend/);
    expect(() => decode("portable64", cat(u64(2n ** 40n), b0))).toThrow(BitmapDecodeError);
    expect(() => decode("portable64", cat(u64(1), b0, [0]))).toThrow(/trailing/);
    expectMembers(decode("portable64", u64(0)), []);
  });
});

// ---- every type code, hand-built --------------------------------------------------------------

describe("every type code, built from roaring-wasm output", () => {
  const lows = [0, 1, 2, 65535, 65536, 100000, 0xfffffffe, 0xffffffff];
  const wide = [
    ...big(lows),
    TWO32,
    TWO32 + 7n,
    5n * TWO32 + 65536n,
    0xffffffffn * TWO32,
    0xffffffffn * TWO32 + 0xffffffffn, // 2^64 - 1
  ];

  it("StarRocks and Doris: 0, 1, 2, 3, 4, 10, 12, 13 (and Doris 5)", () => {
    for (const format of ["starrocks", "doris"] as const) {
      expectMembers(decode(format, bitmapValue(0, [])), []);
      expectMembers(decode(format, bitmapValue(1, [0xfffffffen])), [0xfffffffen]);
      expectMembers(decode(format, bitmapValue(3, [0xffffffffffffffffn])), [0xffffffffffffffffn]);
      for (const runOptimize of [false, true]) {
        const dense = range(0, 70000).concat(lows);
        expectMembers(decode(format, bitmapValue(2, big(dense), { runOptimize })), sortedUnique(big(dense)));
        expectMembers(decode(format, bitmapValue(12, big(dense), { runOptimize })), sortedUnique(big(dense)));
        expectMembers(decode(format, bitmapValue(4, wide, { runOptimize })), sortedUnique(wide));
        expectMembers(decode(format, bitmapValue(13, wide, { runOptimize })), sortedUnique(wide));
      }
      expectMembers(decode(format, bitmapValue(12, big(lows))), big(lows)); // small: array form
      expectMembers(decode(format, bitmapValue(10, wide)), sortedUnique(wide));
    }
    expectMembers(decode("doris", bitmapValue(5, wide)), sortedUnique(wide));
  });

  it("a BITMAP of 0 or 1 members, and a 32-bit value written as 64-bit", () => {
    for (const code of [2, 12, 4, 13]) {
      expectMembers(decode("starrocks", bitmapValue(code, [])), []);
      expectMembers(decode("starrocks", bitmapValue(code, [9n])), [9n]);
    }
    expectMembers(decode("starrocks", bitmapValue(3, [5n])), [5n]);
    expectMembers(decode("starrocks", bitmapValue(10, [])), []);
  });

  it("sets: unsorted, with duplicates, split by high 32 bits", () => {
    const set = [3n * TWO32 + 1n, 7n, TWO32, 7n, 0n, 3n * TWO32 + 1n, TWO32 - 1n, 3n * TWO32];
    const expected = sortedUnique(set);
    for (const d of [decode("starrocks", bitmapValue(10, set)), decode("doris", bitmapValue(5, set))]) {
      expectMembers(d, expected);
      expect(d.parts.map((p) => p.high)).toEqual([0, 1, 3]);
      expect(d.parts.every((p) => "values" in p)).toBe(true);
    }
  });

  it("64-bit maps with several buckets, including empty ones, keep every position", () => {
    const positions = [1n, 2n, 4n * TWO32 + 9n, 0xffffffffn * TWO32];
    for (const code of [4, 13]) {
      for (const emptyKeys of [[0], [1, 2, 3], [5], [0xfffffffe], [0, 3, 0xfffffffe]]) {
        const bytes = bitmapValue(
          code,
          positions.filter((p) => !emptyKeys.includes(Number(p >> 32n))),
          { emptyKeys },
        );
        const d = decode("starrocks", bytes);
        const expected = positions.filter((p) => !emptyKeys.includes(Number(p >> 32n)));
        expectMembers(d, expected);
      }
    }
    // Native buckets in both tags: an empty array form, an empty portable-tagged form.
    const native = cat(
      [13],
      encodeVarUint(3),
      u32(0),
      hex("0100000000"),
      u32(1),
      [2],
      EMPTY_PORTABLE,
      u32(2),
      croaring([5]),
    );
    expectMembers(decode("starrocks", native), [2n * TWO32 + 5n]);
  });

  it("portable parts are views of the input (no copy); odd offsets work", () => {
    const value = bitmapValue(4, [1n, TWO32 + 2n]);
    const odd = atOddOffset(value);
    expect(odd.byteOffset % 2).toBe(1);
    const d = decode("starrocks", odd);
    expectMembers(d, [1n, TWO32 + 2n]);
    for (const p of d.parts) {
      if (!("portable" in p)) throw new Error("expected portable parts");
      expect(p.portable.buffer).toBe(odd.buffer);
    }
    const first = d.parts[0]!;
    expect("portable" in first && first.portable.byteOffset).toBe(odd.byteOffset + 1 + 1 + 4);
    for (const code of [2, 12, 13, 10, 1, 3]) {
      const bytes = atOddOffset(
        bitmapValue(code, code === 2 || code === 12 ? big(lows) : wide.slice(0, code === 10 ? 99 : 1)),
      );
      expect(() => decode("starrocks", bytes)).not.toThrow();
    }
  });

  it("CRoaring array form with unsorted or repeated values is read like CRoaring's add_many", () => {
    const bytes = cat([12], [1], u32(4), u32(9), u32(2), u32(9), u32(0xffffffff));
    expectMembers(decode("starrocks", bytes), big([2, 9, 0xffffffff]));
  });

  it("ClickHouse: small and roaring states at every width", () => {
    for (const width of [1, 2, 4, 8] as const) {
      const max = width === 8 ? 0xffffffffffffffffn : 2n ** BigInt(8 * width) - 1n;
      const values = [max, 0n, 3n, max - 1n, 3n].filter((v) => v <= max);
      const d = decode("clickhouse", clickhouseState(0, values, width), { width });
      expect(d.typeCode).toBe(0);
      expect(d.bits64).toBe(width === 8);
      expectMembers(d, sortedUnique(values));
      const r = decode("clickhouse", clickhouseState(1, values, width), { width });
      expect(r.typeCode).toBe(1);
      expectMembers(r, sortedUnique(values));
    }
    const many = [...range(0, 40).map(BigInt), TWO32 * 3n + 1n, 0xffffffffn * TWO32];
    expectMembers(decode("clickhouse", clickhouseState(1, many, 8, { emptyKeys: [1, 7] }), { width: 8 }), many);
    expectMembers(
      decode("clickhouse", clickhouseState(1, big(range(0, 5000)), 4, { runOptimize: true })),
      big(range(0, 5000)),
    );
  });

  it("ClickHouse defaults to width 4 (UInt32)", () => {
    expectMembers(decode("clickhouse", hex("000201000000ffffffff")), big([1, 0xffffffff]));
  });

  it("plain portable blobs", () => {
    const d = decode("portable", portable(lows, false));
    expect(d.typeCode).toBe(12346);
    expectMembers(d, big(lows));
    const runs = decode("portable", portable(range(10, 5000), true));
    expect(runs.typeCode).toBe(12347);
    expectMembers(runs, big(range(10, 5000)));
    expectMembers(decode("portable", EMPTY_PORTABLE), []);
  });
});

// ---- round trips -------------------------------------------------------------------------------

/** Positions as {high → lows}, with highs at the edges and anywhere. */
const arbPositions = (maxGroups: number): fc.Arbitrary<bigint[]> =>
  fc
    .array(
      fc.tuple(
        fc.oneof(fc.constantFrom(0, 1, 0xffffffff), fc.integer({ min: 0, max: 0xffffffff })),
        arbMembers({ maxKey: 1 }),
      ),
      { maxLength: maxGroups },
    )
    .map((groups) => sortedUnique(groups.flatMap(([h, lows]) => lows.map((l) => BigInt(h) * TWO32 + BigInt(l)))));

/** A set as an engine writes it: shuffled, sometimes with repeats (decoders must not care). */
const shuffled = (values: bigint[], seed: number): bigint[] => {
  const out = values.concat(values.slice(0, seed % 4));
  let s = seed >>> 0 || 1;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
};

describe("encode a random set, decode it, get the same set", () => {
  it("64-bit forms", () => {
    fc.assert(
      fc.property(
        arbPositions(4),
        fc.boolean(),
        fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 3 }),
        (positions, runOptimize, emptyKeys) => {
          const opts = { runOptimize, emptyKeys };
          for (const format of ["starrocks", "doris"] as const) {
            expectMembers(decode(format, bitmapValue(4, positions, opts)), positions);
            expectMembers(decode(format, bitmapValue(13, positions, opts)), positions);
          }
          expectMembers(decode("clickhouse", clickhouseState(1, positions, 8, opts), { width: 8 }), positions);
          expectMembers(decode("portable64", portable64(positions, opts)), positions);
        },
      ),
      { numRuns: 25 },
    );
  });

  it("set forms: any order, repeats", () => {
    const high = fc.oneof(fc.constantFrom(0n, 1n, 0xffffffffn), fc.bigInt({ min: 0n, max: 0xffffffffn }));
    const low = fc.oneof(fc.constantFrom(0n, 1n, 0xffffffffn), fc.bigInt({ min: 0n, max: 0xffffffffn }));
    const value = fc.tuple(high, low).map(([h, l]) => h * TWO32 + l);
    fc.assert(
      fc.property(fc.array(value, { maxLength: 300 }), fc.nat(), (values, seed) => {
        const set = shuffled(values, seed);
        const expected = sortedUnique(values);
        expectMembers(decode("starrocks", bitmapValue(10, set)), expected);
        expectMembers(decode("doris", bitmapValue(10, set)), expected);
        if (set.length <= 255) expectMembers(decode("doris", bitmapValue(5, set)), expected);
        expectMembers(decode("clickhouse", clickhouseState(0, set, 8), { width: 8 }), expected);
        const lows = set.map((v) => v & 0xffffffffn);
        expectMembers(decode("clickhouse", clickhouseState(0, lows, 4)), sortedUnique(lows));
      }),
      { numRuns: 300 },
    );
  });

  it("32-bit forms", () => {
    fc.assert(
      fc.property(arbMembers(), fc.boolean(), fc.boolean(), fc.nat(), (lows, runOptimize, odd, seed) => {
        const positions = big(lows);
        const at = (b: Uint8Array): Uint8Array => (odd ? atOddOffset(b) : b);
        const opts = { runOptimize };
        for (const format of ["starrocks", "doris"] as const) {
          expectMembers(decode(format, at(bitmapValue(2, positions, opts))), positions);
          expectMembers(decode(format, at(bitmapValue(12, positions, opts))), positions);
        }
        expectMembers(decode("portable", at(portable(lows, runOptimize))), positions);
        expectMembers(decode("clickhouse", at(clickhouseState(1, positions, 4, opts))), positions);
        if (positions.length <= 3000) {
          expectMembers(decode("clickhouse", at(clickhouseState(0, shuffled(positions, seed), 4))), positions);
        }
      }),
      { numRuns: 40 },
    );
  });

  it("narrow ClickHouse widths", () => {
    fc.assert(
      fc.property(fc.constantFrom<1 | 2>(1, 2), fc.array(fc.integer({ min: 0, max: 0xffff })), (width, raw) => {
        const values = big(raw.map((v) => v & (width === 1 ? 0xff : 0xffff)));
        const expected = sortedUnique(values);
        expectMembers(decode("clickhouse", clickhouseState(0, values, width), { width }), expected);
        expectMembers(decode("clickhouse", clickhouseState(1, values, width), { width }), expected);
      }),
    );
  });

  it("varints round-trip at every length", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (v) => {
        const bytes = encodeVarUint(v);
        expect(readVarUint(bytes, 0, bytes.length)).toEqual({ ok: true, value: v, next: bytes.length });
      }),
    );
  });
});

// ---- corrupt input -----------------------------------------------------------------------------

interface Sample {
  format: BitmapFormat;
  bytes: Uint8Array;
  width?: ClickHouseWidth;
}

const WIDE = [0n, 5n, 65536n, TWO32 + 1n, 9n * TWO32 + 70000n];
const SAMPLES: Sample[] = [
  ...VECTORS.filter((v) => v.bytes.length < 200),
  { format: "starrocks", bytes: bitmapValue(4, WIDE, { emptyKeys: [3], runOptimize: true }) },
  { format: "starrocks", bytes: bitmapValue(13, WIDE, { emptyKeys: [3] }) },
  { format: "starrocks", bytes: bitmapValue(12, big(range(0, 40)), { runOptimize: true }) },
  { format: "doris", bytes: bitmapValue(5, WIDE) },
  { format: "clickhouse", width: 8, bytes: clickhouseState(1, WIDE, 8, { emptyKeys: [2] }) },
  { format: "clickhouse", width: 8, bytes: clickhouseState(0, WIDE, 8) },
  { format: "clickhouse", width: 2, bytes: clickhouseState(0, big([7, 3, 65535]), 2) },
  { format: "clickhouse", width: 4, bytes: clickhouseState(1, big(range(100, 300)), 4) },
  { format: "portable", bytes: portable([1, 2, 3, 70000, 140000, 200000], false) },
  { format: "portable", bytes: portable(range(0, 100), true) },
  { format: "portable64", bytes: portable64(WIDE, { emptyKeys: [3], runOptimize: true }) },
  { format: "portable64", bytes: portable64([]) },
];

function expectDecodeError(s: Sample, bytes: Uint8Array): BitmapDecodeError {
  try {
    decode(s.format, bytes, s.width ? { width: s.width } : {});
  } catch (err) {
    expect(err).toBeInstanceOf(BitmapDecodeError);
    const e = err as BitmapDecodeError;
    expect(e.format).toBe(s.format);
    expect(e.message).toContain(`${s.format} bitmap`);
    expect(e.message).toMatch(/byte \d+/);
    expect(e.offset).toBeGreaterThanOrEqual(0);
    expect(e.offset).toBeLessThanOrEqual(bytes.length);
    return e;
  }
  throw new Error(`decoded ${Buffer.from(bytes).toString("hex")} as ${s.format} without an error`);
}

describe("corrupt, truncated and trailing input", () => {
  it("every truncation of every sample is a BitmapDecodeError", () => {
    for (const s of SAMPLES) {
      for (let n = 0; n < s.bytes.length; n++) expectDecodeError(s, s.bytes.subarray(0, n));
    }
  });

  it("a byte after a complete value is a BitmapDecodeError", () => {
    for (const s of SAMPLES) {
      for (const extra of [[0], [0xff], [0, 0, 0, 0, 0, 0, 0, 0]]) {
        const e = expectDecodeError(s, cat(s.bytes, extra));
        // ClickHouse's roaring payload length then disagrees with what follows; either way it is
        // reported at or after the end of the real value.
        expect(e.offset).toBeGreaterThan(0);
      }
    }
  });

  it("random bytes and mutated vectors never escape as anything but BitmapDecodeError", () => {
    const formats: Sample[] = [
      { format: "starrocks", bytes: new Uint8Array() },
      { format: "doris", bytes: new Uint8Array() },
      { format: "clickhouse", bytes: new Uint8Array(), width: 8 },
      { format: "clickhouse", bytes: new Uint8Array(), width: 4 },
      { format: "portable", bytes: new Uint8Array() },
    ];
    const tryDecode = (s: Sample, bytes: Uint8Array): void => {
      try {
        const d = decode(s.format, bytes, s.width ? { width: s.width } : {});
        // If it decoded, it is self-consistent.
        expect(members(d).length).toBe(cardinality(core, d));
      } catch (err) {
        if (!(err instanceof BitmapDecodeError)) throw err;
      }
    };
    fc.assert(
      fc.property(
        fc.constantFrom(...formats),
        fc.constantFrom(0, 1, 2, 3, 4, 5, 10, 12, 13, 0x3a),
        fc.uint8Array({ maxLength: 64 }),
        (s, first, rest) => tryDecode(s, cat([first], rest)),
      ),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(
        fc.constantFrom(...SAMPLES),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }),
        (s, edits) => {
          const bytes = s.bytes.slice();
          for (const [i, v] of edits) bytes[i % bytes.length] = v;
          tryDecode(s, bytes);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("says what is wrong, where", () => {
    const sr: Sample = { format: "starrocks", bytes: new Uint8Array() };
    expect(expectDecodeError(sr, hex("07")).message).toBe(
      "starrocks bitmap (type code 7), byte 0: unknown type code 7; starrocks writes 0, 1, 2, 3, 4, 10, 12 or 13",
    );
    expect(expectDecodeError(sr, hex("")).message).toMatch(/byte 0: the type code needs 1 B .* truncated/);
    expect(expectDecodeError(sr, hex("0101")).message).toMatch(/type code 1\), byte 1: the SINGLE32 value needs 4 B/);
    // A SET declaring 2^32-1 values fails at once on the count, not after reading.
    expect(expectDecodeError(sr, hex("0affffffff00")).message).toMatch(/byte 1: the SET count is 4294967295/);
    // A bucket count far beyond the bytes.
    expect(expectDecodeError(sr, cat([4], encodeVarUint(2n ** 63n))).message).toMatch(
      /bucket count is 9223372036854775808/,
    );
    expect(expectDecodeError(sr, hex("04ffffffffffffffffffff01")).message).toMatch(
      /varint\) is invalid: it runs past 10 bytes/,
    );
    expect(expectDecodeError(sr, hex("04ffffffffffffffffff7f")).message).toMatch(/overflows 64 bits/);
    // Keys out of order, and a repeated key.
    const r1 = portable([1], false);
    expect(expectDecodeError(sr, cat([4], [2], u32(5), r1, u32(4), r1)).message).toMatch(
      /byte \d+: bucket 1 key 4 is not above the previous key 5/,
    );
    expectDecodeError(sr, cat([4], [2], u32(5), r1, u32(5), r1));
    // A bad blob in the second bucket names the bucket and its offset.
    const bad = cat([4], [2], u32(0), r1, u32(1), hex("3a300000"), u32(1), u32(0));
    const e = expectDecodeError(sr, bad);
    expect(e.offset).toBe(1 + 1 + 4 + r1.length + 4);
    expect(e.message).toMatch(/bucket 1 \(high 1\) is not a valid portable Roaring bitmap/);
    expect(e.cause).toBeDefined();
    expect(expectDecodeError(sr, cat([12], [3], EMPTY_PORTABLE)).message).toMatch(/CRoaring tag 3; expected 1/);
    expect(expectDecodeError(sr, cat([2], hex("3c300000"), u32(0))).message).toMatch(/BAD_COOKIE/);

    const ch: Sample = { format: "clickhouse", bytes: new Uint8Array() };
    expect(expectDecodeError(ch, hex("02")).message).toMatch(/unknown state kind 2/);
    expect(expectDecodeError(ch, hex("0100")).message).toMatch(/roaring byte length is 0/);
    // The payload length must match the blob inside it exactly.
    const blob = portable([1, 2], false);
    expectDecodeError(ch, cat([1], encodeVarUint(blob.length + 1), blob, [0]));
    expectDecodeError(ch, cat([1], encodeVarUint(blob.length - 1), blob));
  });

  it("a wrong ClickHouse width is caught and the message says which T was assumed", () => {
    const ch = (width: ClickHouseWidth): Sample => ({ format: "clickhouse", bytes: new Uint8Array(), width });
    const state64 = clickhouseState(1, [1n, TWO32], 8);
    expect(expectDecodeError(ch(4), state64).message).toMatch(/assuming T = UInt32/);
    const state32 = clickhouseState(1, [1n, 2n], 4);
    expect(expectDecodeError(ch(8), state32).message).toMatch(/assuming T = UInt64/);
    expect(expectDecodeError(ch(8), clickhouseState(0, [1n, 2n, 3n], 4)).message).toMatch(/assuming T = UInt64/);
    expect(expectDecodeError(ch(4), hex("00050102030405")).message).toMatch(/assuming T = UInt32/);
  });

  it("rejects a width that is not a ClickHouse integer size", () => {
    expect(() => decode("clickhouse", hex("0000"), { width: 3 as ClickHouseWidth })).toThrow(RangeError);
  });
});
