// The Roaring 64-bit portable format (RoaringFormatSpec, "64-bit extension"): what CRoaring's
// roaring64_bitmap_portable_serialize, Go's roaring64 and Java's Roaring64NavigableMap in portable
// mode write. A u64 little-endian count of buckets, then per bucket a u32 high key and a standard
// 32-bit portable bitmap of the lows. Users who build audiences in Spark or Java keep them so.
import type { BitmapCore } from "../../wasm/core.js";
import { readBuckets } from "./buckets.js";
import { readPortable } from "./portable.js";
import { ByteReader, DecodeContext } from "./reader.js";
import type { DecodedBitmap } from "./types.js";

/** A bucket is at least its key and an empty 32-bit portable header. */
const MIN_BUCKET_BYTES = 4 + 8;

/** Exactly one 64-bit portable bitmap, nothing after it. Keys ascend; empty buckets yield no part. */
export function decodePortable64(core: BitmapCore, bytes: Uint8Array): DecodedBitmap {
  const ctx = new DecodeContext("portable64");
  const r = new ByteReader(bytes, ctx);
  const at = r.pos;
  const n = r.count(r.u64("the bucket count"), MIN_BUCKET_BYTES, "the bucket count", at);
  const parts = readBuckets(r, n, (high, what) => readPortable(core, r, high, what));
  r.done("64-bit portable Roaring bitmap");
  return { format: "portable64", typeCode: 0, bits64: true, parts };
}
