// `bitsync inspect`, run in-process through commander with console output captured.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { afterEach, describe, expect, it, vi } from "vitest";
import { registerInspect } from "../../orchestrator/cli/inspect.js";
import { emptyInspection } from "../helpers/cli.js";

interface Run {
  out: string[];
  err: string[];
  exitCode: number | string | undefined;
}

async function inspect(...args: string[]): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const log = vi.spyOn(console, "log").mockImplementation((...a: unknown[]) => void out.push(a.join(" ")));
  const error = vi.spyOn(console, "error").mockImplementation((...a: unknown[]) => void err.push(a.join(" ")));
  try {
    const program = new Command().exitOverride();
    registerInspect(program);
    await program.parseAsync(["inspect", ...args], { from: "user" });
    return { out, err, exitCode: process.exitCode ?? undefined };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}

afterEach(() => {
  process.exitCode = undefined;
});

// StarRocks/starrocks test/sql/test_bitmap_functions/R/test_bitmap_binary: 1..20 ∪ 17179869184..17179869284.
const SR_BITMAP64 =
  "0402000000003A3000000100000000001300100000000100020003000400050006000700080009000A000B000C000D000E000F00100011" +
  "00120013001400040000003B3000000100006400010000006400";

describe("bitsync inspect --json", () => {
  it("32-bit value: numbers", async () => {
    // StarRocks/starrocks docs/en/sql-reference/sql-functions/bitmap-functions/bitmap_to_base64.md
    const run = await inspect("--format", "starrocks", "--base64", "AjowAAABAAAAAAADABAAAAAAAAEAAgADAA==", "--json");
    expect(run.err).toEqual([]);
    expect(run.exitCode).toBeUndefined();
    expect(run.out).toHaveLength(1);
    expect(run.out[0]).toBe(
      '{"format":"starrocks","typeCode":2,"cardinality":4,"min":0,"max":3,"sample":[0,1,2,3],"bits64":false}',
    );
  });

  it("64-bit value: decimal strings, the 20 smallest", async () => {
    const run = await inspect("--format", "starrocks", "--hex", SR_BITMAP64, "--json");
    expect(run.err).toEqual([]);
    const json: unknown = JSON.parse(run.out[0]!);
    expect(Object.keys(json as object)).toEqual([
      "format",
      "typeCode",
      "cardinality",
      "min",
      "max",
      "sample",
      "bits64",
    ]);
    expect(json).toEqual({
      format: "starrocks",
      typeCode: 4,
      cardinality: "121",
      min: "1",
      max: "17179869284",
      sample: Array.from({ length: 20 }, (_, i) => String(i + 1)),
      bits64: true,
    });
  });

  it("a 64-bit form holding only small values still prints strings; empty prints null", async () => {
    // apache/doris be/test/vec/function/function_bitmap_test.cpp: SET(5) {1, 9999999}.
    const set = await inspect("--format", "doris", "--base64", "BQIBAAAAAAAAAH+WmAAAAAAA", "--json");
    expect(JSON.parse(set.out[0]!)).toMatchObject({ cardinality: "2", min: "1", max: "9999999", bits64: true });
    const empty = await inspect("--format", "doris", "--base64", "AA==", "--json");
    expect(JSON.parse(empty.out[0]!)).toEqual(emptyInspection("doris"));
  });

  it("--format portable64: the Roaring 64-bit portable format", async () => {
    // {1, 2^32 + 5}: count 2, then key 0 with a portable {1} and key 1 with a portable {5}.
    const bytes =
      "0200000000000000" +
      "00000000" +
      "3a3000000100000000000000100000000100" +
      "01000000" +
      "3a3000000100000000000000100000000500";
    const run = await inspect("--format", "portable64", "--hex", bytes, "--json");
    expect(run.err).toEqual([]);
    expect(JSON.parse(run.out[0]!)).toEqual({
      format: "portable64",
      typeCode: 0,
      cardinality: "2",
      min: "1",
      max: "4294967301",
      sample: ["1", "4294967301"],
      bits64: true,
    });
    const cut = await inspect("--format", "portable64", "--hex", bytes.slice(0, -4), "--json");
    expect(cut.exitCode).not.toBeUndefined();
    expect(cut.err.join("\n")).toMatch(/portable64 bitmap/);
  });

  it("ClickHouse with --width, and --file", async () => {
    // ClickHouse/ClickHouse src/Functions/FunctionsBitmap.cpp: hex(bitmapBuild([1, 2, 3, 4, 5])).
    const ch = await inspect("--format", "clickhouse", "--width", "1", "--hex", "00050102030405", "--json");
    expect(JSON.parse(ch.out[0]!)).toMatchObject({ typeCode: 0, cardinality: 5, sample: [1, 2, 3, 4, 5] });
    const dir = mkdtempSync(join(tmpdir(), "bitsync-inspect-"));
    const file = join(dir, "value.bin");
    writeFileSync(file, Buffer.from(SR_BITMAP64, "hex"));
    const f = await inspect("--format", "starrocks", "--file", file, "--json");
    expect(JSON.parse(f.out[0]!)).toMatchObject({ cardinality: "121" });
  });
});

describe("bitsync inspect (human summary)", () => {
  it("says the type, size, range and smallest members", async () => {
    const run = await inspect("--format", "starrocks", "--hex", SR_BITMAP64);
    const text = run.out.join("\n");
    expect(text).toContain("type code 4 (BITMAP64)");
    expect(text).toContain("cardinality  121");
    expect(text).toContain("1 .. 17179869284");
    expect(text).toMatch(/smallest +1, 2, 3, .*, 20, \.\.\./);
    expect(text).toContain("high 4: portable");
  });
});

describe("bitsync inspect rejects bad input", () => {
  const cases: [string, string[], RegExp][] = [
    [
      "truncated value",
      ["--format", "starrocks", "--hex", "0A0500000001"],
      /starrocks bitmap \(type code 10\), byte 1: .*truncated/,
    ],
    ["unknown type code", ["--format", "starrocks", "--hex", "07"], /unknown type code 7/],
    ["trailing bytes", ["--format", "starrocks", "--hex", "0000"], /trailing byte/],
    ["no input", ["--format", "starrocks"], /exactly one of --base64, --hex or --file \(none was given\)/],
    ["two inputs", ["--format", "starrocks", "--hex", "00", "--base64", "AA=="], /--base64 and --hex were given/],
    [
      "bad format",
      ["--format", "hive", "--hex", "00"],
      /--format is "hive": use starrocks, doris, clickhouse, portable/,
    ],
    ["missing format", ["--hex", "00"], /--format is missing/],
    ["bad hex", ["--format", "starrocks", "--hex", "0g"], /--hex is not valid hex/],
    ["bad base64", ["--format", "starrocks", "--base64", "AA=A"], /--base64 is not valid base64/],
    ["width off clickhouse", ["--format", "starrocks", "--width", "8", "--hex", "00"], /--width applies only to/],
    ["bad width", ["--format", "clickhouse", "--width", "3", "--hex", "00"], /--width 3: use 1, 2, 4 or 8/],
    ["missing file", ["--format", "portable", "--file", "/nonexistent/bitsync"], /cannot read --file/],
    ["wrong clickhouse width", ["--format", "clickhouse", "--hex", "00050102030405"], /assuming T = UInt32/],
  ];
  it.each(cases)("%s", async (_name, args, message) => {
    const run = await inspect(...args);
    expect(run.exitCode).toBe(1);
    expect(run.out).toEqual([]);
    expect(run.err).toHaveLength(1);
    expect(run.err[0]).toMatch(/^bitsync inspect: /);
    expect(run.err[0]).not.toContain("\n");
    expect(run.err[0]).toMatch(message);
  });
});
