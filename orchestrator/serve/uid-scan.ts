// A batch body of uids read straight from its bytes: serving's fast path for POST .../contains
// with {"uids":[...]}. The mapping's uid cache (in the WASM core) scans the body and answers the
// uids it holds; only the uids it lacks become strings and are looked up.
import { InvalidIdError, readId } from "../mapping/ids.js";
import type { IdMapper } from "../mapping/mapper.js";

/** The uids of a scanned body: the cached bit of each, or -1, and the uids the cache lacks. */
export class ScannedUids {
  constructor(
    readonly bits: Float64Array,
    readonly missing: readonly number[],
    readonly missingUids: readonly string[],
  ) {}

  get length(): number {
    return this.bits.length;
  }
}

/**
 * Reads a batch body of the form {"uids":["...", ...]} straight from its bytes, with the cached
 * bit of every uid (no strings made, no I/O). Null for any other body, more than maxItems
 * uids, uids that need JSON unescaping or are not ASCII, or no cache: parse those as JSON.
 */
export function scanUids(mapper: IdMapper, body: Buffer, maxItems: number): ScannedUids | null {
  const scan = mapper.scanCached(body, maxItems);
  return scan ? new ScannedUids(scan.bits, scan.missing, scan.missingUids) : null;
}

/**
 * The bits of a scan's uids, -1 for a uid not mapped: the ones the cache lacked looked up. Fills
 * the scan's own array. A uid the rules refuse is InvalidIdError naming it `uids[i]`, as in a
 * body parsed as JSON. Only the uids the cache lacks need the check: every uid in the cache
 * passed it on the way in (allocate checks its uids, lookup caches only valid ones). The scan
 * does not cover the rule by itself: it takes "" and any bytes 0x20..0x7f but `"` and `\`, so
 * a space, DEL or an over-long uid reaches here.
 */
export async function bitsOf(mapper: IdMapper, scan: ScannedUids): Promise<Float64Array> {
  const bits = scan.bits;
  if (scan.missing.length === 0) return bits;
  scan.missingUids.forEach((uid, k) => {
    const r = readId(uid, `uids[${scan.missing[k]}]`, mapper.rules);
    if ("reason" in r) throw new InvalidIdError(r.reason);
  });
  const found = await mapper.lookup(scan.missingUids);
  found.forEach((bit, k) => {
    if (bit !== null) bits[scan.missing[k]!] = bit;
  });
  return bits;
}
