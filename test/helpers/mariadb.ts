// Test helpers for the local stack's real MariaDB: a throwaway database per suite, StarRocks-style
// bitmap values, and stored functions that EMULATE StarRocks' bitmap SQL functions.
//
// THE EMULATION IS FOR TESTS ONLY. MariaDB has no BITMAP type; the functions below take the
// StarRocks serialized value (type byte + payload) from a LONGBLOB, so the starrocks dialect's
// exact SQL (bitmap_to_base64, bitmap_count, bitmap_subset_in_range) runs unchanged on MariaDB.
// They cover what the tests need, and SIGNAL an error for anything else:
// - bitmap_to_base64(b): TO_BASE64 with MariaDB's line breaks removed (or kept, on request).
// - bitmap_count(b): type codes 0 (empty), 1 (single32), 2 (portable32: sum of card-1+1 over the
//   descriptive header, both cookies), 3 (single64), 10 (set); NULL -> 0 as in StarRocks.
// - bitmap_subset_in_range(b, start, end): codes 0, 1 with any range; code 2 only for ranges on
//   65536 boundaries (whole Roaring containers, which is how the sync chunks). Returns NULL when
//   the result is empty or start >= end, as StarRocks does. The output is a valid code-2 value;
//   real StarRocks may pick another type code for small results.
import mysql from "mysql2/promise";
import { portable } from "./roaring.js";
import { stackEnv, uniqueName } from "./stack.js";

export interface TestDatabase {
  name: string;
  /** MYSQL_URL pointing at this database. */
  url: string;
  /** A connection with this database as default. */
  conn: mysql.Connection;
  /** Drops the database and closes the connection. */
  drop(): Promise<void>;
}

/** A new database `bitsync_t_…` (the stack's user may create `bitsync_%`). */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = uniqueName("bitsync_t");
  const admin = await mysql.createConnection(stackEnv().mysqlUrl);
  try {
    await admin.query(`CREATE DATABASE ${mysql.escapeId(name)}`);
  } finally {
    await admin.end();
  }
  const u = new URL(stackEnv().mysqlUrl);
  u.pathname = `/${name}`;
  const url = u.toString();
  const conn = await mysql.createConnection(url);
  return {
    name,
    url,
    conn,
    async drop() {
      try {
        await conn.query(`DROP DATABASE IF EXISTS ${mysql.escapeId(name)}`);
      } finally {
        await conn.end();
      }
    },
  };
}

/** The StarRocks BITMAP32 value of `members`: type byte 2, then the portable bytes. */
export function starRocksBitmap(members: Iterable<number>, runOptimize = false): Buffer {
  return Buffer.concat([Buffer.from([2]), Buffer.from(portable(members, runOptimize))]);
}

/** StarRocks SINGLE32 (code 1). */
export function starRocksSingle(value: number): Buffer {
  const b = Buffer.alloc(5);
  b[0] = 1;
  b.writeUInt32LE(value, 1);
  return b;
}

// SQL expressions reading little-endian integers from the function argument `b` at a 0-based
// byte offset (itself an SQL expression).
const u8 = (o: string) => `ASCII(SUBSTRING(b, (${o}) + 1, 1))`;
const u16 = (o: string) => `(${u8(o)} + 256 * ${u8(`(${o}) + 1`)})`;
const u32 = (o: string) => `(${u16(o)} + 65536 * ${u16(`(${o}) + 2`)})`;
const byte = (x: string, shift: number) => `CHAR(((${x}) >> ${shift}) & 255 USING binary)`;
const le32 = (x: string) => `CONCAT(${byte(x, 0)}, ${byte(x, 8)}, ${byte(x, 16)}, ${byte(x, 24)})`;
const fail = (msg: string) => `SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '${msg}'`;

// Parses the portable header of a code-2 value: n containers, d = descriptive header offset,
// rb = run-flag bitset offset (runs only), h = first container offset. Offsets are absolute (the
// type byte is offset 0).
const PORTABLE_HEADER = `
  SET cookie = ${u32("1")};
  IF cookie = 12346 THEN
    SET runs = 0; SET n = ${u32("5")}; SET d = 9; SET h = 9 + 8 * n;
  ELSEIF (cookie & 65535) = 12347 THEN
    SET runs = 1; SET n = (cookie >> 16) + 1; SET rb = 5; SET d = 5 + (n + 7) DIV 8;
    SET h = d + IF(n >= 4, 8, 4) * n;
  ELSE
    ${fail("emulation: not a portable Roaring cookie")};
  END IF;
  IF LENGTH(b) < h THEN ${fail("emulation: truncated portable header")}; END IF;`;

// Size in bytes of container i starting at absolute offset p.
const CONTAINER_SIZE = `IF(runs = 1 AND ((${u8("rb + i DIV 8")} >> (i MOD 8)) & 1) = 1,
      2 + 4 * ${u16("p")}, IF(${u16("d + 4 * i + 2")} + 1 > 4096, 8192, 2 * (${u16("d + 4 * i + 2")} + 1)))`;

const VARS = `
  DECLARE t INT; DECLARE runs INT DEFAULT 0;
  DECLARE cookie BIGINT; DECLARE n BIGINT; DECLARE d BIGINT; DECLARE rb BIGINT DEFAULT 0;
  DECLARE h BIGINT; DECLARE i BIGINT DEFAULT 0; DECLARE p BIGINT;`;

function toBase64Sql(keepNewlines: boolean): string {
  const body = keepNewlines ? "TO_BASE64(b)" : "REPLACE(TO_BASE64(b), '\\n', '')";
  return `CREATE FUNCTION bitmap_to_base64(b LONGBLOB) RETURNS LONGTEXT CHARACTER SET ascii
  DETERMINISTIC NO SQL RETURN ${body}`;
}

const BITMAP_COUNT = `CREATE FUNCTION bitmap_count(b LONGBLOB) RETURNS BIGINT DETERMINISTIC NO SQL
BEGIN
  ${VARS}
  DECLARE total BIGINT DEFAULT 0;
  IF b IS NULL THEN RETURN 0; END IF;
  SET t = ASCII(b);
  IF t = 0 THEN RETURN 0; END IF;
  IF t = 1 OR t = 3 THEN RETURN 1; END IF;
  IF t = 10 THEN RETURN ${u32("1")}; END IF;
  IF t <> 2 THEN ${fail("bitmap_count emulation: only type codes 0, 1, 2, 3, 10")}; END IF;
  ${PORTABLE_HEADER}
  WHILE i < n DO
    SET total = total + ${u16("d + 4 * i + 2")} + 1;
    SET i = i + 1;
  END WHILE;
  RETURN total;
END`;

const SUBSET_IN_RANGE = `CREATE FUNCTION bitmap_subset_in_range(b LONGBLOB, s BIGINT, e BIGINT) RETURNS LONGBLOB
  DETERMINISTIC NO SQL
BEGIN
  ${VARS}
  DECLARE v BIGINT; DECLARE klo BIGINT; DECLARE khi BIGINT; DECLARE k BIGINT; DECLARE sz BIGINT;
  DECLARE i0 BIGINT DEFAULT -1; DECLARE i1 BIGINT; DECLARE p0 BIGINT; DECLARE p1 BIGINT; DECLARE m BIGINT;
  DECLARE hdr BIGINT; DECLARE flags BIGINT; DECLARE j BIGINT;
  DECLARE offs LONGBLOB DEFAULT ''; DECLARE bits LONGBLOB DEFAULT '';
  IF b IS NULL OR s IS NULL OR e IS NULL OR s < 0 OR s >= e THEN RETURN NULL; END IF;
  SET t = ASCII(b);
  IF t = 0 THEN RETURN NULL; END IF;
  IF t = 1 THEN SET v = ${u32("1")}; RETURN IF(v >= s AND v < e, b, NULL); END IF;
  IF t <> 2 THEN ${fail("bitmap_subset_in_range emulation: only type codes 0, 1, 2")}; END IF;
  IF s MOD 65536 <> 0 OR (e < 4294967296 AND e MOD 65536 <> 0) THEN
    ${fail("bitmap_subset_in_range emulation: type 2 needs a range on 65536 boundaries")};
  END IF;
  SET klo = s DIV 65536; SET khi = LEAST(e, 4294967296) DIV 65536;
  ${PORTABLE_HEADER}
  -- Pass 1: the selected containers are the contiguous run [i0, i1), bodies at [p0, p1).
  SET p = h;
  WHILE i < n DO
    SET sz = ${CONTAINER_SIZE};
    SET k = ${u16("d + 4 * i")};
    IF k >= klo AND k < khi THEN
      IF i0 < 0 THEN SET i0 = i; SET p0 = p; END IF;
      SET i1 = i + 1; SET p1 = p + sz;
    END IF;
    SET p = p + sz; SET i = i + 1;
  END WHILE;
  IF i0 < 0 THEN RETURN NULL; END IF;
  IF p > LENGTH(b) THEN ${fail("emulation: truncated container")}; END IF;
  SET m = i1 - i0;
  SET hdr = IF(runs = 1, 4 + (m + 7) DIV 8 + IF(m >= 4, 8, 4) * m, 8 + 8 * m);
  -- Pass 2: offsets (relative to the new cookie) and the new run-flag bitset.
  SET i = i0; SET p = p0; SET flags = 0; SET j = 0;
  WHILE i < i1 DO
    SET offs = CONCAT(offs, ${le32("hdr + p - p0")});
    IF runs = 1 AND ((${u8("rb + i DIV 8")} >> (i MOD 8)) & 1) = 1 THEN SET flags = flags | (1 << (j MOD 8)); END IF;
    SET j = j + 1;
    IF j MOD 8 = 0 OR i + 1 = i1 THEN SET bits = CONCAT(bits, CHAR(flags USING binary)); SET flags = 0; END IF;
    SET p = p + ${CONTAINER_SIZE}; SET i = i + 1;
  END WHILE;
  IF runs = 1 THEN
    RETURN CONCAT(CHAR(2 USING binary), ${le32("12347 + (m - 1) * 65536")}, bits,
      SUBSTRING(b, d + 4 * i0 + 1, 4 * m), IF(m >= 4, offs, ''), SUBSTRING(b, p0 + 1, p1 - p0));
  END IF;
  RETURN CONCAT(CHAR(2 USING binary), ${le32("12346")}, ${le32("m")},
    SUBSTRING(b, d + 4 * i0 + 1, 4 * m), offs, SUBSTRING(b, p0 + 1, p1 - p0));
END`;

/**
 * Creates (or replaces) the emulated StarRocks functions in `conn`'s default database.
 * `base64Newlines`: keep the line breaks MariaDB's TO_BASE64 inserts every 76 characters.
 */
export async function createStarRocksEmulation(
  conn: mysql.Connection,
  opts: { base64Newlines?: boolean } = {},
): Promise<void> {
  for (const fn of ["bitmap_to_base64", "bitmap_count", "bitmap_subset_in_range"]) {
    await conn.query(`DROP FUNCTION IF EXISTS ${fn}`);
  }
  await conn.query(toBase64Sql(opts.base64Newlines ?? false));
  await conn.query(BITMAP_COUNT);
  await conn.query(SUBSET_IN_RANGE);
}

/** CREATE TABLE in the StarRocks shape (names overridable), the bitmap as a nullable LONGBLOB. */
export async function createBitmapTable(
  conn: mysql.Connection,
  table: string,
  cols: { audience?: string; impDate?: string; hashPart?: string; bitmap?: string; count?: string } = {},
): Promise<void> {
  const q = (s: string) => mysql.escapeId(s);
  const count = cols.count ? `, ${q(cols.count)} BIGINT NULL` : "";
  await conn.query(
    `CREATE TABLE ${q(table)} (${q(cols.audience ?? "user_group_id")} BIGINT NOT NULL, ` +
      `${q(cols.impDate ?? "imp_date")} INT NOT NULL, ${q(cols.hashPart ?? "hash_part")} INT NOT NULL, ` +
      `${q(cols.bitmap ?? "bmp")} LONGBLOB NULL${count})`,
  );
}

/** A database of its own with the StarRocks functions emulated: a StarRocks source for one suite. */
export async function createStarRocksDatabase(): Promise<TestDatabase> {
  const db = await createTestDatabase();
  await createStarRocksEmulation(db.conn);
  return db;
}
