// The bitmap source: where audience bitmaps come from (StarRocks, Doris, or a MySQL-protocol table
// holding serialized bitmaps), and what one read returns.
import type { BitmapFormat } from "./decode/types.js";

/**
 * How the source stores bitmaps, which decides the SQL:
 * - `starrocks`/`doris`: a BITMAP column, read with bitmap_to_base64 and bitmap_count.
 * - `mysql`: a BLOB/VARBINARY column holding serialized bitmaps (`format`), read raw.
 */
export type SourceDialect = "starrocks" | "doris" | "mysql";

export const SOURCE_DIALECTS: readonly SourceDialect[] = ["starrocks", "doris", "mysql"];

export interface SourceColumns {
  /** BIGINT audience id. Default `user_group_id`. */
  audience: string;
  /** INT date, yyyymmdd. Default `imp_date`. */
  impDate: string;
  /** INT part number; one audience at one date may span several parts. Default `hash_part`. */
  hashPart: string;
  /** The bitmap. Default `bmp`. */
  bitmap: string;
}

export const DEFAULT_SOURCE_TABLE = "user_group_bmp";

export const DEFAULT_SOURCE_COLUMNS: Readonly<SourceColumns> = {
  audience: "user_group_id",
  impDate: "imp_date",
  hashPart: "hash_part",
  bitmap: "bmp",
};

export interface SourceOptions {
  /** mysql:// URL (StarRocks FE query port, Doris FE, or MySQL/MariaDB). */
  url: string;
  dialect: SourceDialect;
  /** `table` or `database.table`. Default `user_group_bmp`. */
  table?: string;
  /** Column names; missing ones take the defaults. */
  columns?: Partial<SourceColumns>;
  /** mysql dialect only: a column holding each bitmap's cardinality, for the integrity check. */
  countColumn?: string;
  /**
   * mysql dialect only: the serialized form in the BLOB column (default `starrocks`: type byte +
   * payload, what bitmap_to_binary returns). The reader passes bytes through; it needs the form
   * only to read a NULL bitmap as that form's empty value.
   */
  format?: BitmapFormat;
  /**
   * Span of one chunked read, 2^chunkBits values (16..32). Default: the segment size, so that one
   * range is one segment and the StarRocks side copies whole Roaring containers.
   */
  chunkBits?: number;
  /** Pool size. Default 2: the sync reads one audience at a time. */
  connectionLimit?: number;
  /** Client-side limit per query; the connection is dropped when it fires. Default 300000. */
  queryTimeoutMs?: number;
}

export interface SourceRow {
  hashPart: number;
  /**
   * The serialized bitmap: a StarRocks/Doris BitmapValue (type byte + payload), or for the mysql
   * dialect the configured `format`. A NULL bitmap comes back as that form's empty value (for
   * StarRocks/Doris the 1 byte [0x00]), never as zero bytes.
   */
  bytes: Uint8Array;
  /**
   * The source's own cardinality: bitmap_count for starrocks/doris (0 for NULL), the count
   * column for mysql, or null when the mysql dialect has no count column.
   */
  count: number | null;
}

export interface AudienceSnapshot {
  audienceId: string;
  impDate: number;
  /** Every part of the audience at that date, ordered by hash_part. The sync unions them. */
  rows: SourceRow[];
}

export interface BitmapSource {
  readonly dialect: SourceDialect;
  /** The span of one chunked read, 2^chunkBits values. */
  readonly chunkBits: number;
  /** The newest imp_date that has rows for the audience, or undefined when it has none. */
  latestImpDate(audienceId: string): Promise<number | undefined>;
  /** Every part of the audience at impDate (default: its latest date). */
  read(audienceId: string, impDate?: number): Promise<AudienceSnapshot>;
  /**
   * The members in [start, end) of every part (starrocks/doris only). A part with no member in
   * the range comes back as the empty value [0x00] with count 0. Small results may use any type
   * code (SINGLE, SET): decode them like any value.
   */
  readRange(audienceId: string, impDate: number, start: bigint | number, end: bigint | number): Promise<SourceRow[]>;
  /** Ends the pool; safe to call twice. */
  close(): Promise<void>;
}
