// Turns the driver's result rows into SourceRows: base64 or raw bytes, counts, NULL handling.
import type { Logger } from "pino";
import type { BitmapFormat } from "./decode/types.js";
import { SourceQueryError } from "./errors.js";
import type { SourceDialect, SourceRow } from "./types.js";

export interface RowContext {
  dialect: SourceDialect;
  /** Serialized form of the values: the dialect itself, or the mysql dialect's `format`. */
  format: BitmapFormat;
  table: string;
  audienceId: string;
  impDate: number;
  /** Set for chunked reads: there NULL is the normal answer for "no member in the range". */
  range?: [string, string];
  log: Logger;
}

/** The empty bitmap in each serialized form: what a NULL bitmap is read as. */
export function emptyBitmapBytes(format: BitmapFormat): Uint8Array {
  switch (format) {
    case "portable":
      return Uint8Array.of(0x3a, 0x30, 0, 0, 0, 0, 0, 0); // cookie 12346, 0 containers
    case "clickhouse":
      return Uint8Array.of(0, 0); // small set, 0 values
    case "portable64":
      return new Uint8Array(8); // 0 buckets
    default:
      return Uint8Array.of(0); // type code 0: bitmap_to_base64(bitmap_empty()) = "AA=="
  }
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Standard base64 (RFC 4648: `+`, `/`, optional `=` padding) to bytes, or undefined when `text`
 * is not base64. Whitespace is ignored: MariaDB's TO_BASE64 breaks lines every 76 characters.
 * (Buffer.from alone would silently skip any invalid character.)
 */
export function decodeBase64(text: string): Uint8Array | undefined {
  const clean = /\s/.test(text) ? text.replace(/\s+/g, "") : text;
  if (!BASE64.test(clean)) return undefined;
  const rem = clean.length % 4;
  if (rem === 1 || (clean.endsWith("=") && rem !== 0)) return undefined;
  return Buffer.from(clean, "base64");
}

function where(ctx: RowContext, hashPart?: number): string {
  const range = ctx.range ? ` range [${ctx.range[0]}, ${ctx.range[1]})` : "";
  const part = hashPart === undefined ? "" : ` hash_part ${hashPart}`;
  return `${ctx.table} audience ${ctx.audienceId} imp_date ${ctx.impDate}${part}${range}`;
}

function integer(v: unknown): number | undefined {
  if (typeof v === "number") return Number.isSafeInteger(v) ? v : undefined;
  if (typeof v === "bigint") return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= 0n ? Number(v) : undefined;
  if (typeof v === "string" && /^-?\d{1,16}$/.test(v)) {
    const n = Number(v);
    return Number.isSafeInteger(n) ? n : undefined;
  }
  return undefined;
}

function count(v: unknown, ctx: RowContext, hashPart: number): number | null {
  if (v === null || v === undefined) return null;
  const n = integer(v);
  if (n === undefined || n < 0) {
    throw new SourceQueryError(`${where(ctx, hashPart)}: count ${String(v)} is not a cardinality`);
  }
  return n;
}

function bitmapBytes(v: unknown, ctx: RowContext, hashPart: number): Uint8Array {
  let bytes: Uint8Array | undefined;
  if (ctx.dialect === "mysql") {
    if (typeof v === "string") {
      throw new SourceQueryError(
        `${where(ctx, hashPart)}: the bitmap column holds text; the mysql dialect reads BLOB/VARBINARY ` +
          `holding the serialized bitmap`,
      );
    }
    if (v instanceof Uint8Array) bytes = v;
  } else if (typeof v === "string" || v instanceof Uint8Array) {
    // A server may type the base64 text as binary; it is ASCII either way.
    const text = typeof v === "string" ? v : Buffer.from(v.buffer, v.byteOffset, v.length).toString("latin1");
    bytes = decodeBase64(text);
    if (bytes === undefined) {
      const head = JSON.stringify(text.slice(0, 24));
      throw new SourceQueryError(`${where(ctx, hashPart)}: bitmap_to_base64 returned invalid base64 (starts ${head})`);
    }
  }
  if (bytes === undefined) {
    throw new SourceQueryError(`${where(ctx, hashPart)}: unexpected bitmap value of type ${typeof v}`);
  }
  if (bytes.length === 0) {
    throw new SourceQueryError(`${where(ctx, hashPart)}: the bitmap is 0 bytes, not a serialized bitmap`);
  }
  return bytes;
}

/** One driver row to a SourceRow. Row fields: hp, and b64 (starrocks/doris) or bin (mysql), and cnt. */
export function toSourceRow(raw: Record<string, unknown>, ctx: RowContext): SourceRow {
  const hashPart = integer(raw.hp);
  if (hashPart === undefined) {
    throw new SourceQueryError(`${where(ctx)}: hash_part ${String(raw.hp)} is not an integer`);
  }
  const value = ctx.dialect === "mysql" ? raw.bin : raw.b64;
  const cnt = count(raw.cnt, ctx, hashPart);
  if (value === null || value === undefined) {
    // NULL is read as the empty bitmap: for bitmap_subset_in_range it means "no member in the
    // range" (StarRocks); elsewhere the row exists but holds nothing, which a warning flags.
    if (ctx.range) {
      ctx.log.debug(
        { audienceId: ctx.audienceId, impDate: ctx.impDate, hashPart, range: ctx.range },
        "no member in range",
      );
    } else {
      ctx.log.warn(
        { table: ctx.table, audienceId: ctx.audienceId, impDate: ctx.impDate, hashPart },
        "NULL bitmap in the source: read as the empty bitmap",
      );
    }
    return { hashPart, bytes: emptyBitmapBytes(ctx.format), count: ctx.dialect === "mysql" ? cnt : (cnt ?? 0) };
  }
  return { hashPart, bytes: bitmapBytes(value, ctx, hashPart), count: cnt };
}
