// One entry point: bytes of any supported form in, the normalized DecodedBitmap out.
import type { BitmapCore } from "../../wasm/core.js";
import { TYPE_CODE_NAMES } from "./bitmap-value.js";
import { ClickHouseKind, decodeClickHouse } from "./clickhouse.js";
import { decodeDoris } from "./doris.js";
import { decodePortable } from "./portable.js";
import { decodePortable64 } from "./portable64.js";
import { decodeStarRocks } from "./starrocks.js";
import type { BitmapFormat, DecodedBitmap, DecodeOptions } from "./types.js";

/**
 * Decodes a serialized bitmap. Pure: it reads `bytes` only; portable parts are views into them.
 * Throws BitmapDecodeError for anything but exactly one complete, valid value.
 */
export function decodeBitmap(
  core: BitmapCore,
  format: BitmapFormat,
  bytes: Uint8Array,
  options: DecodeOptions = {},
): DecodedBitmap {
  switch (format) {
    case "starrocks":
      return decodeStarRocks(core, bytes);
    case "doris":
      return decodeDoris(core, bytes);
    case "clickhouse":
      return decodeClickHouse(core, bytes, options.width);
    case "portable":
      return decodePortable(core, bytes);
    case "portable64":
      return decodePortable64(core, bytes);
    default:
      throw new RangeError(`unknown bitmap format ${String(format)}`);
  }
}

/** A name for the type code, for people: "BITMAP64", "roaring", "runs". */
export function typeCodeName(format: BitmapFormat, typeCode: number): string {
  switch (format) {
    case "starrocks":
    case "doris":
      return TYPE_CODE_NAMES[typeCode] ?? "unknown";
    case "clickhouse":
      return typeCode === ClickHouseKind.SMALL
        ? "small set"
        : typeCode === ClickHouseKind.ROARING
          ? "roaring"
          : "unknown";
    case "portable":
      return typeCode === 12347 ? "with run containers" : "no run containers";
    case "portable64":
      return "64-bit buckets";
  }
}
