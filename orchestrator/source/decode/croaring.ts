// CRoaring's native `roaring_bitmap_serialize` format, used by StarRocks/Doris codes 12 and 13
// (bitmap_serialize_version = 2): a tag byte, then either a plain u32 array or a portable blob.
import type { BitmapCore } from "../../wasm/core.js";
import { readPortable } from "./portable.js";
import type { ByteReader } from "./reader.js";
import type { BitmapPart } from "./types.js";
import { sortedDistinctU32 } from "./parts.js";

const TAG_ARRAY_UINT32 = 1;
const TAG_PORTABLE = 2;

/** Reads one native-format bitmap at the reader's position; undefined when it is empty. */
export function readCroaring(core: BitmapCore, r: ByteReader, high: number, what: string): BitmapPart | undefined {
  const at = r.pos;
  const tag = r.u8(`${what} CRoaring tag`);
  if (tag === TAG_PORTABLE) return readPortable(core, r, high, what);
  if (tag !== TAG_ARRAY_UINT32) {
    throw r.ctx.error(at, `${what} has CRoaring tag ${tag}; expected 1 (u32 array) or 2 (portable)`);
  }
  const countAt = r.pos;
  const n = r.count(r.u32(`${what} array cardinality`), 4, `${what} array cardinality`, countAt);
  // Writers emit them sorted; CRoaring's reader adds them one by one, so order is not required.
  const values = sortedDistinctU32(r.uints(n, 4, `${what} array values`));
  return values.length === 0 ? undefined : { high, values };
}
