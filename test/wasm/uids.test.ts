import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BitmapCore, type SegmentBlob } from "../../orchestrator/wasm/core.js";
import { BlobFormatError } from "../../orchestrator/wasm/errors.js";

const core = BitmapCore.create();
const enc = new TextEncoder();

describe("uid table (the mapping's forward cache in linear memory)", () => {
  it("never answers a wrong bit, and keeps the latest maxEntries uids set", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 64 }),
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 200 })), { minLength: 1, maxLength: 600 }),
        (maxEntries, ops) => {
          const table = core.uidTable(maxEntries, 4);
          try {
            // The truth: uid k has bit 7k + 3 (a uid's bit never changes).
            const uidOf = (k: number): string => `uid-${k}${"é".repeat(k % 3)}`;
            const recent: number[] = [];
            for (const [isSet, k] of ops) {
              if (isSet) {
                table.set(uidOf(k), 7 * k + 3);
                recent.push(k);
              } else {
                const got = table.get(uidOf(k));
                if (got !== undefined) {
                  expect(got).toBe(7 * k + 3);
                  recent.push(k); // a hit is a use too
                }
              }
            }
            // The latest maxEntries distinct uids used (set, or read with a hit) are all there.
            const keep: number[] = [];
            for (let i = recent.length - 1; i >= 0 && keep.length < maxEntries; i--) {
              if (!keep.includes(recent[i]!)) keep.push(recent[i]!);
            }
            // Checked newest first: a check promotes, and must not push out one still to check.
            for (const k of keep) expect(table.get(uidOf(k)), uidOf(k)).toBe(7 * k + 3);
            expect(table.size).toBeLessThanOrEqual(2 * maxEntries);
          } finally {
            table.dispose();
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("holds everything when it is big enough, and a hit in the old generation survives the next rotation", () => {
    const table = core.uidTable(1000);
    try {
      for (let i = 0; i < 1000; i++) table.set(`u${i}`, i * 2 ** 30);
      for (let i = 0; i < 1000; i++) expect(table.get(`u${i}`)).toBe(i * 2 ** 30);
      expect(table.get("u1000")).toBeUndefined();
      expect(table.get("")).toBeUndefined();
      table.clear();
      expect(table.size).toBe(0);
      expect(table.get("u1")).toBeUndefined();
      // 10 per generation: u0 is read while old, so it moves to the young one and stays.
      const small = core.uidTable(10);
      for (let i = 0; i < 15; i++) small.set(`u${i}`, i);
      expect(small.get("u0")).toBe(0);
      for (let i = 15; i < 24; i++) small.set(`u${i}`, i);
      expect(small.get("u0")).toBe(0);
      expect(small.get("u1")).toBeUndefined();
      small.dispose();
    } finally {
      table.dispose();
    }
    expect(() => table.get("u1")).toThrow(/after dispose/);
  });

  it("starts small and grows with what it holds, and clear() gives the memory back", () => {
    const table = core.uidTable(1_000_000);
    const empty = table.byteLength;
    expect(empty).toBeLessThan(100_000);
    for (let i = 0; i < 100_000; i++) table.set(`user-${i}`, i);
    let held = 0;
    for (let i = 0; i < 100_000; i++) if (table.get(`user-${i}`) === i) held++;
    expect(held).toBe(100_000);
    expect(table.byteLength).toBeGreaterThan(100_000 * 16);
    table.clear();
    expect(table.byteLength).toBe(empty);
    expect(table.get("user-1")).toBeUndefined();
    table.dispose();
  });

  it("bits are exact up to 2^53 and invalid ones are refused", () => {
    const table = core.uidTable(10);
    table.set("max", Number.MAX_SAFE_INTEGER);
    expect(table.get("max")).toBe(Number.MAX_SAFE_INTEGER);
    expect(() => table.set("x", -1)).toThrow(RangeError);
    expect(() => table.set("x", 1.5)).toThrow(RangeError);
    table.dispose();
  });
});

describe("batch body scan", () => {
  const uidArb = fc.oneof(
    fc.stringMatching(/^[A-Za-z0-9_-]{0,20}$/),
    fc.string({ maxLength: 8 }),
    fc.string({ unit: "grapheme", maxLength: 4 }),
  );
  const ws = fc.constantFrom("", " ", "\n", "\t ", "\r\n  ");

  it("finds exactly the uids JSON.parse finds, or declines", () => {
    fc.assert(
      fc.property(fc.array(uidArb, { maxLength: 40 }), fc.array(ws, { minLength: 8, maxLength: 8 }), (uids, w) => {
        const table = core.uidTable(100);
        try {
          uids.forEach((u, i) => i % 2 === 0 && table.set(u, i));
          const items = uids.map((u) => JSON.stringify(u)).join(`${w[0]},${w[1]}`);
          const text = `${w[2]}{${w[3]}"uids"${w[4]}:${w[5]}[${w[6]}${items}${w[7]}]${w[0]}}${w[1]}`;
          const body = Buffer.from(text);
          const scan = table.scan(body, 1000);
          const simple = uids.every((u) => /^[\x20-\x7f]*$/.test(u) && !/["\\]/.test(u));
          if (!simple) {
            expect(scan).toBeNull();
            return;
          }
          expect(scan).not.toBeNull();
          const parsed = (JSON.parse(text) as { uids: string[] }).uids;
          expect(scan!.bits.length).toBe(parsed.length);
          const missing: number[] = [];
          parsed.forEach((u, i) => {
            // The bit of the first even position the uid was set at, if any; else a miss.
            const setAt = uids.findIndex((v, k) => v === u && k % 2 === 0);
            expect(scan!.bits[i]).toBe(setAt);
            if (setAt < 0) missing.push(i);
          });
          // The misses come back as exactly the strings JSON.parse reads.
          expect(scan!.missing).toEqual(missing);
          expect(scan!.missingUids).toEqual(missing.map((i) => parsed[i]));
        } finally {
          table.dispose();
        }
      }),
      { numRuns: 400 },
    );
  });

  it("declines every other shape, and more uids than allowed", () => {
    const table = core.uidTable(10);
    const declined = [
      "",
      "{}",
      '{"bits":[1,2]}',
      '{"uids":["a"],"bits":[1]}',
      '{"uids":["a"]} x',
      '{"uids":["a",]}',
      '{"uids":["a" "b"]}',
      '{"uids":[1]}',
      '{"uids":["a"}',
      '{"uids":"a"}',
      '{"uids" ["a"]}',
      '["a"]',
      '{"uids":["a\\u0062"]}',
      '{"uidsx":["a"]}',
      '{"uids":["a\u0001"]}',
      '{"uids":["a"]',
      '{"uids":["a',
    ];
    for (const text of declined) expect(table.scan(enc.encode(text), 10), text).toBeNull();
    expect(table.scan(enc.encode('{"uids":["a","b","c"]}'), 2)).toBeNull();
    expect(table.scan(enc.encode('{"uids":["a","b"]}'), 2)?.bits.length).toBe(2);
    expect(table.scan(enc.encode('{"uids":[]}'), 2)?.bits.length).toBe(0);
    expect(table.scan(enc.encode(' {"uids" : [ "" ] } '), 2)?.bits).toEqual(new Float64Array([-1]));
    table.dispose();
  });
});

describe("containsBits (many bits across the segments of one version)", () => {
  it("answers in request order, as a set of the members would", () => {
    const segmentBits = 16;
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 8 * 65536 - 1 }), { maxLength: 3000 }),
        fc.array(fc.integer({ min: -1, max: 9 * 65536 }), { maxLength: 2000 }),
        fc.integer({ min: 0, max: 7 }),
        (members, queries, dropped) => {
          const set = new Set(members);
          const cut = core.segment(Uint32Array.from(members).sort(), segmentBits);
          const blobs: SegmentBlob[] = cut.segments.map((s) => ({ segment: s.segment, blob: core.pin(s.blob) }));
          try {
            // Members also from the queries themselves, so that hits occur.
            const bits = Float64Array.from(
              queries.map((q, i) => (i % 3 === 0 && members.length ? members[i % members.length]! : q)),
            );
            const out = core.containsBits(bits, segmentBits, blobs);
            bits.forEach((b, i) => expect(out[i], `bit ${b}`).toBe(b >= 0 && set.has(b) ? 1 : 0));
            // A segment left out of the table counts as empty.
            const without = blobs.filter((s) => s.segment !== dropped);
            const out2 = core.containsBits(bits, segmentBits, without);
            bits.forEach((b, i) =>
              expect(out2[i]).toBe(b >= 0 && set.has(b) && Math.floor(b / 65536) !== dropped ? 1 : 0),
            );
          } finally {
            for (const s of blobs) s.blob.dispose();
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it("refuses bits it cannot sort exactly, and reports a corrupt segment", () => {
    const blob = core.pin(core.segment(Uint32Array.of(1, 2, 3), 16).segments[0]!.blob);
    expect(() => core.containsBits(Float64Array.of(1.5), 16, [{ segment: 0, blob }])).toThrow(BlobFormatError);
    expect(() => core.containsBits(Float64Array.of(2 ** 70), 16, [{ segment: 0, blob }])).toThrow(BlobFormatError);
    expect(Array.from(core.containsBits(new Float64Array(0), 16, [{ segment: 0, blob }]))).toEqual([]);
    blob.dispose();
  });

  it("writes the answers as JSON booleans", () => {
    const answers = Uint8Array.of(1, 0, 0, 1, 1);
    expect(JSON.parse(`[${core.boolsJson(answers)}]`)).toEqual([true, false, false, true, true]);
    expect(core.boolsJson(new Uint8Array(0))).toBe("");
  });
});
