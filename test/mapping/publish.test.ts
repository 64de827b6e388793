// The downstream records: the value written by hand for plain IDs must be exactly what
// JSON.stringify writes, for any string; the warehouse parses it as JSON.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { mappingRecord, mappingRecords } from "../../orchestrator/mapping/publish.js";

describe("mapping records", () => {
  it("are JSON.stringify's output for any uid and corpId, one per message or in arrays", () => {
    const id = fc.oneof(fc.string(), fc.string({ unit: "binary" }), fc.string({ unit: "grapheme-ascii" }));
    fc.assert(
      fc.property(fc.array(fc.record({ uid: id, corpId: id, bit: fc.nat() }), { maxLength: 9 }), (mappings) => {
        const objects = mappings.map((m) => ({ uid: m.uid, corpId: m.corpId, bit: m.bit }));
        for (const m of mappings) expect(mappingRecord(m)).toEqual({ key: m.uid, value: JSON.stringify(m) });
        const arrays = mappingRecords(mappings, 4);
        expect(arrays.map((r) => JSON.parse(r.value as string) as unknown[]).flat()).toEqual(objects);
        arrays.forEach((r, k) => expect(r.value).toBe(JSON.stringify(objects.slice(4 * k, 4 * k + 4))));
      }),
      { numRuns: 2000 },
    );
  });
});
