// ClickHouse `AggregateFunction(groupBitmap, T)` state (RoaringBitmapWithSmallSet):
//   kind 0 (small):   varuint n, then n × sizeof(T) little-endian values in insertion order
//   kind 1 (roaring): varuint byteLen, then byteLen bytes of
//                     sizeof(T) <= 4: a portable32 blob
//                     sizeof(T) == 8: Roaring64Map::write, a FIXED u64 bucket count, then
//                                     {u32 high key, portable32} per bucket
// T is not in the bytes; the caller says its width.
import type { BitmapCore } from "../../wasm/core.js";
import { partsFromU32, partsFromU64 } from "./parts.js";
import { readBuckets } from "./buckets.js";
import { readPortable } from "./portable.js";
import { ByteReader, DecodeContext } from "./reader.js";
import { DEFAULT_CLICKHOUSE_WIDTH, type BitmapPart, type ClickHouseWidth, type DecodedBitmap } from "./types.js";

export const ClickHouseKind = { SMALL: 0, ROARING: 1 } as const;

export const CLICKHOUSE_WIDTHS: readonly ClickHouseWidth[] = [1, 2, 4, 8];

/**
 * Values are read as unsigned integers of T's width. For Int8/Int16 columns ClickHouse's roaring
 * form holds negative values sign-extended to 32 bits while the small form holds the raw byte(s),
 * so those two forms disagree on negatives; audience ids are unsigned, so this is not corrected.
 */
export function decodeClickHouse(
  core: BitmapCore,
  bytes: Uint8Array,
  width: ClickHouseWidth = DEFAULT_CLICKHOUSE_WIDTH,
): DecodedBitmap {
  if (!CLICKHOUSE_WIDTHS.includes(width)) throw new RangeError(`ClickHouse width must be 1, 2, 4 or 8, got ${width}`);
  const ctx = new DecodeContext("clickhouse");
  const r = new ByteReader(bytes, ctx);
  const kind = r.u8("the state kind");
  ctx.typeCode = kind;
  let parts: BitmapPart[];
  if (kind === ClickHouseKind.SMALL) {
    const at = r.pos;
    const n = r.count(r.varuint("the small-set size"), width, `the small-set size${widthHint(width)}`, at);
    parts =
      width === 8
        ? partsFromU64(r.u64s(n, "the small-set values"))
        : partsFromU32(r.uints(n, width, "the small-set values"));
    r.done(`small set of ${n} × ${width}-byte values${widthHint(width)}`);
  } else if (kind === ClickHouseKind.ROARING) {
    const at = r.pos;
    const len = r.count(r.varuint("the roaring byte length"), 1, "the roaring byte length", at);
    if (len === 0) throw ctx.error(at, "the roaring byte length is 0 (ClickHouse rejects this too)");
    const body = r.within(len, "roaring payload");
    parts = width === 8 ? readRoaring64(core, body) : readRoaring32(core, body, width);
    body.done(`roaring bitmap${widthHint(width)}`);
    r.pos = body.pos;
    r.done("roaring payload");
  } else {
    throw ctx.error(0, `unknown state kind ${kind}; groupBitmap writes 0 (small) or 1 (roaring)`);
  }
  return { format: "clickhouse", typeCode: kind, bits64: width === 8, parts };
}

function readRoaring32(core: BitmapCore, r: ByteReader, width: ClickHouseWidth): BitmapPart[] {
  const part = readPortable(core, r, 0, `the roaring bitmap${widthHint(width)}`);
  return part ? [part] : [];
}

function readRoaring64(core: BitmapCore, r: ByteReader): BitmapPart[] {
  const at = r.pos;
  const n = r.count(r.u64("the bucket count (u64)"), 4 + 8, `the bucket count${widthHint(8)}`, at);
  return readBuckets(r, n, (high, what) => readPortable(core, r, high, what));
}

/** Most width mistakes surface as a length or cookie error; say which T was assumed. */
function widthHint(width: ClickHouseWidth): string {
  return ` (assuming T = UInt${width * 8}; pass the column's width if it is another)`;
}
