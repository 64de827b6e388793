// The bucket list of a 64-bit Roaring map: n × { u32 high key, one 32-bit bitmap }. StarRocks,
// Doris, ClickHouse and the spec agree on this part; they differ in how n is written and in the
// 32-bit bitmap's own format, which the caller reads.
import type { ByteReader } from "./reader.js";
import type { BitmapPart } from "./types.js";

/** Reads n buckets, keys strictly ascending; empty buckets yield no part. */
export function readBuckets(
  r: ByteReader,
  n: number,
  readBitmap: (high: number, what: string) => BitmapPart | undefined,
): BitmapPart[] {
  const parts: BitmapPart[] = [];
  let prevKey = -1;
  for (let i = 0; i < n; i++) {
    const keyAt = r.pos;
    const key = r.u32(`bucket ${i} key`);
    if (key <= prevKey) {
      throw r.ctx.error(keyAt, `bucket ${i} key ${key} is not above the previous key ${prevKey}: keys must ascend`);
    }
    prevKey = key;
    const part = readBitmap(key, `bucket ${i} (high ${key})`);
    if (part) parts.push(part);
  }
  return parts;
}
