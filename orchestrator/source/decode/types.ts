// The one normalized form every warehouse bitmap is decoded into, and the error decoders raise.
import { BitsyncError } from "../../errors.js";

export type BitmapFormat = "starrocks" | "doris" | "clickhouse" | "portable" | "portable64";

export const BITMAP_FORMATS: readonly BitmapFormat[] = ["starrocks", "doris", "clickhouse", "portable", "portable64"];

/**
 * Positions high·2^32 + low for each low in the part. Parts are in ascending `high` order with
 * distinct highs, and never empty (empty buckets of 64-bit maps are dropped).
 */
export type BitmapPart =
  /** A 32-bit portable Roaring blob: a subarray view of the input (no copy), already validated. */
  | { high: number; portable: Uint8Array }
  /** Ascending distinct lows (sets, singles, CRoaring's native array form): a fresh copy. */
  | { high: number; values: Uint32Array };

export interface DecodedBitmap {
  format: BitmapFormat;
  /**
   * StarRocks/Doris: the BitmapValue type code (first byte). ClickHouse: the state kind (0 small,
   * 1 roaring). Portable: the cookie's low 16 bits (12346 no runs, 12347 with runs). Portable64: 0.
   */
  typeCode: number;
  /**
   * The serialized form can carry positions >= 2^32 (a property of the form, not of the values):
   * StarRocks/Doris codes 3, 4, 5, 10, 13, ClickHouse width 8 and portable64. JSON output prints numbers
   * as decimal strings exactly when this is true.
   */
  bits64: boolean;
  parts: BitmapPart[];
}

export interface DecodeOptions {
  /**
   * ClickHouse only: sizeof(T) of `AggregateFunction(groupBitmap, T)`, which the bytes do not
   * carry. Default 4 (UInt32, the type ClickHouse's own groupBitmap examples use). A wrong width
   * is almost always caught: small states then fail the length check and roaring states the
   * cookie or bucket-count check, and the error suggests the width.
   */
  width?: ClickHouseWidth;
}

export type ClickHouseWidth = 1 | 2 | 4 | 8;

export const DEFAULT_CLICKHOUSE_WIDTH: ClickHouseWidth = 4;

/** Bytes that are not a valid serialized bitmap of the format given. Says where and why. */
export class BitmapDecodeError extends BitsyncError {
  constructor(
    readonly format: BitmapFormat,
    /** Undefined when the input ended before the type byte. */
    readonly typeCode: number | undefined,
    /** Absolute offset in the input where the problem was found. */
    readonly offset: number,
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    const code = typeCode === undefined ? "" : ` (type code ${typeCode})`;
    super(`${format} bitmap${code}, byte ${offset}: ${reason}`, options);
  }
}
