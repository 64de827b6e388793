// StarRocks and Doris `BitmapValue` serialization: [u8 type code][payload], little-endian.
// Both engines share codes 0-4, 10, 12, 13; Doris adds 5 (a set with a u8 count).
import type { BitmapCore } from "../../wasm/core.js";
import { readCroaring } from "./croaring.js";
import { partsFromU32, partsFromU64 } from "./parts.js";
import { readBuckets } from "./buckets.js";
import { readPortable } from "./portable.js";
import { ByteReader, DecodeContext } from "./reader.js";
import type { BitmapPart, DecodedBitmap } from "./types.js";

export const BitmapTypeCode = {
  EMPTY: 0,
  SINGLE32: 1,
  BITMAP32: 2,
  SINGLE64: 3,
  BITMAP64: 4,
  /** Doris only. */
  SET_U8: 5,
  SET: 10,
  BITMAP32_V2: 12,
  BITMAP64_V2: 13,
} as const;

export const TYPE_CODE_NAMES: Readonly<Record<number, string>> = {
  0: "EMPTY",
  1: "SINGLE32",
  2: "BITMAP32",
  3: "SINGLE64",
  4: "BITMAP64",
  5: "SET, u8 count",
  10: "SET",
  12: "BITMAP32, CRoaring native",
  13: "BITMAP64, CRoaring native",
};

const BITS64_CODES = new Set<number>([3, 4, 5, 10, 13]);
/** Smallest bucket: u32 key + an empty bitmap (8 B portable, 5 B native: tag + u32 count 0). */
const MIN_BUCKET = { portable: 4 + 8, native: 4 + 5 };

export type BitmapValueDialect = "starrocks" | "doris";

/** Decodes a StarRocks or Doris BitmapValue (the bytes of bitmap_to_binary / bitmap_to_base64). */
export function decodeBitmapValue(core: BitmapCore, bytes: Uint8Array, dialect: BitmapValueDialect): DecodedBitmap {
  const ctx = new DecodeContext(dialect);
  const r = new ByteReader(bytes, ctx);
  const code = r.u8("the type code");
  ctx.typeCode = code;
  let parts: BitmapPart[];
  switch (code) {
    case BitmapTypeCode.EMPTY:
      parts = [];
      break;
    case BitmapTypeCode.SINGLE32:
      parts = partsFromU32(Uint32Array.of(r.u32("the SINGLE32 value")));
      break;
    case BitmapTypeCode.SINGLE64:
      parts = partsFromU64(BigUint64Array.of(r.u64("the SINGLE64 value")));
      break;
    case BitmapTypeCode.BITMAP32:
      parts = optional(readPortable(core, r, 0, "the BITMAP32 bitmap"));
      break;
    case BitmapTypeCode.BITMAP32_V2:
      parts = optional(readCroaring(core, r, 0, "the BITMAP32 bitmap"));
      break;
    case BitmapTypeCode.BITMAP64:
    case BitmapTypeCode.BITMAP64_V2:
      parts = readMap64(core, r, code === BitmapTypeCode.BITMAP64_V2);
      break;
    case BitmapTypeCode.SET: {
      const at = r.pos;
      const n = r.count(r.u32("the SET count"), 8, "the SET count", at);
      parts = partsFromU64(r.u64s(n, "the SET values"));
      break;
    }
    case BitmapTypeCode.SET_U8:
      if (dialect === "doris") {
        const at = r.pos;
        const n = r.count(r.u8("the SET count"), 8, "the SET count", at);
        parts = partsFromU64(r.u64s(n, "the SET values"));
        break;
      }
      throw ctx.error(0, "type code 5 is Doris's SET and StarRocks never writes it: decode with --format doris");
    default:
      throw ctx.error(0, `unknown type code ${code}; ${dialect} writes ${knownCodes(dialect)}`);
  }
  r.done(`${TYPE_CODE_NAMES[code]} value`);
  return { format: dialect, typeCode: code, bits64: BITS64_CODES.has(code), parts };
}

/** varint64 bucket count, then {u32 high key, bitmap} per bucket in ascending key order. */
function readMap64(core: BitmapCore, r: ByteReader, native: boolean): BitmapPart[] {
  const at = r.pos;
  const minBucket = native ? MIN_BUCKET.native : MIN_BUCKET.portable;
  const n = r.count(r.varuint("the bucket count"), minBucket, "the bucket count", at);
  return readBuckets(r, n, (high, what) =>
    native ? readCroaring(core, r, high, what) : readPortable(core, r, high, what),
  );
}

function optional(part: BitmapPart | undefined): BitmapPart[] {
  return part ? [part] : [];
}

function knownCodes(dialect: BitmapValueDialect): string {
  return dialect === "doris" ? "0, 1, 2, 3, 4, 5, 10, 12 or 13" : "0, 1, 2, 3, 4, 10, 12 or 13";
}
