// The bitmap source's pure parts: SQL per dialect, identifier and input checks, base64, chunk
// ranges, row conversion and error classification. No server needed.
import mysql from "mysql2/promise";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../orchestrator/errors.js";
import { SourceError, SourceInputError, SourceQueryError, sourceErrorFrom } from "../../orchestrator/source/errors.js";
import { createBitmapSource } from "../../orchestrator/source/reader.js";
import { decodeBitmap } from "../../orchestrator/source/decode/decode.js";
import { BITMAP_FORMATS } from "../../orchestrator/source/decode/types.js";
import { decodeBase64, emptyBitmapBytes, toSourceRow, type RowContext } from "../../orchestrator/source/rows.js";
import { BitmapCore } from "../../orchestrator/wasm/core.js";
import { buildStatements, quoteIdentifier } from "../../orchestrator/source/sql.js";
import { DEFAULT_SOURCE_COLUMNS, type SourceDialect } from "../../orchestrator/source/types.js";
import {
  checkAudienceId,
  checkChunkBits,
  checkImpDate,
  checkRange,
  chunkRanges,
} from "../../orchestrator/source/validate.js";

const spec = (dialect: SourceDialect, countColumn?: string) => ({
  dialect,
  table: "user_group_bmp",
  columns: { ...DEFAULT_SOURCE_COLUMNS },
  countColumn,
});

describe("SQL per dialect", () => {
  it("starrocks and doris: base64 + bitmap_count, subset in a derived table", () => {
    const sr = buildStatements(spec("starrocks"));
    expect(sr.latest).toBe("SELECT MAX(`imp_date`) AS d FROM `user_group_bmp` WHERE `user_group_id` = ?");
    expect(sr.read).toBe(
      "SELECT `hash_part` AS hp, bitmap_to_base64(`bmp`) AS b64, bitmap_count(`bmp`) AS cnt FROM `user_group_bmp` " +
        "WHERE `user_group_id` = ? AND `imp_date` = ? ORDER BY `hash_part`",
    );
    expect(sr.range).toBe(
      "SELECT hp, bitmap_to_base64(sub) AS b64, bitmap_count(sub) AS cnt FROM (SELECT `hash_part` AS hp, " +
        "bitmap_subset_in_range(`bmp`, ?, ?) AS sub FROM `user_group_bmp` WHERE `user_group_id` = ? AND " +
        "`imp_date` = ?) AS r ORDER BY hp",
    );
    expect(buildStatements(spec("doris"))).toEqual(sr);
  });

  it("mysql: the raw column, plus the count column when configured; no range statement", () => {
    expect(buildStatements(spec("mysql")).read).toBe(
      "SELECT `hash_part` AS hp, `bmp` AS bin FROM `user_group_bmp` WHERE `user_group_id` = ? AND `imp_date` = ? " +
        "ORDER BY `hash_part`",
    );
    const withCount = buildStatements(spec("mysql", "card"));
    expect(withCount.read).toContain("`bmp` AS bin, `card` AS cnt FROM");
    expect(withCount.range).toBeUndefined();
    expect(() => buildStatements(spec("starrocks", "card"))).toThrow(/mysql dialect only/);
    expect(() => buildStatements(spec("mysql", "t.card"))).toThrow(ConfigError);
  });

  it("ids and range bounds render as exact bare integer literals", () => {
    const sr = buildStatements(spec("starrocks"));
    const sql = mysql.format(sr.range!, [2n ** 32n, 2n ** 33n, 9223372036854775807n, 20261122]);
    expect(sql).toContain("bitmap_subset_in_range(`bmp`, 4294967296, 8589934592)");
    expect(sql).toContain("`user_group_id` = 9223372036854775807 AND `imp_date` = 20261122");
  });

  it("quotes plain identifiers and rejects everything else", () => {
    expect(quoteIdentifier("db_1.user_group_bmp", "X")).toBe("`db_1`.`user_group_bmp`");
    expect(() => quoteIdentifier(undefined as unknown as string, "X")).toThrow(ConfigError);
    for (const bad of ["", "a b", "a`b", "a.b.c", "1a", "a;b", "a--", "`a`", "a.", "é"]) {
      expect(() => quoteIdentifier(bad, "BITSYNC_SOURCE_TABLE"), bad).toThrow(ConfigError);
    }
    expect(() => quoteIdentifier("a;b", "BITSYNC_SOURCE_TABLE")).toThrow(/BITSYNC_SOURCE_TABLE="a;b"/);
  });
});

describe("input checks", () => {
  it("audience ids: 1..19 digits within BIGINT, canonical form", () => {
    expect(checkAudienceId("42")).toBe("42");
    expect(checkAudienceId("0042")).toBe("42");
    expect(checkAudienceId("9223372036854775807")).toBe("9223372036854775807");
    for (const bad of ["", "-1", "1.0", "1e3", " 1", "1 ", "0x10", "9223372036854775808", "12345678901234567890"]) {
      expect(() => checkAudienceId(bad), bad).toThrow(SourceInputError);
    }
    expect(() => checkAudienceId(42 as unknown as string)).toThrow(SourceInputError);
  });

  it("imp_date: yyyymmdd", () => {
    expect(checkImpDate(20261122)).toBe(20261122);
    for (const bad of [2026112, 20261322, 20261100, 20261132, 202611220, 20261122.5, Number.NaN]) {
      expect(() => checkImpDate(bad), String(bad)).toThrow(SourceInputError);
    }
  });

  it("ranges: non-empty, within [0, 2^63-1], numbers only while safe", () => {
    expect(checkRange(0, 65536)).toEqual([0n, 65536n]);
    expect(checkRange(2n ** 40n, 2n ** 63n - 1n)).toEqual([2n ** 40n, 2n ** 63n - 1n]);
    for (const [s, e] of [
      [5, 5],
      [6, 5],
      [-1, 5],
      [0, 2n ** 63n],
      [0, 2 ** 60],
      [0.5, 2],
    ] as const) {
      expect(() => checkRange(s, e), `${s},${e}`).toThrow(SourceInputError);
    }
  });

  it("chunk ranges follow 2^bits boundaries and clip to [from, to)", () => {
    const M = 1n << 20n;
    expect([...chunkRanges(20, 0n, 3n * M + 5n)]).toEqual([
      [0n, M],
      [M, 2n * M],
      [2n * M, 3n * M],
      [3n * M, 3n * M + 5n],
    ]);
    expect([...chunkRanges(20, M + 7n, 2n * M + 1n)]).toEqual([
      [M + 7n, 2n * M],
      [2n * M, 2n * M + 1n],
    ]);
    expect([...chunkRanges(16, 5n, 5n)]).toEqual([]);
    expect(() => chunkRanges(20, 5n, 4n)).toThrow(SourceInputError);
    expect(() => checkChunkBits(15)).toThrow(/BITSYNC_SOURCE_CHUNK_BITS/);
    expect(() => checkChunkBits(33)).toThrow(ConfigError);
  });
});

describe("base64", () => {
  it("decodes standard base64, ignoring whitespace", () => {
    expect(decodeBase64("AA==")).toEqual(Buffer.from([0]));
    expect(decodeBase64("AQEAAAA=")).toEqual(Buffer.from([1, 1, 0, 0, 0]));
    expect(decodeBase64("AQEAAAA")).toEqual(Buffer.from([1, 1, 0, 0, 0]));
    const bytes = Buffer.from(Array.from({ length: 200 }, (_, i) => (i * 37) & 255));
    const wrapped = bytes.toString("base64").replace(/(.{76})/g, "$1\n");
    expect(wrapped).toContain("\n");
    expect(decodeBase64(wrapped)).toEqual(bytes);
    expect(decodeBase64(` ${wrapped.replace(/\n/g, "\r\n")}\t\n`)).toEqual(bytes);
  });

  it("rejects what is not base64", () => {
    for (const bad of ["A", "AA=", "A===", "AA=A", "AA==AA==", "@@@@", "AQEA-AA=", "AQEA_AA=", "AQEAAAA=="]) {
      expect(decodeBase64(bad), bad).toBeUndefined();
    }
  });
});

describe("row conversion", () => {
  const log = pino({ level: "silent" });
  const ctx = (dialect: SourceDialect): RowContext => ({
    dialect,
    format: dialect === "mysql" ? "starrocks" : dialect,
    table: "t",
    audienceId: "1",
    impDate: 20261122,
    log,
  });

  it("reads NULL as the empty value of each serialized form, which decodes to no member", () => {
    const core = BitmapCore.create();
    for (const format of BITMAP_FORMATS) {
      const row = toSourceRow({ hp: 0, bin: null, cnt: null }, { ...ctx("mysql"), format });
      expect(row.bytes).toEqual(emptyBitmapBytes(format));
      expect(decodeBitmap(core, format, row.bytes).parts, format).toEqual([]);
    }
    expect(toSourceRow({ hp: 0, b64: null, cnt: "0" }, ctx("doris")).bytes).toEqual(Uint8Array.of(0));
  });

  it("reads BIGINT counts sent as strings, and base64 typed as binary", () => {
    expect(toSourceRow({ hp: 3, b64: "AA==", cnt: "0" }, ctx("starrocks"))).toEqual({
      hashPart: 3,
      bytes: Buffer.from([0]),
      count: 0,
    });
    expect(toSourceRow({ hp: "4", b64: Buffer.from("AQEAAAA="), cnt: "1" }, ctx("doris")).bytes).toEqual(
      Buffer.from([1, 1, 0, 0, 0]),
    );
    expect(toSourceRow({ hp: 0, bin: Buffer.from([0]), cnt: 12345678901234n }, ctx("mysql")).count).toBe(
      12345678901234,
    );
  });

  it("names the row when a value is unusable", () => {
    const bad: Array<[SourceDialect, Record<string, unknown>, RegExp]> = [
      ["starrocks", { hp: null, b64: "AA==", cnt: "0" }, /hash_part null is not an integer/],
      ["starrocks", { hp: 1, b64: "AA==", cnt: "99999999999999999999" }, /hash_part 1: count 99999999999999999999/],
      ["starrocks", { hp: 1, b64: "AA==", cnt: "-1" }, /count -1 is not a cardinality/],
      ["starrocks", { hp: 1, b64: "", cnt: "0" }, /0 bytes/],
      ["starrocks", { hp: 1, b64: 5, cnt: "0" }, /unexpected bitmap value of type number/],
      ["mysql", { hp: 1, bin: "AA==" }, /holds text/],
      ["mysql", { hp: 1, bin: Buffer.alloc(0) }, /0 bytes/],
    ];
    for (const [dialect, row, msg] of bad) {
      expect(() => toSourceRow(row, ctx(dialect))).toThrow(SourceQueryError);
      expect(() => toSourceRow(row, ctx(dialect))).toThrow(msg);
    }
  });
});

describe("error classification", () => {
  const ctx = {
    dialect: "starrocks" as const,
    table: "user_group_bmp",
    what: "reading audience 1 at imp_date 20261122",
  };
  const driver = (props: Record<string, unknown>) => Object.assign(new Error(String(props.message ?? "x")), props);

  it("connection failures are retriable; bad credentials are not", () => {
    for (const code of ["ECONNREFUSED", "ECONNRESET", "PROTOCOL_CONNECTION_LOST", "ER_CON_COUNT_ERROR"]) {
      const e = sourceErrorFrom(driver({ code, message: "boom" }), ctx);
      expect(e.constructor).toBe(SourceError);
      expect(e.retriable, code).toBe(true);
      expect(e.message).toContain("reading audience 1 at imp_date 20261122 (starrocks source, table user_group_bmp)");
    }
    expect(sourceErrorFrom(driver({ fatal: true, message: "socket hang up" }), ctx).retriable).toBe(true);
    const denied = sourceErrorFrom(driver({ code: "ER_ACCESS_DENIED_ERROR", sqlMessage: "Access denied" }), ctx);
    expect(denied.retriable).toBe(false);
    expect(denied.message).toMatch(/MYSQL_URL/);
  });

  it("query errors say what to check", () => {
    const fn = sourceErrorFrom(
      driver({ code: "ER_UNKNOWN_ERROR", sqlMessage: "No matching function with signature: bitmap_subset_in_range" }),
      ctx,
    );
    expect(fn).toBeInstanceOf(SourceQueryError);
    expect(fn.message).toMatch(/StarRocks >= 3\.1/);
    const doris = sourceErrorFrom(driver({ sqlMessage: "errCode = 2, detailMessage = Unknown table 'x'" }), {
      ...ctx,
      dialect: "doris",
    });
    expect(doris).toBeInstanceOf(SourceQueryError);
    expect(doris.message).toMatch(/BITSYNC_SOURCE_TABLE/);
    expect(sourceErrorFrom(driver({ code: "ER_BAD_FIELD_ERROR", sqlMessage: "Unknown column" }), ctx).message).toMatch(
      /BITSYNC_SOURCE_\*_COLUMN/,
    );
    const already = new SourceInputError("x");
    expect(sourceErrorFrom(already, ctx)).toBe(already);
  });
});

describe("createBitmapSource options", () => {
  const url = "mysql://u:p@127.0.0.1:9030/db";

  it("rejects settings that cannot work, before connecting", () => {
    expect(() => createBitmapSource({ url, dialect: "clickhouse" as SourceDialect })).toThrow(/BITSYNC_SOURCE_DIALECT/);
    expect(() => createBitmapSource({ url: "http://x", dialect: "starrocks" })).toThrow(ConfigError);
    expect(() => createBitmapSource({ url: "not a url", dialect: "starrocks" })).toThrow(ConfigError);
    expect(() => createBitmapSource({ url, dialect: "starrocks", chunkBits: 12 })).toThrow(ConfigError);
    expect(() => createBitmapSource({ url, dialect: "starrocks", queryTimeoutMs: 0 })).toThrow(ConfigError);
    expect(() => createBitmapSource({ url, dialect: "starrocks", format: "portable" })).toThrow(
      /BITSYNC_SOURCE_FORMAT/,
    );
    expect(() => createBitmapSource({ url, dialect: "mysql", format: "roaring" as "portable" })).toThrow(ConfigError);
  });

  it("defaults chunkBits to the segment size", async () => {
    const s = createBitmapSource({ url, dialect: "doris" }, pino({ level: "silent" }));
    expect(s.chunkBits).toBe(20);
    expect(s.dialect).toBe("doris");
    await s.close();
  });
});
