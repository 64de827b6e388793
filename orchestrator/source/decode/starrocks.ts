// StarRocks BITMAP values (bitmap_to_binary / bitmap_to_base64 bytes): codes 0-4, 10, 12, 13.
import type { BitmapCore } from "../../wasm/core.js";
import { decodeBitmapValue } from "./bitmap-value.js";
import type { DecodedBitmap } from "./types.js";

export function decodeStarRocks(core: BitmapCore, bytes: Uint8Array): DecodedBitmap {
  return decodeBitmapValue(core, bytes, "starrocks");
}
