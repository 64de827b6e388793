// Doris BITMAP values (bitmap_to_base64 bytes): StarRocks's codes plus 5, a set with a u8 count.
import type { BitmapCore } from "../../wasm/core.js";
import { decodeBitmapValue } from "./bitmap-value.js";
import type { DecodedBitmap } from "./types.js";

export function decodeDoris(core: BitmapCore, bytes: Uint8Array): DecodedBitmap {
  return decodeBitmapValue(core, bytes, "doris");
}
