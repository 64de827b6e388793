import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BitmapCore } from "../../orchestrator/wasm/core.js";
import { BlobFormatError, WasmBudgetError, WasmCoreError } from "../../orchestrator/wasm/errors.js";
import { arbMembers, atOddOffset, fromPortable, mulberry32, portable, range } from "../helpers/roaring.js";

const core = BitmapCore.create();

/** Queries near and between members, plus edge values, so both hits and misses occur. */
function probesFor(members: number[], seed: number): number[] {
  const rnd = mulberry32(seed);
  const probes = [0, 1, 65535, 65536, 65537, 0xffffffff, 0xfffffffe];
  for (const m of members.slice(0, 200)) probes.push(m, Math.max(0, m - 1), Math.min(0xffffffff, m + 1));
  for (let i = 0; i < 100; i++) {
    if (members.length > 0) probes.push(members[Math.floor(rnd() * members.length)]!);
    probes.push(Math.floor(rnd() * 0x100000000));
    probes.push(Math.floor(rnd() * 8 * 65536));
  }
  return probes;
}

function cookieOf(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true) & 0xffff;
}

describe("zero-copy queries agree with roaring-wasm", () => {
  it("contains, batch, rank, select, page and cardinality", () => {
    fc.assert(
      fc.property(arbMembers(), fc.boolean(), fc.boolean(), fc.integer(), (members, runOpt, odd, seed) => {
        const bytes = portable(members, runOpt);
        const src = odd ? atOddOffset(bytes) : bytes;
        const set = new Set(members);
        const blob = core.pin(src);
        try {
          expect(blob.cardinality).toBe(members.length);
          expect(core.cardinality(src)).toBe(members.length);
          const probes = probesFor(members, seed);
          for (const x of probes) {
            expect(blob.has(x)).toBe(set.has(x));
            expect(core.contains(src, x)).toBe(set.has(x));
          }
          // unsorted batch, bytes and bits
          const q = Uint32Array.from(probes);
          const bytesOut = blob.hasMany(q, "bytes");
          const bitsOut = blob.hasMany(q, "bits");
          q.forEach((x, i) => {
            expect(bytesOut[i]).toBe(set.has(x) ? 1 : 0);
            expect((bitsOut[i >>> 3]! >>> (i & 7)) & 1).toBe(set.has(x) ? 1 : 0);
          });
          // sorted batch walks the containers once
          const sorted = Uint32Array.from(probes).sort();
          const sortedOut = blob.hasMany(sorted);
          sorted.forEach((x, i) => expect(sortedOut[i]).toBe(set.has(x) ? 1 : 0));
          // rank: members <= x
          for (const x of probes.slice(0, 80)) {
            expect(blob.rank(x)).toBe(countLe(members, x));
          }
          // select and paging
          const ranks = [0, 1, members.length - 1, members.length, members.length + 5, Math.floor(members.length / 2)];
          for (const r of ranks) {
            expect(blob.select(r)).toBe(r >= 0 && r < members.length ? members[r] : undefined);
            expect(Array.from(blob.page(Math.max(0, r), 37))).toEqual(members.slice(Math.max(0, r), r + 37));
          }
        } finally {
          blob.dispose();
        }
      }),
      { numRuns: 150 },
    );
  });

  it("finds a blob's end from its header alone, whatever follows it", () => {
    fc.assert(
      fc.property(arbMembers(), fc.boolean(), fc.uint8Array({ maxLength: 20 }), (members, runOpt, tail) => {
        const bytes = portable(members, runOpt);
        const withTail = atOddOffset(Uint8Array.from([...bytes, ...tail]));
        expect(core.blobExtent(withTail)).toBe(bytes.length);
        core.validate(withTail.subarray(0, core.blobExtent(withTail)));
        // The header alone is enough to know the size a truncated blob claims.
        const header = bytes.length > 8 ? bytes.subarray(0, bytes.length - 1) : bytes;
        // (Without an offset header, i.e. the run cookie with < 4 containers, sizes are walked and the
        // last body's run count may be what was cut off.)
        const noOffsets = bytes[0] === 0x3b && (bytes[2]! | (bytes[3]! << 8)) + 1 < 4;
        if (members.length > 0 && !noOffsets) {
          expect(core.blobExtent(header)).toBe(bytes.length);
          expect(() => core.validate(header)).toThrow(/TRUNCATED/);
        }
      }),
      { numRuns: 100 },
    );
    expect(() => core.blobExtent(Uint8Array.from([0x3a, 0x30, 0, 0, 9, 0, 0, 0]))).toThrow(/TRUNCATED/);
  });

  it("handles both cookies, with and without the offset header (0, 1, 4 and 5+ containers)", () => {
    const cases: Array<{ containers: number; run: boolean }> = [];
    for (const containers of [0, 1, 3, 4, 5, 9]) for (const run of [false, true]) cases.push({ containers, run });
    for (const { containers, run } of cases) {
      const members: number[] = [];
      for (let k = 0; k < containers; k++) {
        // runs when requested, else a sparse array
        const lows = run ? range(100, 400) : [3, 77, 1000, 65535];
        for (const lo of lows) members.push(k * 3 * 65536 + lo);
      }
      const bytes = portable(members, run);
      if (containers > 0) expect(cookieOf(bytes)).toBe(run ? 12347 : 12346);
      const blob = core.pin(atOddOffset(bytes));
      const set = new Set(members);
      for (const x of probesFor(members, containers)) expect(blob.has(x)).toBe(set.has(x));
      expect(Array.from(blob.page(0, members.length + 1))).toEqual(members);
      blob.dispose();
    }
  });

  it("reads the empty bitmap, edge values and a full 2^16 container", () => {
    const empty = core.pin(Uint8Array.from([0x3a, 0x30, 0, 0, 0, 0, 0, 0]));
    expect(empty.cardinality).toBe(0);
    expect(empty.has(0)).toBe(false);
    expect(empty.select(0)).toBeUndefined();
    expect(empty.rank(0xffffffff)).toBe(0);
    empty.dispose();

    const edges = [0, 65535, 65536, 0xffffffff];
    const blob = core.pin(portable(edges, false));
    for (const x of edges) expect(blob.has(x)).toBe(true);
    expect(blob.has(1)).toBe(false);
    expect(blob.has(0xfffffffe)).toBe(false);
    expect(blob.rank(0xffffffff)).toBe(4);
    expect(blob.select(3)).toBe(0xffffffff);
    blob.dispose();

    for (const runOpt of [false, true]) {
      const full = core.pin(portable(range(65536, 131071), runOpt));
      expect(full.cardinality).toBe(65536);
      expect(full.has(65535)).toBe(false);
      expect(full.has(65536)).toBe(true);
      expect(full.has(131071)).toBe(true);
      expect(full.rank(100000)).toBe(100000 - 65536 + 1);
      expect(full.select(65535)).toBe(131071);
      full.dispose();
    }
  });

  it("answers one offset per query across many blobs", () => {
    fc.assert(
      fc.property(fc.array(arbMembers(), { minLength: 1, maxLength: 4 }), fc.integer(), (sets, seed) => {
        const blobs = sets.map((m) => (m.length === 0 ? null : core.pin(portable(m, seed % 2 === 0))));
        const rnd = mulberry32(seed);
        const which: number[] = [];
        const offsets: number[] = [];
        for (let i = 0; i < 300; i++) {
          const b = Math.floor(rnd() * sets.length);
          const members = sets[b]!;
          which.push(b);
          offsets.push(
            members.length > 0 && rnd() < 0.5
              ? members[Math.floor(rnd() * members.length)]!
              : Math.floor(rnd() * 8 * 65536),
          );
        }
        // sort by blob then offset for the walk, but also check the unsorted order
        for (const order of ["given", "grouped"]) {
          const idx = which.map((_, i) => i);
          if (order === "grouped") idx.sort((a, b) => which[a]! - which[b]! || offsets[a]! - offsets[b]!);
          const out = core.hasEach(
            idx.map((i) => blobs[which[i]!]!),
            Uint32Array.from(idx.map((i) => offsets[i]!)),
            "bits",
          );
          idx.forEach((i, j) => {
            const expected = sets[which[i]!]!.includes(offsets[i]!) ? 1 : 0;
            expect((out[j >>> 3]! >>> (j & 7)) & 1).toBe(expected);
          });
        }
        for (const b of blobs) b?.dispose();
      }),
      { numRuns: 40 },
    );
  });
});

describe("content hash", () => {
  it("is MurmurHash3 x64 128 (published vectors), and segmentation hashes every segment", () => {
    // Published x64_128 vectors with seed 0x9747b28c (NHasher's MurmurHash128X64V3Tests).
    const hex = (s: string): string => Buffer.from(core.hash128(Buffer.from(s), 2538058380n)).toString("hex");
    expect(hex("")).toBe("b3bbaa1d8a202b397a9502e38f60b093");
    expect(hex("The quick brown fox jumps over the lazy dog")).toBe("213163d23b7f8a73e516c07e727345f9");
    expect(hex("THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG")).toBe("6c8ad027e39089788ad2cb67789ca4cf");
    expect(Buffer.from(core.hash128(new Uint8Array(0))).toString("hex")).toBe("0".repeat(32));
    const seg = core.segment(Uint32Array.from([1, 2, 3, 70000, 5_000_000]), 20);
    for (const s of seg.segments) {
      expect(s.hash).toBe(Buffer.from(core.hash128(s.blob)).toString("base64url"));
      expect(s.hash).toHaveLength(22);
    }
    expect(new Set(seg.segments.map((s) => s.hash)).size).toBe(seg.segments.length);
  });
});

describe("segmentation", () => {
  const arbWide = arbMembers({ maxKey: 0xffff });

  function reassemble(seg: ReturnType<typeof core.segment>): number[] {
    const out: number[] = [];
    for (const s of seg.segments) {
      const base = s.segment * 2 ** seg.bits;
      const values = fromPortable(s.blob);
      expect(values.length).toBe(s.cardinality);
      expect(values[0]).toBe(s.min);
      expect(values[values.length - 1]).toBe(s.max);
      for (const v of values) out.push(base + v);
    }
    return out;
  }

  it("portable in, segments out: reassembles to the same set, any segment size", () => {
    fc.assert(
      fc.property(arbWide, fc.constantFrom(16, 17, 18, 20, 24, 32), fc.boolean(), (members, bits, runOpt) => {
        const seg = core.segment(atOddOffset(portable(members, runOpt)), bits);
        expect(seg.cardinality).toBe(members.length);
        expect(reassemble(seg)).toEqual(members);
        const segNumbers = seg.segments.map((s) => s.segment);
        expect(segNumbers).toEqual([...new Set(members.map((m) => Math.floor(m / 2 ** bits)))]);
        for (const s of seg.segments) core.validate(s.blob, bits);
      }),
      { numRuns: 120 },
    );
  });

  it("sorted u32 and u64 positions in: same set, valid blobs, smallest container kind", () => {
    fc.assert(
      fc.property(arbWide, fc.constantFrom(16, 18, 20, 32), (members, bits) => {
        const seg32 = core.segment(Uint32Array.from(members), bits);
        expect(reassemble(seg32)).toEqual(members);
        const seg64 = core.segment(BigUint64Array.from(members.map(BigInt)), bits);
        expect(seg64.segments.map((s) => s.blob)).toEqual(seg32.segments.map((s) => s.blob));
        for (const s of seg32.segments) {
          core.validate(s.blob, bits);
          // the same container kinds as CRoaring's runOptimize: byte-identical to roaring-wasm
          expect(s.blob).toEqual(portable(fromPortable(s.blob), true));
        }
      }),
      { numRuns: 120 },
    );
  });

  it("u64 positions beyond 2^32 land in the right segments", () => {
    const big = [2n ** 32n, 2n ** 32n + 5n, 2n ** 40n + 65536n, 2n ** 52n - 1n];
    const seg = core.segment(BigUint64Array.from(big), 20);
    const got = seg.segments.flatMap((s) => fromPortable(s.blob).map((v) => BigInt(s.segment) * 2n ** 20n + BigInt(v)));
    expect(got).toEqual(big);
  });

  it("merges duplicates, keeps full segments, rejects descending input", () => {
    const seg = core.segment(Uint32Array.from([1, 1, 2, 2, 2, 70000]), 16);
    expect(seg.segments.map((s) => [s.segment, s.cardinality])).toEqual([
      [0, 2],
      [1, 1],
    ]);
    const full = core.segment(Uint32Array.from(range(0, 2 * 65536 - 1)), 17);
    expect(full.segments).toHaveLength(1);
    expect(full.segments[0]!.cardinality).toBe(131072);
    expect(full.segments[0]!.blob.length).toBeLessThan(32); // two single-run containers
    expect(core.segment(new Uint32Array(0), 20).segments).toEqual([]);
    expect(() => core.segment(Uint32Array.from([5, 3]), 20)).toThrow(BlobFormatError);
    expect(() => core.segment(Uint32Array.from([5]), 15)).toThrow(RangeError);
  });

  it("a cut gives the same segments one by one, keeps them until disposed, and frees them then", () => {
    const rnd = mulberry32(7);
    const members = Array.from({ length: 20_000 }, () => Math.floor(rnd() * 40_000_000)).sort((a, b) => a - b);
    const whole = core.segment(Uint32Array.from(members), 20);
    const before = core.stats().memoryBytes;
    const cut = core.cut(Uint32Array.from(members), 20);
    expect(cut.cardinality).toBe(whole.cardinality);
    expect(cut.entries.map((e) => e.segment)).toEqual(whole.segments.map((s) => s.segment));
    // Taken out of order, with other work on the core in between: still the same bytes.
    for (let i = cut.entries.length - 1; i >= 0; i--) {
      core.segment(Uint32Array.from([1, 2, 3]), 16);
      const s = cut.take(i);
      expect(s).toEqual(whole.segments[i]);
      expect(s.blob.length).toBe(cut.entries[i]!.bytes);
    }
    cut.dispose();
    cut.dispose();
    expect(() => cut.take(0)).toThrow(WasmCoreError);
    const small = core.cut(Uint32Array.from([1]), 20);
    expect(() => small.take(5)).toThrow(RangeError);
    small.dispose();
    // Freed blocks are reused: cutting again does not grow the memory.
    const after = core.stats().memoryBytes;
    for (let i = 0; i < 5; i++) core.cut(Uint32Array.from(members), 20).dispose();
    expect(core.stats().memoryBytes).toBe(after);
    expect(after).toBeGreaterThanOrEqual(before);
  });

  it("pins segments as segments: members past 2^bits are rejected", () => {
    const blob = portable([1, 65536 * 4], false);
    expect(() => core.pin(blob, { segmentBits: 18 })).toThrow(/VALUE_OUT_OF_SEGMENT/);
    core.pin(blob, { segmentBits: 19 }).dispose();
  });
});

describe("corrupt input gets a clean error", () => {
  function expectRejected(bytes: Uint8Array, code?: string): void {
    let err: unknown;
    try {
      core.pin(bytes).dispose();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BlobFormatError);
    if (code) expect((err as BlobFormatError).code).toBe(code);
    expect(() => core.segment(bytes, 20)).toThrow(BlobFormatError);
  }

  it("every truncation of valid blobs", () => {
    fc.assert(
      fc.property(arbMembers(), fc.boolean(), (members, runOpt) => {
        const bytes = portable(members, runOpt);
        const cut = [0, 1, 4, 7, 8, bytes.length >> 1, bytes.length - 1].filter((n) => n >= 0 && n < bytes.length);
        for (const n of cut) expectRejected(bytes.subarray(0, n));
      }),
      { numRuns: 80 },
    );
  });

  it("random byte damage is either rejected or read consistently, never out of bounds", () => {
    fc.assert(
      fc.property(
        arbMembers(),
        fc.boolean(),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        (members, runOpt, damage) => {
          const bytes = portable(members, runOpt).slice();
          for (const [at, v] of damage) bytes[at % bytes.length] = v;
          let blob;
          try {
            blob = core.pin(bytes);
          } catch (e) {
            expect(e).toBeInstanceOf(BlobFormatError);
            return;
          }
          // Still valid: then it must agree with roaring-wasm's reading of the same bytes.
          const values = fromPortable(bytes);
          expect(blob.cardinality).toBe(values.length);
          for (const v of values.slice(0, 50)) expect(blob.has(v)).toBe(true);
          blob.dispose();
        },
      ),
      { numRuns: 300 },
    );
  });

  it("names what is wrong", () => {
    const good = portable([1, 2, 3, 65536 + 9, 3 * 65536 + 1, 5 * 65536 + 2], false); // 4 containers, 12346
    const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset);
    expectRejected(Uint8Array.from([1, 2, 3, 4, 0, 0, 0, 0]), "BAD_COOKIE");

    const unsorted = good.slice();
    view(unsorted).setUint16(8 + 4, 0, true); // second key = first key
    expectRejected(unsorted, "UNSORTED_KEYS");

    const badCard = good.slice();
    view(badCard).setUint16(8 + 2, 7, true); // first container claims 8 members, holds 3
    expectRejected(badCard, undefined);

    const badOffset = good.slice();
    view(badOffset).setUint32(8 + 4 * 4 + 4, 0xffff0000, true); // second container's offset
    expectRejected(badOffset, "BAD_OFFSET");

    const unsortedValues = good.slice();
    const firstBody = view(good).getUint32(8 + 16, true);
    view(unsortedValues).setUint16(firstBody, 9, true); // [9, 2, 3]
    expectRejected(unsortedValues, "UNSORTED_VALUES");

    const huge = good.slice();
    view(huge).setUint32(4, 70000, true);
    expectRejected(huge, "TOO_MANY_CONTAINERS");

    expect(() => core.validate(Uint8Array.from([...good, 0]))).toThrow(/TRAILING_BYTES/);
  });
});

describe("memory ownership", () => {
  it("survives growth, reuses freed space, enforces the budget, and refuses use after dispose", () => {
    const small = BitmapCore.create({ budgetBytes: 40 << 20, variant: "debug" });
    const keep = small.pin(portable([1, 2, 3], false));
    const bitset = portable(
      range(0, 30000).map((v) => v * 2),
      false,
    ); // ~8 KB bitsets
    // Pin past the initial memory so it grows; `keep` must still answer correctly.
    const blobs = Array.from({ length: 200 }, () => small.pin(bitset));
    const grown = small.stats().memoryBytes;
    expect(keep.has(2)).toBe(true);
    expect(blobs[0]!.has(59998)).toBe(true);
    for (const b of blobs) b.dispose();
    expect(small.stats().residentBlobs).toBe(1);
    // Freed space is reused: pinning as much again does not grow memory.
    const again = Array.from({ length: 200 }, () => small.pin(bitset));
    expect(small.stats().memoryBytes).toBe(grown);
    for (const b of again) b.dispose();
    expect(() => small.pin(new Uint8Array(41 << 20))).toThrow(WasmBudgetError);
    keep.dispose();
    keep.dispose(); // idempotent
    expect(() => keep.has(1)).toThrow(WasmCoreError);
    expect(small.stats().residentBytes).toBe(0);
  });
});

function countLe(sorted: number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
