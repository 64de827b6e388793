// The bitmap source against the stack's real MariaDB: the mysql dialect on BLOB tables, and the
// starrocks/doris dialects' exact SQL on MariaDB stored functions that emulate StarRocks.
import fc from "fast-check";
import mysql from "mysql2/promise";
import { pino, type Logger } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../orchestrator/errors.js";
import {
  AudienceNotFoundError,
  SourceError,
  SourceInputError,
  SourceQueryError,
} from "../../orchestrator/source/errors.js";
import { createBitmapSource } from "../../orchestrator/source/reader.js";
import { BitmapCore } from "../../orchestrator/wasm/core.js";
import type { BitmapSource, SourceOptions } from "../../orchestrator/source/types.js";
import {
  createBitmapTable,
  createStarRocksDatabase,
  createStarRocksEmulation,
  createTestDatabase,
  starRocksBitmap,
  starRocksSingle,
  type TestDatabase,
} from "../helpers/mariadb.js";
import { arbMembers, fromPortable, portable, range } from "../helpers/roaring.js";
import { uniqueName } from "../helpers/stack.js";

interface Captured {
  log: Logger;
  lines: Array<{ level: number; msg: string } & Record<string, unknown>>;
}

function captureLog(): Captured {
  const lines: Captured["lines"] = [];
  const log = pino({ level: "debug" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { log, lines };
}

const WARN = 40;

const core = BitmapCore.create();

/** Members of a StarRocks code-2 value (or [] for the empty value), fully validated. */
function members(bytes: Uint8Array): number[] {
  if (bytes.length === 1 && bytes[0] === 0) return [];
  expect(bytes[0]).toBe(2);
  // The WASM core checks what roaring-wasm does not: offsets, sizes, trailing bytes.
  core.validate(bytes.subarray(1));
  return fromPortable(bytes.subarray(1));
}

let db: TestDatabase;
const sources: BitmapSource[] = [];

function source(opts: Partial<SourceOptions> & { table: string }, log?: Logger): BitmapSource {
  const s = createBitmapSource({ url: db.url, dialect: "starrocks", ...opts }, log ?? captureLog().log);
  sources.push(s);
  return s;
}

async function insert(
  table: string,
  rows: Array<[id: string | number, date: number, part: number, bmp: Buffer | null, count?: number | null]>,
): Promise<void> {
  for (const r of rows) {
    const values = r.length === 5 ? r : r.slice(0, 4);
    await db.conn.query(`INSERT INTO ${mysql.escapeId(table)} VALUES (?)`, [values]);
  }
}

beforeAll(async () => {
  db = await createStarRocksDatabase();
});

afterAll(async () => {
  await Promise.all(sources.map((s) => s.close()));
  await db?.drop();
});

describe("StarRocks emulation on MariaDB (test helper)", () => {
  async function scalar(sql: string, values: unknown[]): Promise<unknown> {
    const [rows] = await db.conn.query<mysql.RowDataPacket[]>(sql, values);
    return rows[0]!.v;
  }

  it("bitmap_to_base64 gives StarRocks' documented outputs", async () => {
    expect(await scalar("SELECT bitmap_to_base64(?) AS v", [Buffer.from([0])])).toBe("AA==");
    expect(await scalar("SELECT bitmap_to_base64(?) AS v", [starRocksSingle(1)])).toBe("AQEAAAA=");
    // bitmap_to_base64(bitmap_from_string("0, 1, 2, 3")) in the StarRocks docs.
    expect(await scalar("SELECT bitmap_to_base64(?) AS v", [starRocksBitmap([0, 1, 2, 3])])).toBe(
      "AjowAAABAAAAAAADABAAAAAAAAEAAgADAA==",
    );
    expect(await scalar("SELECT bitmap_to_base64(NULL) AS v", [])).toBeNull();
  });

  it("bitmap_count counts type codes 0, 1, 2 (both cookies), 3, 10 and NULL", async () => {
    const count = async (b: Buffer | null) => Number(await scalar("SELECT bitmap_count(?) AS v", [b]));
    expect(await count(null)).toBe(0);
    expect(await count(Buffer.from([0]))).toBe(0);
    expect(await count(starRocksSingle(4294967295))).toBe(1);
    expect(await count(Buffer.from([3, 0, 0, 0, 0, 1, 0, 0, 0]))).toBe(1);
    const set = Buffer.alloc(1 + 4 + 3 * 8);
    set[0] = 10;
    set.writeUInt32LE(3, 1);
    expect(await count(set)).toBe(3);
    await fc.assert(
      fc.asyncProperty(arbMembers(), fc.boolean(), async (m, runs) => {
        expect(await count(starRocksBitmap(m, runs))).toBe(m.length);
      }),
      { numRuns: 30 },
    );
  });

  it("bitmap_subset_in_range keeps the containers of a 65536-aligned range", async () => {
    await fc.assert(
      fc.asyncProperty(
        arbMembers({ maxKey: 40 }),
        fc.boolean(),
        fc.integer({ min: 0, max: 41 }),
        fc.integer({ min: 1, max: 42 }),
        async (m, runs, a, len) => {
          const [s, e] = [a * 65536, (a + len) * 65536];
          const got = (await scalar("SELECT bitmap_subset_in_range(?, ?, ?) AS v", [
            starRocksBitmap(m, runs),
            s,
            e,
          ])) as Buffer | null;
          const want = m.filter((x) => x >= s && x < e);
          if (want.length === 0) expect(got).toBeNull();
          else expect(members(got!)).toEqual(want);
        },
      ),
      { numRuns: 40 },
    );
    // Run containers with and without the offset header (m >= 4 and m < 4 containers kept).
    const ten = range(0, 9).flatMap((k) => range(k * 65536, k * 65536 + 300 + k));
    for (const [a, b] of [
      [1, 8],
      [2, 4],
      [9, 10],
    ] as const) {
      const got = await scalar("SELECT bitmap_subset_in_range(?, ?, ?) AS v", [
        starRocksBitmap(ten, true),
        a * 65536,
        b * 65536,
      ]);
      expect(members(got as Buffer)).toEqual(ten.filter((x) => x >= a * 65536 && x < b * 65536));
    }
    await expect(scalar("SELECT bitmap_subset_in_range(?, 1, 5) AS v", [starRocksBitmap([1, 2])])).rejects.toThrow(
      /65536 boundaries/,
    );
  });
});

describe("starrocks dialect (SQL run on the MariaDB emulation)", () => {
  it("reads one row: the base64 decoded to the stored bytes, and bitmap_count", async () => {
    const table = uniqueName("bmp");
    await createBitmapTable(db.conn, table);
    const bytes = starRocksBitmap([3, 70000, 4294967295], true);
    await insert(table, [["42", 20261122, 0, bytes]]);
    // A column given as undefined keeps its default name.
    const snap = await source({ table, columns: { bitmap: undefined } }).read("42", 20261122);
    expect(snap).toEqual({
      audienceId: "42",
      impDate: 20261122,
      rows: [{ hashPart: 0, bytes: expect.anything(), count: 3 }],
    });
    expect(Buffer.from(snap.rows[0]!.bytes).equals(bytes)).toBe(true);
  });

  it("returns every hash_part row of the audience, ordered by hash_part", async () => {
    const table = uniqueName("bmp");
    await createBitmapTable(db.conn, table);
    await insert(table, [
      ["7", 20261122, 2, starRocksBitmap([200, 201])],
      ["7", 20261122, 0, starRocksBitmap([1])],
      ["7", 20261122, 1, starRocksSingle(100)],
      ["8", 20261122, 3, starRocksBitmap([5])],
      ["7", 20261121, 4, starRocksBitmap([9])],
    ]);
    const snap = await source({ table }).read("7", 20261122);
    expect(snap.rows.map((r) => [r.hashPart, r.count])).toEqual([
      [0, 1],
      [1, 1],
      [2, 2],
    ]);
    expect(members(snap.rows[2]!.bytes)).toEqual([200, 201]);
  });

  it("uses the latest imp_date when none is given, and an explicit one when given", async () => {
    const table = uniqueName("bmp");
    await createBitmapTable(db.conn, table);
    await insert(table, [
      ["9", 20261120, 0, starRocksBitmap([1])],
      ["9", 20261122, 0, starRocksBitmap([2, 3])],
      ["9", 20261121, 0, starRocksBitmap([4, 5, 6])],
      ["10", 20261130, 0, starRocksBitmap([7])],
    ]);
    const s = source({ table });
    expect(await s.latestImpDate("9")).toBe(20261122);
    expect(await s.latestImpDate("11")).toBeUndefined();
    const latest = await s.read("9");
    expect(latest.impDate).toBe(20261122);
    expect(members(latest.rows[0]!.bytes)).toEqual([2, 3]);
    const explicit = await s.read("9", 20261120);
    expect(explicit.impDate).toBe(20261120);
    expect(members(explicit.rows[0]!.bytes)).toEqual([1]);
  });

  it("throws AudienceNotFoundError naming table, audience and date", async () => {
    const table = uniqueName("bmp");
    await createBitmapTable(db.conn, table);
    await insert(table, [["9", 20261120, 0, starRocksBitmap([1])]]);
    const s = source({ table });
    const noAudience = await s.read("404").catch((e: unknown) => e);
    expect(noAudience).toBeInstanceOf(AudienceNotFoundError);
    expect((noAudience as Error).message).toContain(`no rows in ${table} for audience 404 at any imp_date`);
    expect((noAudience as SourceError).retriable).toBe(false);
    const noDate = await s.read("9", 20261121).catch((e: unknown) => e);
    expect(noDate).toBeInstanceOf(AudienceNotFoundError);
    expect((noDate as Error).message).toContain(`no rows in ${table} for audience 9 at imp_date 20261121`);
  });

  it("reads a NULL bitmap as the empty value [0x00], count 0, and logs a warning", async () => {
    const table = uniqueName("bmp");
    await createBitmapTable(db.conn, table);
    await insert(table, [
      ["5", 20261122, 0, null],
      ["5", 20261122, 1, starRocksBitmap([8])],
    ]);
    const cap = captureLog();
    const snap = await source({ table }, cap.log).read("5");
    expect(snap.rows[0]).toEqual({ hashPart: 0, bytes: Uint8Array.of(0), count: 0 });
    expect(snap.rows[1]!.count).toBe(1);
    const warn = cap.lines.find((l) => l.level === WARN);
    expect(warn?.msg).toMatch(/NULL bitmap/);
    expect(warn).toMatchObject({ audienceId: "5", impDate: 20261122, hashPart: 0, table });
  });

  it("takes table and column names from options, including database.table", async () => {
    const table = uniqueName("custom");
    const cols = { audience: "gid", impDate: "dt", hashPart: "part", bitmap: "payload" };
    await createBitmapTable(db.conn, table, cols);
    await insert(table, [["123", 20261122, 3, starRocksBitmap([11, 12])]]);
    const s = source({ table: `${db.name}.${table}`, columns: cols });
    const snap = await s.read("123");
    expect(snap.rows).toHaveLength(1);
    expect(snap.rows[0]!.hashPart).toBe(3);
    expect(members(snap.rows[0]!.bytes)).toEqual([11, 12]);
  });

  it("keeps BIGINT audience ids exact beyond 2^53, and canonicalizes leading zeros", async () => {
    const table = uniqueName("bmp");
    await createBitmapTable(db.conn, table);
    await insert(table, [
      ["9007199254740993", 20261122, 0, starRocksBitmap([1])],
      ["9007199254740992", 20261122, 0, starRocksBitmap([2])],
      ["9223372036854775807", 20261122, 0, starRocksBitmap([3])],
    ]);
    const s = source({ table });
    expect(members((await s.read("9007199254740993")).rows[0]!.bytes)).toEqual([1]);
    expect(members((await s.read("9223372036854775807")).rows[0]!.bytes)).toEqual([3]);
    expect((await s.read("0009007199254740992")).audienceId).toBe("9007199254740992");
  });

  it("rejects injection attempts in audience ids, table and column names", async () => {
    const table = uniqueName("bmp");
    await createBitmapTable(db.conn, table);
    await insert(table, [["1", 20261122, 0, starRocksBitmap([1])]]);
    const s = source({ table });
    for (const bad of [
      "1 OR 1=1",
      "1; DROP TABLE x",
      "1'--",
      "-1",
      "",
      "12345678901234567890",
      "9223372036854775808",
    ]) {
      await expect(s.read(bad), bad).rejects.toBeInstanceOf(SourceInputError);
      await expect(s.latestImpDate(bad), bad).rejects.toBeInstanceOf(SourceInputError);
    }
    await expect(s.read("1", 20261122.5)).rejects.toBeInstanceOf(SourceInputError);
    for (const badTable of [`${table}; DROP TABLE ${table}`, "a`b", "a.b.c", "1abc", "t -- x"]) {
      expect(() => createBitmapSource({ url: db.url, dialect: "starrocks", table: badTable }), badTable).toThrow(
        ConfigError,
      );
    }
    expect(() =>
      createBitmapSource({ url: db.url, dialect: "starrocks", table, columns: { bitmap: "bmp) FROM x --" } }),
    ).toThrow(/BITSYNC_SOURCE_BITMAP_COLUMN/);
    // Nothing was dropped.
    expect((await s.read("1")).rows).toHaveLength(1);
  });

  it("tolerates the line breaks MariaDB's TO_BASE64 inserts", async () => {
    const nl = await createTestDatabase();
    try {
      await createStarRocksEmulation(nl.conn, { base64Newlines: true });
      await createBitmapTable(nl.conn, "bmp");
      const bytes = starRocksBitmap(range(0, 199).map((x) => x * 3));
      await nl.conn.query("INSERT INTO bmp VALUES (?, ?, ?, ?)", ["1", 20261122, 0, bytes]);
      const [raw] = await nl.conn.query<mysql.RowDataPacket[]>("SELECT bitmap_to_base64(bmp) AS b FROM bmp");
      expect(raw[0]!.b).toContain("\n");
      const s = createBitmapSource({ url: nl.url, dialect: "starrocks", table: "bmp" }, captureLog().log);
      try {
        const snap = await s.read("1");
        expect(Buffer.from(snap.rows[0]!.bytes).equals(bytes)).toBe(true);
        expect(snap.rows[0]!.count).toBe(200);
      } finally {
        await s.close();
      }
    } finally {
      await nl.drop();
    }
  });

  it("rejects invalid base64 with SourceQueryError", async () => {
    const bad = await createTestDatabase();
    try {
      await createStarRocksEmulation(bad.conn);
      await bad.conn.query("DROP FUNCTION bitmap_to_base64");
      await bad.conn.query(
        "CREATE FUNCTION bitmap_to_base64(b LONGBLOB) RETURNS LONGTEXT DETERMINISTIC NO SQL RETURN 'AjowA*AA!='",
      );
      await createBitmapTable(bad.conn, "bmp");
      await bad.conn.query("INSERT INTO bmp VALUES (?, ?, ?, ?)", ["1", 20261122, 0, starRocksBitmap([1])]);
      const s = createBitmapSource({ url: bad.url, dialect: "starrocks", table: "bmp" }, captureLog().log);
      try {
        const err = await s.read("1").catch((e: unknown) => e);
        expect(err).toBeInstanceOf(SourceQueryError);
        expect((err as Error).message).toMatch(/bmp audience 1 imp_date 20261122 hash_part 0: .*invalid base64/);
      } finally {
        await s.close();
      }
    } finally {
      await bad.drop();
    }
  });

  it("names the missing function and the versions that have it", async () => {
    const plain = await createTestDatabase();
    try {
      await createBitmapTable(plain.conn, "bmp");
      await plain.conn.query("INSERT INTO bmp VALUES (?, ?, ?, ?)", ["1", 20261122, 0, starRocksBitmap([1])]);
      const s = createBitmapSource({ url: plain.url, dialect: "starrocks", table: "bmp" }, captureLog().log);
      try {
        const err = await s.read("1").catch((e: unknown) => e);
        expect(err).toBeInstanceOf(SourceQueryError);
        expect((err as Error).message).toMatch(/bitmap_to_base64 \(StarRocks >= 2\.5\)/);
      } finally {
        await s.close();
      }
    } finally {
      await plain.drop();
    }
  });

  it("reports a missing table as a non-retriable SourceQueryError", async () => {
    const err = await source({ table: uniqueName("missing") })
      .read("1", 20261122)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SourceQueryError);
    expect((err as SourceError).retriable).toBe(false);
    expect((err as Error).message).toMatch(/BITSYNC_SOURCE_TABLE/);
  });

  it("the doris dialect runs the same SQL", async () => {
    const table = uniqueName("bmp");
    await createBitmapTable(db.conn, table);
    await insert(table, [["3", 20261122, 0, starRocksBitmap([5, 6, 7])]]);
    const snap = await source({ table, dialect: "doris" }).read("3");
    expect(snap.rows[0]!.count).toBe(3);
    expect(members(snap.rows[0]!.bytes)).toEqual([5, 6, 7]);
  });
});

describe("readRange (bitmap_subset_in_range)", () => {
  const spread = [
    ...range(0, 99),
    ...range(65536, 65536 + 5000),
    ...range(2 * 65536, 2 * 65536 + 70),
    5 * 65536 + 1,
    6 * 65536 + 2,
    40 * 65536 + 3,
  ];

  it("returns the members in [start, end) of every part, counted", async () => {
    const table = uniqueName("bmp");
    await createBitmapTable(db.conn, table);
    await insert(table, [
      ["4", 20261122, 1, starRocksBitmap(spread, true)],
      ["4", 20261122, 0, starRocksBitmap(spread, false)],
      ["4", 20261122, 2, starRocksBitmap([65536 + 1, 7 * 65536], true)],
    ]);
    const cap = captureLog();
    const s = source({ table }, cap.log);
    const [start, end] = [65536, 6 * 65536];
    const rows = await s.readRange("4", 20261122, start, BigInt(end));
    const want = spread.filter((x) => x >= start && x < end);
    expect(rows.map((r) => [r.hashPart, r.count])).toEqual([
      [0, want.length],
      [1, want.length],
      [2, 1],
    ]);
    expect(members(rows[0]!.bytes)).toEqual(want);
    expect(members(rows[1]!.bytes)).toEqual(want);
    expect(members(rows[2]!.bytes)).toEqual([65536 + 1]);

    // Chunked: the ranges of a chunk walk reassemble the whole bitmap.
    const all: number[] = [];
    for (let k = 0; k < 41; k++) {
      const [part0] = await s.readRange("4", 20261122, k * 65536, (k + 1) * 65536);
      all.push(...members(part0!.bytes));
    }
    expect(all).toEqual(spread);
    expect(cap.lines.some((l) => l.level >= WARN)).toBe(false);
  });

  it("reads an empty range as [0x00] with count 0, beyond 2^32 too", async () => {
    const table = uniqueName("bmp");
    await createBitmapTable(db.conn, table);
    await insert(table, [["4", 20261122, 0, starRocksBitmap([1, 2], true)]]);
    const s = source({ table });
    expect(await s.readRange("4", 20261122, 65536, 131072)).toEqual([
      { hashPart: 0, bytes: Uint8Array.of(0), count: 0 },
    ]);
    expect(await s.readRange("4", 20261122, 2n ** 32n, 2n ** 33n)).toEqual([
      { hashPart: 0, bytes: Uint8Array.of(0), count: 0 },
    ]);
  });

  it("validates its arguments and reports a missing audience", async () => {
    const table = uniqueName("bmp");
    await createBitmapTable(db.conn, table);
    await insert(table, [["4", 20261122, 0, starRocksBitmap([1])]]);
    const s = source({ table });
    await expect(s.readRange("4", 20261122, 10, 10)).rejects.toBeInstanceOf(SourceInputError);
    await expect(s.readRange("4", 20261122, -65536, 0)).rejects.toBeInstanceOf(SourceInputError);
    await expect(s.readRange("4", 20261122, 0, 2 ** 60)).rejects.toThrow(/bigint/);
    await expect(s.readRange("4", 20261122, 0, 2n ** 63n)).rejects.toBeInstanceOf(SourceInputError);
    await expect(s.readRange("4 OR 1", 20261122, 0, 65536)).rejects.toBeInstanceOf(SourceInputError);
    await expect(s.readRange("5", 20261122, 0, 65536)).rejects.toBeInstanceOf(AudienceNotFoundError);
  });
});

describe("mysql dialect (raw BLOB column)", () => {
  it("returns the stored bytes unchanged, count null without a count column", async () => {
    const table = uniqueName("raw");
    await createBitmapTable(db.conn, table);
    const a = starRocksBitmap([1, 2, 3], true);
    const b = starRocksSingle(77);
    await insert(table, [
      ["6", 20261122, 1, b],
      ["6", 20261122, 0, a],
    ]);
    const snap = await source({ table, dialect: "mysql" }).read("6");
    expect(snap.rows.map((r) => [r.hashPart, Buffer.from(r.bytes).toString("hex"), r.count])).toEqual([
      [0, a.toString("hex"), null],
      [1, b.toString("hex"), null],
    ]);
  });

  it("returns the count column when configured, and reads NULL as the empty value", async () => {
    const table = uniqueName("raw");
    await createBitmapTable(db.conn, table, { count: "cardinality" });
    await insert(table, [
      ["6", 20261122, 0, starRocksBitmap([1, 2, 3]), 3],
      ["6", 20261122, 1, null, 0],
      ["6", 20261122, 2, starRocksSingle(5), null],
    ]);
    const cap = captureLog();
    const snap = await source({ table, dialect: "mysql", countColumn: "cardinality" }, cap.log).read("6", 20261122);
    expect(snap.rows.map((r) => [r.hashPart, r.count])).toEqual([
      [0, 3],
      [1, 0],
      [2, null],
    ]);
    expect(snap.rows[1]!.bytes).toEqual(Uint8Array.of(0));
    expect(cap.lines.filter((l) => l.level === WARN)).toHaveLength(1);
  });

  it("reads NULL as the empty value of the configured format", async () => {
    const table = uniqueName("raw");
    await createBitmapTable(db.conn, table);
    const blob = Buffer.from(portable([4, 5], true));
    await insert(table, [
      ["6", 20261122, 0, blob],
      ["6", 20261122, 1, null],
    ]);
    const snap = await source({ table, dialect: "mysql", format: "portable" }).read("6");
    expect(Buffer.from(snap.rows[0]!.bytes).equals(blob)).toBe(true);
    expect(Buffer.from(snap.rows[1]!.bytes).toString("hex")).toBe("3a30000000000000");
  });

  it("refuses readRange, and a count column on the starrocks dialect", async () => {
    const table = uniqueName("raw");
    await createBitmapTable(db.conn, table);
    await expect(source({ table, dialect: "mysql" }).readRange("1", 20261122, 0, 65536)).rejects.toThrow(
      /not supported by the mysql dialect/,
    );
    expect(() => createBitmapSource({ url: db.url, dialect: "starrocks", table, countColumn: "c" })).toThrow(
      ConfigError,
    );
  });
});

describe("connection problems", () => {
  it("a refused connection is a retriable SourceError", async () => {
    const s = createBitmapSource(
      { url: "mysql://bitsync:bitsync@127.0.0.1:1/bitsync", dialect: "starrocks" },
      captureLog().log,
    );
    try {
      const err = await s.read("1", 20261122).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SourceError);
      expect((err as SourceError).retriable).toBe(true);
      expect((err as Error).message).toMatch(/ECONNREFUSED/);
    } finally {
      await s.close();
    }
  });

  it("a closed source refuses reads, and close() is idempotent", async () => {
    const s = createBitmapSource({ url: db.url, dialect: "starrocks", table: "x" }, captureLog().log);
    await s.close();
    await s.close();
    await expect(s.read("1", 20261122)).rejects.toThrow(/closed/);
  });
});
