// 32-bit portable Roaring blobs (RoaringFormatSpec), found and validated by the WASM core.
import type { BitmapCore } from "../../wasm/core.js";
import { BlobFormatError } from "../../wasm/errors.js";
import { ByteReader, DecodeContext } from "./reader.js";
import type { BitmapPart, DecodedBitmap } from "./types.js";

const COOKIE_NO_RUN = 12346;
const COOKIE_RUN = 12347;
/** An empty bitmap is the 8-byte header `3a300000 00000000` and nothing else. */
const EMPTY_BLOB_BYTES = 8;
/** First window handed to the core to read a header; grown 4x while the header is longer. */
const FIRST_WINDOW = 256;

/**
 * Validates the portable blob at the reader's position, advances past it and returns it as a
 * part (undefined when the bitmap is empty). More data may follow (the next bucket).
 *
 * Nothing in the enclosing formats says how long a blob is, and the core copies what it is given
 * into its memory. Handing it the whole rest of the input for every bucket would copy
 * O(buckets × input) bytes, so the end is found from the blob's header alone (a window that
 * grows only while the header is cut off), then exactly the blob's bytes are validated once.
 */
export function readPortable(core: BitmapCore, r: ByteReader, high: number, what: string): BitmapPart | undefined {
  const start = r.pos;
  const size = portableSize(core, r, what);
  r.pos += size;
  if (size === EMPTY_BLOB_BYTES) return undefined;
  return { high, portable: r.bytes.subarray(start, start + size) };
}

function portableSize(core: BitmapCore, r: ByteReader, what: string): number {
  const start = r.pos;
  const remaining = r.remaining;
  // The core says TRUNCATED for an empty or short input too; say it in the format's terms.
  r.need(EMPTY_BLOB_BYTES, what);
  const fail = (err: BlobFormatError): never => {
    const tail = err.code === "TRUNCATED" ? ` (the ${r.endName} ends at byte ${r.end}): the value is truncated` : "";
    throw r.ctx.error(start, `${what} is not a valid portable Roaring bitmap: ${err.message}${tail}`, err);
  };
  // Find the end from the header alone, growing the window only while the header is cut off.
  let window = Math.min(remaining, FIRST_WINDOW);
  let size: number;
  for (;;) {
    try {
      size = core.blobExtent(r.bytes.subarray(start, start + window));
      break;
    } catch (err) {
      if (!(err instanceof BlobFormatError)) throw err;
      if (err.code === "TRUNCATED" && window < remaining) {
        window = Math.min(remaining, window * 4);
        continue;
      }
      return fail(err);
    }
  }
  // Then validate exactly those bytes, once.
  try {
    core.validate(r.bytes.subarray(start, start + Math.min(size, remaining)));
  } catch (err) {
    if (!(err instanceof BlobFormatError)) throw err;
    return fail(err);
  }
  return size;
}

/** A plain 32-bit portable Roaring blob: exactly one, nothing after it. */
export function decodePortable(core: BitmapCore, bytes: Uint8Array): DecodedBitmap {
  const ctx = new DecodeContext("portable");
  const r = new ByteReader(bytes, ctx);
  if (bytes.length >= 4) {
    const cookie = bytes[0]! | (bytes[1]! << 8);
    if (cookie === COOKIE_NO_RUN || cookie === COOKIE_RUN) ctx.typeCode = cookie;
  }
  const part = readPortable(core, r, 0, "the blob");
  r.done("portable Roaring blob");
  return { format: "portable", typeCode: ctx.typeCode ?? 0, bits64: false, parts: part ? [part] : [] };
}
