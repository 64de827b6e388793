// The SQL each dialect runs. Identifiers come from configuration: they are checked against a plain
// identifier pattern and backtick-quoted, once, at construction. Values are always `?` parameters.
//
// Parameters are sent through mysql2's `query` (client-side escaping, text protocol), not
// `execute`: StarRocks before 3.2 has no server-side prepared statements, and Doris only with
// enable_server_side_prepared_statement. Ids and range bounds are passed as bigint, which mysql2
// writes as a bare integer literal: exact (never a JS number), and never a quoted string that the
// server would compare with a BIGINT column as DOUBLE. (CAST(? AS BIGINT) is not portable:
// MySQL/MariaDB spell it SIGNED.)
import mysql from "mysql2/promise";
import { ConfigError } from "../errors.js";
import type { SourceColumns, SourceDialect } from "./types.js";

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/;

/** `name` backtick-quoted (`db`.`table`), or ConfigError naming the setting. */
export function quoteIdentifier(name: string, setting: string): string {
  if (typeof name !== "string" || !IDENTIFIER.test(name)) {
    throw new ConfigError(
      `${setting}=${JSON.stringify(name)} is not a plain identifier: use letters, digits and _ ` +
        `(a table may be database.table)`,
    );
  }
  return mysql.escapeId(name);
}

export interface SourceStatements {
  /** Values: [audienceId: bigint]. Returns one row, `d` (NULL when the audience has no rows). */
  latest: string;
  /** Values: [audienceId: bigint, impDate]. Returns `hp` and `b64` + `cnt` (starrocks/doris) or `bin` [+ `cnt`] (mysql). */
  read: string;
  /** Values: [start: bigint, end: bigint, audienceId: bigint, impDate]. Undefined for the mysql dialect. */
  range: string | undefined;
}

export interface StatementSpec {
  dialect: SourceDialect;
  table: string;
  columns: SourceColumns;
  countColumn: string | undefined;
}

export function buildStatements(spec: StatementSpec): SourceStatements {
  const t = quoteIdentifier(spec.table, "BITSYNC_SOURCE_TABLE");
  const aud = quoteIdentifier(spec.columns.audience, "BITSYNC_SOURCE_AUDIENCE_COLUMN");
  const date = quoteIdentifier(spec.columns.impDate, "BITSYNC_SOURCE_DATE_COLUMN");
  const part = quoteIdentifier(spec.columns.hashPart, "BITSYNC_SOURCE_PART_COLUMN");
  const bmp = quoteIdentifier(spec.columns.bitmap, "BITSYNC_SOURCE_BITMAP_COLUMN");
  const where = `${aud} = ? AND ${date} = ?`;
  const latest = `SELECT MAX(${date}) AS d FROM ${t} WHERE ${aud} = ?`;

  if (spec.dialect === "mysql") {
    if (spec.countColumn !== undefined && spec.countColumn.includes(".")) {
      throw new ConfigError(`BITSYNC_SOURCE_COUNT_COLUMN=${JSON.stringify(spec.countColumn)} must be a column name`);
    }
    const cnt =
      spec.countColumn === undefined
        ? ""
        : `, ${quoteIdentifier(spec.countColumn, "BITSYNC_SOURCE_COUNT_COLUMN")} AS cnt`;
    return {
      latest,
      read: `SELECT ${part} AS hp, ${bmp} AS bin${cnt} FROM ${t} WHERE ${where} ORDER BY ${part}`,
      range: undefined,
    };
  }
  if (spec.countColumn !== undefined) {
    throw new ConfigError(
      `BITSYNC_SOURCE_COUNT_COLUMN is for the mysql dialect only; ${spec.dialect} counts with bitmap_count`,
    );
  }
  // StarRocks and Doris share these function names (bitmap_to_base64: StarRocks >= 2.5, Doris
  // 2.1 / late 2.0.x; bitmap_subset_in_range: StarRocks >= 3.1, Doris 1.2). On an empty range
  // StarRocks returns NULL and Doris an empty bitmap; both read as the empty value. A BITMAP
  // selected bare arrives as NULL over the MySQL protocol, so it is always wrapped.
  return {
    latest,
    read: `SELECT ${part} AS hp, bitmap_to_base64(${bmp}) AS b64, bitmap_count(${bmp}) AS cnt FROM ${t} WHERE ${where} ORDER BY ${part}`,
    // The subset is computed once in the derived table and then both encoded and counted.
    range:
      `SELECT hp, bitmap_to_base64(sub) AS b64, bitmap_count(sub) AS cnt FROM (` +
      `SELECT ${part} AS hp, bitmap_subset_in_range(${bmp}, ?, ?) AS sub ` +
      `FROM ${t} WHERE ${where}) AS r ORDER BY hp`,
  };
}
