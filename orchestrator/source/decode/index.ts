// Decoders for every serialized bitmap bitsync reads from warehouses.
export { decodeBitmap, typeCodeName } from "./decode.js";
export { decodeStarRocks } from "./starrocks.js";
export { decodeDoris } from "./doris.js";
export { decodeClickHouse, CLICKHOUSE_WIDTHS } from "./clickhouse.js";
export { decodePortable } from "./portable.js";
export { decodePortable64 } from "./portable64.js";
export { cardinality, minMax, smallest, position } from "./members.js";
export {
  BITMAP_FORMATS,
  BitmapDecodeError,
  DEFAULT_CLICKHOUSE_WIDTH,
  type BitmapFormat,
  type BitmapPart,
  type ClickHouseWidth,
  type DecodedBitmap,
  type DecodeOptions,
} from "./types.js";
