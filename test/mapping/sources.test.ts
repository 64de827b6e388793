// The file sources of a cold start, on real files: exact byte positions (a resume starts where
// a row ended, with true line numbers), lines across read chunks, and over-long lines rejected
// and skipped without being held, CSV quoting.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { csvFields, csvSource, ndjsonSource, type ImportRow } from "../../orchestrator/mapping/sources.js";
import { mulberry32 } from "../../orchestrator/util/prng.js";

const dir = mkdtempSync(join(tmpdir(), "bitsync-sources-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function collect(batches: AsyncIterable<ImportRow[]>): Promise<ImportRow[]> {
  const out: ImportRow[] = [];
  for await (const rows of batches) out.push(...rows);
  return out;
}

/** Writes the lines (each with its own terminator) and returns the file and each line's end offset. */
function file(name: string, lines: string[]): { path: string; ends: number[] } {
  const path = join(dir, name);
  writeFileSync(path, lines.join(""));
  const ends: number[] = [];
  let at = 0;
  for (const l of lines) ends.push((at += Buffer.byteLength(l)));
  return { path, ends };
}

const json = (uid: string, pad = ""): string => JSON.stringify({ uid, corpId: "c", ...(pad ? { pad } : {}) });

describe("NDJSON lines", () => {
  it("gives each row the offset after its newline, and a resume true line numbers, around a skipped line", async () => {
    const max = 200_000; // over 64 KiB: lines span read chunks
    const exact = json("at-max", "p".repeat(max - json("at-max", "p").length + 1));
    expect(Buffer.byteLength(exact)).toBe(max);
    const lines = [
      `\uFEFF${json("bom")}\r\n`,
      `${json("a", "y".repeat(100_000))}\n`,
      `${exact}\n`,
      `${"z".repeat(max + 1)}\n`, // one byte over
      "\n",
      `${json("é-after")}\r\n`,
      `${"w".repeat(3 * max)}`, // over, and the file ends without a newline
    ];
    const { path, ends } = file("positions.ndjson", lines);
    const rows = await collect(ndjsonSource(path, { maxLineBytes: max }).rows(0));
    expect(rows.map((r) => [r.line, r.position, "uid" in r ? r.uid : r.reason.slice(0, 20)])).toEqual([
      [1, ends[0], "bom"],
      [2, ends[1], "a"],
      [3, ends[2], "at-max"],
      [4, ends[3], "line of 200001 bytes"],
      [6, ends[5], "é-after"],
      [7, ends[6], "line of 600000 bytes"],
    ]);
    expect(rows[3]).toMatchObject({
      reason: "line of 200001 bytes is over the limit of 200000 (--max-line-bytes): skipped (a missing newline?)",
      raw: `${"z".repeat(64)}...`,
    });
    // A resume from the skipped line's end reads on from the next line, numbered as in the file.
    const resumed = await collect(ndjsonSource(path, { maxLineBytes: max }).rows(ends[3]!, 4));
    expect(resumed.map((r) => [r.line, r.position])).toEqual([
      [6, ends[5]],
      [7, ends[6]],
    ]);
  });

  it("reads many short lines across read chunks exactly as one JSON.parse per line would", async () => {
    // Whole-ASCII runs of a chunk are decoded at once and simple lines read without JSON.parse:
    // every kind of line, at every place against the 64 KiB chunks, must come out the same.
    const rnd = mulberry32(11);
    const kinds = [
      (i: number) => `${JSON.stringify({ uid: `u${i}`, corpId: `c${i % 7}` })}\n`,
      (i: number) => `${JSON.stringify({ uid: `u${i}`, corpId: "c" })}\r\n`,
      (i: number) => `{"uid":"q\\"${i}","corpId":"c"}\n`, // an escaped quote: the full parse
      (i: number) => `{ "uid": "s${i}", "corpId": "c" }\n`, // spaces
      (i: number) => `{"corpId":"c","uid":"o${i}"}\n`, // another order
      () => "\n",
      () => "{not json\n",
      (i: number) => `${JSON.stringify({ uid: `long${i}`, corpId: "c".repeat(120) })}\n`, // over 100 bytes
    ];
    // Rare non-ASCII lines: the chunks without one take the whole-chunk path, those with one not.
    const pick = (i: number): string =>
      i % 7000 === 3
        ? `${JSON.stringify({ uid: `é${i}`, corpId: "c" })}\n`
        : kinds[rnd() < 0.9 ? 0 : Math.floor(rnd() * kinds.length)]!(i);
    const lines = Array.from({ length: 30_000 }, (_, i) => pick(i));
    const { path, ends } = file("many.ndjson", lines);
    const expected: unknown[] = [];
    lines.forEach((l, i) => {
      const text = l.replace(/\r?\n$/, "");
      if (text.trim() === "") return;
      if (Buffer.byteLength(text) + (l.endsWith("\r\n") ? 1 : 0) > 100) {
        expected.push([i + 1, ends[i], "over"]);
        return;
      }
      try {
        const o = JSON.parse(text) as { uid: string; corpId: string };
        expected.push([i + 1, ends[i], o.uid, o.corpId]);
      } catch {
        expected.push([i + 1, ends[i], "not JSON"]);
      }
    });
    const rows = await collect(ndjsonSource(path, { maxLineBytes: 100 }).rows(0));
    const got = rows.map((r) =>
      "uid" in r
        ? [r.line, r.position, r.uid, r.corpId]
        : [r.line, r.position, r.reason.startsWith("line of") ? "over" : r.reason.slice(0, 8)],
    );
    expect(got).toEqual(expected);
  });

  it("skips a line far over the limit at the speed of reading, and estimates rows from 64 KiB only", async () => {
    const path = join(dir, "huge.ndjson");
    writeFileSync(path, Buffer.concat([Buffer.alloc(48 << 20, "q"), Buffer.from(`\n${json("after")}\n`)]));
    const source = ndjsonSource(path);
    expect(await source.estimateRows()).toBeUndefined(); // no newline in the first 64 KiB
    const rows = await collect(source.rows(0));
    expect(rows).toEqual([
      expect.objectContaining({ line: 1, position: (48 << 20) + 1, raw: `${"q".repeat(64)}...` }),
      { uid: "after", corpId: "c", line: 2, position: (48 << 20) + 1 + json("after").length + 1 },
    ]);
  });

  it("refuses a limit that is not a positive integer", () => {
    const { path } = file("limit.ndjson", [`${json("a")}\n`]);
    expect(() => ndjsonSource(path, { maxLineBytes: 0 })).toThrow(/maxLineBytes 0 is not a positive integer/);
  });
});

describe("CSV lines", () => {
  it("reads RFC 4180 fields and says why a line is not CSV", () => {
    expect(csvFields("u1,c1")).toEqual(["u1", "c1"]);
    expect(csvFields('"u,1","c ""q"""')).toEqual(["u,1", 'c "q"']);
    expect(csvFields('u1,""')).toEqual(["u1", ""]);
    expect(csvFields('"u1",c1,')).toEqual(["u1", "c1", ""]);
    expect(csvFields('bad,"quote"x')).toEqual({ reason: "bad CSV: a character follows the closing quote of field 2" });
    expect(csvFields('u"1,c')).toEqual({ reason: "bad CSV: a quote inside unquoted field 1" });
    expect(csvFields('u1,"c1')).toEqual({ reason: "bad CSV: field 2 has no closing quote" });
  });

  it("skips the header and an over-long line, with exact positions and line numbers after a resume", async () => {
    const lines = [
      "uid,corpId\r\n",
      "u1,c1\r\n",
      `${"v".repeat(5000)},c\n`,
      "\n",
      "only-one\n",
      '"u2","c2"\n',
      "uid,not-a-header-here\n",
    ];
    const { path, ends } = file("skip.csv", lines);
    const rows = await collect(csvSource(path, { maxLineBytes: 1000 }).rows(0));
    expect(rows).toEqual([
      { uid: "u1", corpId: "c1", line: 2, position: ends[1] },
      {
        reason: "line of 5002 bytes is over the limit of 1000 (--max-line-bytes): skipped (a missing newline?)",
        raw: `${"v".repeat(64)}...`,
        line: 3,
        position: ends[2],
      },
      { reason: "expected 2 fields uid,corpId, got 1", raw: "only-one", line: 5, position: ends[4] },
      { uid: "u2", corpId: "c2", line: 6, position: ends[5] },
      { uid: "uid", corpId: "not-a-header-here", line: 7, position: ends[6] },
    ]);
    const resumed = await collect(csvSource(path, { maxLineBytes: 1000 }).rows(ends[2]!, 3));
    expect(resumed.map((r) => [r.line, r.position])).toEqual([
      [5, ends[4]],
      [6, ends[5]],
      [7, ends[6]],
    ]);
  });
});
