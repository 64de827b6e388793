// The compiled `bitsync` command as an operator runs it: a child process per command, real Redis and
// MariaDB (mysql dialect, StarRocks-serialized BLOBs). Checks exit codes, the --json shapes, and that
// every failure is one line on stderr and leaves the served version as it was.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SegmentCache } from "../../orchestrator/cache/segment-cache.js";
import { SETTINGS } from "../../orchestrator/config/config.js";
import { BitmapCore } from "../../orchestrator/wasm/core.js";
import type { SyncResult } from "../../orchestrator/sync/sync.js";
import type { AudienceInfo } from "../../orchestrator/versions/admin.js";
import { audienceKeyNames, members, newAudienceId, SourceTable, starrocksBytes } from "../helpers/audience.js";
import { emptyInspection } from "../helpers/cli.js";
import { starRocksBitmap } from "../helpers/mariadb.js";
import { stackEnv, testRedis } from "../helpers/stack.js";

const cli = fileURLToPath(new URL("../../dist/orchestrator/cli/main.js", import.meta.url));
const redis = testRedis(); // the suite's Redis or cluster; fails, never skips, without the stack
let table: SourceTable;

beforeAll(async () => {
  table = await SourceTable.create();
});
afterAll(async () => {
  await table.drop();
  redis.disconnect();
});

const keysOf = (aud: string): Promise<string[]> => audienceKeyNames(redis, aud);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the compiled CLI to completion. `env` is laid over process.env and the table's settings. */
function bitsync(args: string[], env: Record<string, string> = {}, opts: { plain?: boolean } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], {
      env: { ...process.env, ...(opts.plain ? {} : table.env()), ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      if (signal) reject(new Error(`bitsync ${args.join(" ")} died of ${signal}\n${stderr}`));
      else resolve({ code, stdout, stderr });
    });
  });
}

/** A successful run that printed exactly one line of JSON on stdout and nothing on stderr. */
function json<T = Record<string, unknown>>(run: Run): T {
  expect(run.stderr, "stderr").toBe("");
  expect(run.code, run.stderr).toBe(0);
  const lines = run.stdout.split("\n").filter((l) => l !== "");
  expect(lines, run.stdout).toHaveLength(1);
  const parsed: unknown = JSON.parse(lines[0]!);
  expect(parsed).toBeTypeOf("object");
  expect(Array.isArray(parsed)).toBe(false);
  return parsed as T;
}

/** A failed run: non-zero exit, nothing on stdout, exactly one line on stderr; returns that line. */
function failure(run: Run): string {
  expect(run.code, run.stdout + run.stderr).not.toBe(0);
  expect(run.code).not.toBeNull();
  expect(run.stdout).toBe("");
  expect(run.stderr.endsWith("\n")).toBe(true);
  const lines = run.stderr.slice(0, -1).split("\n");
  expect(lines, run.stderr).toHaveLength(1);
  return lines[0]!;
}

/** What `sync --json` and `info --json` print: the results of the calls they make. */
type SyncJson = SyncResult;
type InfoJson = AudienceInfo;

const segmentsOf = (m: readonly number[], bits = 20): number => new Set(m.map((x) => Math.floor(x / 2 ** bits))).size;
const sortedUnion = (...parts: number[][]): number[] => [...new Set(parts.flat())].sort((x, y) => x - y);

async function info(aud: string): Promise<InfoJson> {
  return json<InfoJson>(await bitsync(["info", aud, "--json"]));
}

describe("bitsync sync / info / rollback / gc", () => {
  it("sync --json prints the result; an unchanged re-sync reuses every segment", async () => {
    const aud = newAudienceId();
    const a = members(6000, 12_000_000, 101);
    const b = members(6000, 12_000_000, 102);
    const union = sortedUnion(a, b);
    await table.put(aud, 20261110, 0, [7, 8, 9]);
    await table.put(aud, 20261111, 0, a);
    await table.put(aud, 20261111, 1, b);

    const first = json<SyncJson>(await bitsync(["sync", aud, "--json"]));
    expect(first).toMatchObject({
      audience: aud,
      version: 1,
      previous: null,
      impDate: 20261111,
      cardinality: union.length,
      segments: segmentsOf(union),
      written: segmentsOf(union),
      reused: 0,
      retained: [1],
    });
    expect(first.bytesWritten).toBeGreaterThan(0);

    const second = json<SyncJson>(await bitsync(["sync", aud, "--json"]));
    expect(second).toMatchObject({
      audience: aud,
      version: 2,
      previous: 1,
      cardinality: union.length,
      segments: first.segments,
      written: 0,
      reused: first.segments,
      bytesWritten: 0,
      retained: [2, 1],
    });

    // What the child wrote is what the source holds.
    const ctx = table.context();
    const cache = new SegmentCache(ctx.store, BitmapCore.create({ budgetBytes: 16 << 20 }), {
      budgetBytes: 16 << 20,
      pollMs: 0,
    });
    try {
      const page = await cache.page(aud, { rank: 0 }, union.length + 1);
      expect(page.version).toBe(2);
      expect(page.bits).toEqual(union);
      expect(page.nextRank).toBeNull();
    } finally {
      await cache.stop();
      await ctx.close();
    }

    // --imp-date picks an older partition (a drift, so --force).
    const older = json<SyncJson>(await bitsync(["sync", aud, "--imp-date", "20261110", "--force", "--json"]));
    expect(older).toMatchObject({ version: 3, previous: 2, impDate: 20261110, cardinality: 3, segments: 1 });
  });

  it("sync --json counts a segment identical to another one of the same version as reused", async () => {
    const aud = newAudienceId();
    // Segments 0 and 1 hold the same offsets, so the same bytes: stored once, referenced twice.
    await table.put(aud, 20261111, 0, [5, 2 ** 20 + 5, 2 * 2 ** 20 + 6]);
    const res = json<SyncJson>(await bitsync(["sync", aud, "--json"]));
    expect(res).toMatchObject({ version: 1, cardinality: 3, segments: 3, written: 2, reused: 1 });
    const again = json<SyncJson>(await bitsync(["sync", aud, "--json"]));
    expect(again).toMatchObject({ version: 2, segments: 3, written: 0, reused: 3, bytesWritten: 0 });
  });

  it("sync without --json prints one summary line", async () => {
    const aud = newAudienceId();
    await table.put(aud, 20261111, 0, [1, 2, 3, 2 ** 21]);
    const run = await bitsync(["sync", aud]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toBe("");
    expect(run.stdout).toBe(
      `audience ${aud}: version 1 (was none), 4 members, 2 segments (2 written, 0 reused), imp_date 20261111\n`,
    );
  });

  it("info --json shows the current version and every retained one", async () => {
    const aud = newAudienceId();
    const m1 = members(2000, 5_000_000, 103);
    const m2 = members(2100, 5_000_000, 104);
    await table.put(aud, 20261111, 0, m1);
    json(await bitsync(["sync", aud, "--json"]));
    await table.put(aud, 20261112, 0, m2);
    await table.put(aud, 20261112, 3, [4_999_999]);
    const synced = json<SyncJson>(await bitsync(["sync", aud, "--json"]));
    const m2all = sortedUnion(m2, [4_999_999]);

    const got = await info(aud);
    expect(got).toMatchObject({
      audience: aud,
      version: 2,
      cardinality: m2all.length,
      segments: synced.segments,
    });
    expect(got.retained).toHaveLength(2);
    expect(got.retained[0]).toMatchObject({
      version: 2,
      current: true,
      cardinality: m2all.length,
      segments: synced.segments,
      impDate: 20261112,
    });
    expect(got.retained[1]).toMatchObject({
      version: 1,
      current: false,
      cardinality: m1.length,
      segments: segmentsOf(m1),
      impDate: 20261111,
    });
    for (const r of got.retained) expect(Number.isNaN(Date.parse(r.createdAt!))).toBe(false);
    expect(got.info).toMatchObject({ version: 2, cardinality: m2all.length });
    expect(got.info.source).toMatchObject({ impDate: 20261112, hashParts: [0, 3] });

    // The plain form: a summary line, then one line per retained version, the current one starred.
    const plain = await bitsync(["info", aud]);
    expect(plain.code, plain.stderr).toBe(0);
    const lines = plain.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe(`audience ${aud}: version 2, ${m2all.length} members, ${synced.segments} segments`);
    expect(lines[1]).toMatch(new RegExp(`^  \\* v2  ${m2all.length}  imp_date 20261112  `));
    expect(lines[2]).toMatch(new RegExp(`^    v1  ${m1.length}  imp_date 20261111  `));
  });

  it("rollback --json goes back to the previous version; a version not retained is refused", async () => {
    const aud = newAudienceId();
    const m1 = members(3000, 4_000_000, 105);
    const m2 = members(3300, 4_000_000, 106);
    await table.put(aud, 20261111, 0, m1);
    json(await bitsync(["sync", aud, "--json"]));
    await table.put(aud, 20261112, 0, m2);
    json(await bitsync(["sync", aud, "--json"]));

    const rb = json(await bitsync(["rollback", aud, "--json"]));
    expect(rb).toMatchObject({ audience: aud, from: 2, to: 1 });
    expect(rb.generation).toBeTypeOf("number");
    const after = await info(aud);
    expect(after).toMatchObject({ version: 1, cardinality: m1.length, segments: segmentsOf(m1) });
    expect(after.retained.map((r) => [r.version, r.current])).toEqual([
      [2, false],
      [1, true],
    ]);

    // Nothing older than 1 is retained.
    const none = failure(await bitsync(["rollback", aud, "--json"]));
    expect(none).toMatch(/^bitsync rollback: /);
    expect(none).toContain("no retained version older than 1");

    const notRetained = `bitsync rollback: audience ${aud}: version 999 is not retained; see \`bitsync info\``;
    expect(failure(await bitsync(["rollback", aud, "--to", "999"]))).toBe(notRetained);
    expect(failure(await bitsync(["rollback", aud, "--to", "999", "--json"]))).toBe(notRetained);
    expect((await info(aud)).version).toBe(1);

    // --to forward again, to the newer retained version.
    const fwd = json(await bitsync(["rollback", aud, "--to", "2", "--json"]));
    expect(fwd).toMatchObject({ audience: aud, from: 1, to: 2 });
    expect(fwd.generation).toBeGreaterThan(rb.generation as number);
    expect(await info(aud)).toMatchObject({ version: 2, cardinality: m2.length });
    const same = failure(await bitsync(["rollback", aud, "--to", "2"]));
    expect(same).toMatch(/^bitsync rollback: .*already current/);
  });

  it("rollback and info of an audience never synced fail in one line; gc finds nothing", async () => {
    const aud = newAudienceId();
    for (const cmd of ["rollback", "info"]) {
      const line = failure(await bitsync([cmd, aud, "--json"]));
      expect(line).toBe(`bitsync ${cmd}: audience ${aud} has no synced version`);
    }
    expect(json(await bitsync(["gc", aud, "--json"]))).toEqual({ audience: aud, keys: 0, segments: 0, versions: 0 });
    expect(await keysOf(aud)).toEqual([]);
  });

  it("gc --json removes what a crashed sync left, and reports it", async () => {
    const aud = newAudienceId();
    const m = members(500, 3_000_000, 107);
    await table.put(aud, 20261111, 0, m);
    json(await bitsync(["sync", aud, "--json"]));
    expect(json(await bitsync(["gc", aud, "--json"]))).toEqual({ audience: aud, keys: 0, segments: 0, versions: 0 });
    const keys = await keysOf(aud);

    // What a sync killed after writing leaves: a begun version and a segment, never swapped in.
    const ctx = table.context();
    try {
      const lock = await ctx.store.lock(aud);
      await ctx.store.begin(aud, lock);
      await ctx.store.writeSegments(aud, [{ hash: "AAAAAAAAAAAAAAAAAAAAAA", blob: new Uint8Array(8) }]);
      await lock.release();
    } finally {
      await ctx.close();
    }
    expect(await keysOf(aud)).toEqual([...keys, `{aud:${aud}}:s:AAAAAAAAAAAAAAAAAAAAAA`].sort());

    const gc = json(await bitsync(["gc", aud, "--json"]));
    expect(gc).toEqual({ audience: aud, keys: 1, segments: 1, versions: 1 });
    expect(await keysOf(aud)).toEqual(keys);
    expect(await info(aud)).toMatchObject({ version: 1, cardinality: m.length });
  });

  describe("a failing sync exits non-zero with one line and leaves the served version", () => {
    it("unknown audience", async () => {
      const aud = newAudienceId();
      const line = failure(await bitsync(["sync", aud, "--json"]));
      expect(line).toMatch(new RegExp(`^bitsync sync: no rows in ${table.name} for audience ${aud} at any imp_date`));
      // Nothing is served, and nothing was left behind (the lock was released).
      expect(failure(await bitsync(["info", aud, "--json"]))).toBe(
        `bitsync info: audience ${aud} has no synced version`,
      );
      expect(await keysOf(aud)).toEqual([]);
    });

    it("a date the audience does not have", async () => {
      const aud = newAudienceId();
      const m = members(1000, 2_000_000, 108);
      await table.put(aud, 20261111, 0, m);
      json(await bitsync(["sync", aud, "--json"]));
      const keys = await keysOf(aud);
      const line = failure(await bitsync(["sync", aud, "--imp-date", "20261231", "--json"]));
      expect(line).toMatch(
        new RegExp(`^bitsync sync: no rows in ${table.name} for audience ${aud} at imp_date 20261231`),
      );
      expect(await info(aud)).toMatchObject({ version: 1, cardinality: m.length });
      expect(await keysOf(aud)).toEqual(keys);
    });

    it("corrupt bitmap bytes, a truncated value, a count the bytes disagree with", async () => {
      const aud = newAudienceId();
      const m = members(1000, 2_000_000, 109);
      await table.put(aud, 20261111, 0, m);
      json(await bitsync(["sync", aud, "--json"]));
      const served = await info(aud);
      const keys = await keysOf(aud);

      const good = starrocksBytes(m);
      const corrupt = Buffer.from(good);
      corrupt.writeUInt16LE(0xffff, 1 + 8); // the first container's key: keys out of order
      await table.put(aud, 20261112, 0, members(1000, 2_000_000, 110));
      await table.put(aud, 20261112, 1, corrupt, m.length);
      let line = failure(await bitsync(["sync", aud, "--json"]));
      expect(line.startsWith(`bitsync sync: audience ${aud}, imp_date 20261112, hash_part 1: `), line).toBe(true);
      expect(line).toContain("the served version is unchanged");

      await table.put(aud, 20261112, 1, good.subarray(0, good.length - 5), m.length);
      line = failure(await bitsync(["sync", aud]));
      expect(line).toMatch(/^bitsync sync: .*hash_part 1: .*truncated/i);

      await table.put(aud, 20261112, 1, m, m.length + 1);
      line = failure(await bitsync(["sync", aud]));
      expect(line).toMatch(/^bitsync sync: .*hash_part 1: decoded 1000 members but the source counts 1001/);

      const after = await info(aud);
      expect(after.version).toBe(1);
      expect(after.retained).toEqual(served.retained);
      expect(after.info).toEqual(served.info);
      // The failures stopped before writing: not one key added, and the lock released.
      expect(await keysOf(aud)).toEqual(keys);
    });

    it("a cardinality drift beyond the guard, until --force", async () => {
      const aud = newAudienceId();
      const drift = { BITSYNC_SYNC_MAX_DRIFT: "0.2" };
      await table.put(aud, 20261111, 0, members(1000, 1_000_000, 111));
      json(await bitsync(["sync", aud, "--json"], drift));
      const keys = await keysOf(aud);
      await table.put(aud, 20261112, 0, members(1300, 1_000_000, 112));
      const line = failure(await bitsync(["sync", aud, "--json"], drift));
      expect(line).toBe(
        `bitsync sync: audience ${aud}: cardinality would change from 1000 to 1300 (30.0%), ` +
          `more than BITSYNC_SYNC_MAX_DRIFT=0.2; check the source, or sync with --force`,
      );
      expect(await info(aud)).toMatchObject({ version: 1, cardinality: 1000 });
      expect(await keysOf(aud)).toEqual(keys);
      // Within the default guard (50%) it goes through; with --force past any guard.
      json(await bitsync(["sync", aud, "--json"]));
      await table.put(aud, 20261113, 0, members(10, 1_000_000, 113));
      failure(await bitsync(["sync", aud], drift));
      const forced = json<SyncJson>(await bitsync(["sync", aud, "--force", "--json"], drift));
      expect(forced).toMatchObject({ version: 3, previous: 2, cardinality: 10 });
      expect(await info(aud)).toMatchObject({ version: 3, cardinality: 10 });
    });

    it("a bad setting fails before touching anything, naming the variable", async () => {
      const aud = newAudienceId();
      await table.put(aud, 20261111, 0, [1, 2, 3]);
      const line = failure(await bitsync(["sync", aud, "--json"], { BITSYNC_SEGMENT_BITS: "99" }));
      expect(line).toBe("bitsync: BITSYNC_SEGMENT_BITS=99 must be an integer in [16, 32]");
      expect(await keysOf(aud)).toEqual([]);
    });

    it("segments of another size than the served version's, until --force", async () => {
      const aud = newAudienceId();
      const m = members(3000, 3_000_000, 115);
      await table.put(aud, 20261111, 0, m);
      json(await bitsync(["sync", aud, "--json"]));
      const keys = await keysOf(aud);
      const line = failure(await bitsync(["sync", aud, "--json"], { BITSYNC_SEGMENT_BITS: "18" }));
      expect(line).toBe(
        `bitsync sync: audience ${aud}: served version uses segments of 2^20, this process 2^18; ` +
          `BITSYNC_SEGMENT_BITS must be the same everywhere (use --force to replace it)`,
      );
      expect(await info(aud)).toMatchObject({ version: 1, cardinality: m.length, info: { segmentBits: 20 } });
      expect(await keysOf(aud)).toEqual(keys);
      const forced = json<SyncJson>(await bitsync(["sync", aud, "--force", "--json"], { BITSYNC_SEGMENT_BITS: "18" }));
      expect(forced).toMatchObject({ version: 2, cardinality: m.length, segments: segmentsOf(m, 18) });
    });
  });

  it("refuses malformed arguments before touching anything", async () => {
    expect(failure(await bitsync(["sync", "abc", "--json"]))).toMatch(
      /^bitsync sync: audience id "abc" is not a BIGINT id/,
    );
    // Option values are checked by commander, which follows its one-line error with the usage.
    const aud = newAudienceId();
    for (const [args, reason] of [
      [
        ["rollback", aud, "--to", "abc"],
        "error: option '--to <version>' argument 'abc' is invalid. abc is not a version number",
      ],
      [
        ["sync", aud, "--imp-date", "2026"],
        "error: option '--imp-date <yyyymmdd>' argument '2026' is invalid. 2026 is not a yyyymmdd date",
      ],
    ] as const) {
      const run = await bitsync([...args]);
      expect(run.code, run.stderr).not.toBe(0);
      expect(run.stdout).toBe("");
      expect(run.stderr.split("\n")[0]).toBe(reason);
    }
    expect(await keysOf(aud)).toEqual([]);
  });

  describe("at the default log level (info)", () => {
    const syncAtInfo = async (): Promise<{ aud: string; run: Run }> => {
      const aud = newAudienceId();
      await table.put(aud, 20261111, 0, [1, 2, 3]);
      return { aud, run: await bitsync(["sync", aud, "--json"], { BITSYNC_LOG_LEVEL: "info" }) };
    };

    it("sync --json ends stdout with the result", async () => {
      const { aud, run } = await syncAtInfo();
      expect(run.code, run.stderr).toBe(0);
      const lines = run.stdout.split("\n").filter((l) => l !== "");
      expect(JSON.parse(lines[lines.length - 1]!)).toMatchObject({ audience: aud, version: 1, cardinality: 3 });
    });

    // Logs go to stderr, so `bitsync sync --json | jq` sees exactly one object.
    it("sync --json prints only the result on stdout", async () => {
      const { run } = await syncAtInfo();
      expect(run.code, run.stderr).toBe(0);
      expect(
        run.stdout.split("\n").filter((l) => l !== ""),
        run.stdout,
      ).toHaveLength(1);
    });
  });
});

describe("bitsync inspect", () => {
  const DOCS_HEX = "023A3000000100000000000300100000000000010002000300"; // bitmap_from_string("0,1,2,3")

  it("--json decodes a StarRocks BITMAP32 value, field by field", async () => {
    const out = json(
      await bitsync(["inspect", "--format", "starrocks", "--hex", DOCS_HEX, "--json"], {}, { plain: true }),
    );
    expect(Object.keys(out).sort()).toEqual(["bits64", "cardinality", "format", "max", "min", "sample", "typeCode"]);
    expect(out.format).toBe("starrocks");
    expect(out.typeCode).toBe(2);
    // 32-bit positions: numbers are JSON numbers, never strings.
    expect(out.bits64).toBe(false);
    expect(out.cardinality).toBe(4);
    expect(out.min).toBe(0);
    expect(out.max).toBe(3);
    expect(out.sample).toEqual([0, 1, 2, 3]);
    expect(out).toEqual({
      format: "starrocks",
      typeCode: 2,
      cardinality: 4,
      min: 0,
      max: 3,
      sample: [0, 1, 2, 3],
      bits64: false,
    });
    // The same bytes as base64 (the docs' bitmap_to_base64 output), lower-case hex with 0x and spaces.
    const b64 = json(
      await bitsync(
        ["inspect", "--format", "starrocks", "--base64", "AjowAAABAAAAAAADABAAAAAAAAEAAgADAA==", "--json"],
        {},
        { plain: true },
      ),
    );
    expect(b64).toEqual(out);
    const spaced = `0x${DOCS_HEX.toLowerCase().slice(0, 10)} ${DOCS_HEX.toLowerCase().slice(10)}`;
    expect(
      json(await bitsync(["inspect", "--format", "starrocks", "--hex", spaced, "--json"], {}, { plain: true })),
    ).toEqual(out);
  });

  it("--json: the sample is the 20 smallest; 64-bit forms give decimal strings; empty gives nulls", async () => {
    const m = members(500, 10_000_000, 114);
    const many = json(
      await bitsync(
        ["inspect", "--format", "starrocks", "--hex", starRocksBitmap(m, true).toString("hex"), "--json"],
        {},
        { plain: true },
      ),
    );
    expect(many).toEqual({
      format: "starrocks",
      typeCode: 2,
      cardinality: 500,
      min: m[0],
      max: m[m.length - 1],
      sample: m.slice(0, 20),
      bits64: false,
    });

    // SINGLE64 (type code 3) holding 2^53 + 1: exact only as a string.
    const single64 = Buffer.alloc(9);
    single64[0] = 3;
    single64.writeBigUInt64LE(2n ** 53n + 1n, 1);
    const big = json(
      await bitsync(
        ["inspect", "--format", "starrocks", "--hex", single64.toString("hex"), "--json"],
        {},
        { plain: true },
      ),
    );
    expect(big).toEqual({
      format: "starrocks",
      typeCode: 3,
      cardinality: "1",
      min: "9007199254740993",
      max: "9007199254740993",
      sample: ["9007199254740993"],
      bits64: true,
    });

    const empty = json(
      await bitsync(["inspect", "--format", "starrocks", "--hex", "00", "--json"], {}, { plain: true }),
    );
    expect(empty).toEqual(emptyInspection("starrocks"));
  });

  it("bad input exits non-zero with one line", async () => {
    const run = (args: string[]) => bitsync(["inspect", ...args], {}, { plain: true });
    expect(failure(await run(["--format", "starrocks", "--hex", "02zz", "--json"]))).toBe(
      "bitsync inspect: --hex is not valid hex (an even number of 0-9, a-f digits)",
    );
    expect(failure(await run(["--format", "starrocks", "--hex", DOCS_HEX.slice(0, -1), "--json"]))).toMatch(
      /^bitsync inspect: --hex is not valid hex/,
    );
    // Valid hex, but the value is cut short.
    expect(failure(await run(["--format", "starrocks", "--hex", DOCS_HEX.slice(0, -8), "--json"]))).toMatch(
      /^bitsync inspect: starrocks bitmap \(type code 2\).*TRUNCATED/,
    );
    expect(failure(await run(["--format", "starrocks", "--base64", "AjowAA*=", "--json"]))).toMatch(
      /^bitsync inspect: --base64 is not valid base64/,
    );
    expect(failure(await run(["--hex", DOCS_HEX, "--json"]))).toMatch(/^bitsync inspect: --format is missing/);
    expect(failure(await run(["--format", "starrocks", "--json"]))).toMatch(
      /^bitsync inspect: give exactly one of --base64, --hex or --file \(none was given\)/,
    );
  });
});

describe("bitsync config", () => {
  it("prints every setting with its effective value, secrets redacted", async () => {
    const run = await bitsync(["config"], { BITSYNC_RETAIN_VERSIONS: "7" });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toBe("");
    const values = new Map<string, string>();
    for (const m of run.stdout.matchAll(/^([A-Z_]+)=(.*)$/gm)) values.set(m[1]!, m[2]!);
    expect([...values.keys()]).toEqual([...SETTINGS.map((s) => s.env), "BITSYNC_CONFIG"]);
    for (const s of SETTINGS) expect(run.stdout).toContain(`    ${s.help} (default ${s.default})`);
    expect(values.get("BITSYNC_RETAIN_VERSIONS")).toBe("7");
    expect(values.get("BITSYNC_SOURCE_TABLE")).toBe(table.name);
    expect(values.get("BITSYNC_SOURCE_DIALECT")).toBe("mysql");
    expect(values.get("BITSYNC_SEGMENT_BITS")).toBe(process.env.BITSYNC_SEGMENT_BITS || "20");
    expect(values.get("REDIS_URL")).toBe(process.env.REDIS_URL);

    const withSecret = await bitsync(["config"], { MYSQL_URL: "mysql://u:s3cret-pw@127.0.0.1:1/db" });
    expect(withSecret.code, withSecret.stderr).toBe(0);
    expect(withSecret.stdout).toContain("MYSQL_URL=mysql://u:***@127.0.0.1:1/db");
    expect(withSecret.stdout).not.toContain("s3cret-pw");
    const withToken = await bitsync(["config"], { BITSYNC_ADMIN_TOKEN: "t0ken-value" });
    expect(withToken.stdout).toContain("BITSYNC_ADMIN_TOKEN=***");
    expect(withToken.stdout).not.toContain("t0ken-value");
  });

  it("a bad value exits non-zero naming the variable", async () => {
    const line = failure(await bitsync(["config"], { BITSYNC_SEGMENT_BITS: "99" }));
    expect(line).toMatch(/^bitsync: /);
    expect(line).toContain("BITSYNC_SEGMENT_BITS=99");
    expect(failure(await bitsync(["config"], { BITSYNC_SOURCE_DIALECT: "oracle" }))).toContain(
      "BITSYNC_SOURCE_DIALECT=oracle",
    );
  });
});

describe("bitsync stack", () => {
  it("env prints the four export lines of the stack the suites use", async () => {
    const run = await bitsync(["stack", "env"], {}, { plain: true });
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(4);
    const names = lines.map((l) => /^export ([A-Z_]+)='[^']*'$/.exec(l)?.[1]);
    expect(names).toEqual(["REDIS_URL", "MYSQL_URL", "KAFKA_BROKERS", "BITSYNC_STACK_CLUSTER_NODES"]);
    const env = stackEnv();
    expect(lines[0]).toBe(`export REDIS_URL='${env.redisUrl}'`);
    expect(lines[1]).toBe(`export MYSQL_URL='${env.mysqlUrl}'`);
    expect(lines[2]).toBe(`export KAFKA_BROKERS='${env.kafkaBrokers.join(",")}'`);
    expect(lines[3]).toBe(`export BITSYNC_STACK_CLUSTER_NODES='${env.redisClusterNodes.join(",")}'`);
  });

  it("an unknown action exits non-zero with one line", async () => {
    const line = failure(await bitsync(["stack", "sideways"], {}, { plain: true }));
    expect(line).toBe('bitsync: unknown stack action "sideways": use up, down, env or status');
  });
});
