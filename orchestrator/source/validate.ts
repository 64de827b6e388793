// Checks of what callers pass in. Everything reaches SQL as a parameter anyway; these checks make a
// wrong value fail here, with a message, instead of as "no rows" or a server error.
import { ConfigError } from "../errors.js";
import { SourceInputError } from "./errors.js";

const MAX_BIGINT = 9223372036854775807n;

/** The audience id in canonical form (no leading zeros), or SourceInputError. */
export function checkAudienceId(id: unknown): string {
  if (typeof id === "string" && /^\d{1,19}$/.test(id)) {
    const v = BigInt(id);
    if (v <= MAX_BIGINT) return v.toString();
  }
  throw new SourceInputError(
    `audience id ${JSON.stringify(String(id))} is not a BIGINT id: expected 1 to 19 decimal digits, ` +
      `at most ${MAX_BIGINT}`,
  );
}

/** imp_date as yyyymmdd, or SourceInputError. */
export function checkImpDate(date: unknown): number {
  if (typeof date === "number" && Number.isInteger(date) && date >= 10000101 && date <= 99991231) {
    const month = Math.floor(date / 100) % 100;
    const day = date % 100;
    if (month >= 1 && month <= 12 && day >= 1 && day <= 31) return date;
  }
  throw new SourceInputError(`imp_date ${String(date)} is not a date in yyyymmdd form, e.g. 20261122`);
}

function toBigInt(v: bigint | number, name: string): bigint {
  if (typeof v === "bigint") return v;
  if (typeof v === "number" && Number.isSafeInteger(v)) return BigInt(v);
  throw new SourceInputError(`range ${name} ${String(v)} is not an integer (use a bigint above 2^53)`);
}

/** [start, end) with 0 <= start < end <= 2^63-1 (BIGINT arguments). */
export function checkRange(start: bigint | number, end: bigint | number): [bigint, bigint] {
  const s = toBigInt(start, "start");
  const e = toBigInt(end, "end");
  if (s < 0n || e > MAX_BIGINT || s >= e) {
    throw new SourceInputError(`range [${s}, ${e}) is not a non-empty range within [0, ${MAX_BIGINT}]`);
  }
  return [s, e];
}

/** Span of one chunked read: an integer in 16..32. */
export function checkChunkBits(bits: unknown): number {
  if (typeof bits === "number" && Number.isInteger(bits) && bits >= 16 && bits <= 32) return bits;
  throw new ConfigError(
    `chunkBits ${String(bits)} must be an integer in [16, 32] (BITSYNC_SOURCE_CHUNK_BITS); ` +
      `16 and up keeps every range on Roaring container boundaries`,
  );
}

/**
 * Consecutive ranges [k·2^bits, (k+1)·2^bits) covering [from, to), clipped to [from, to). With
 * bits equal to the segment size, each range is exactly one segment. Checks its arguments now,
 * not at the first iteration.
 */
export function chunkRanges(bits: number, from: bigint, to: bigint): Iterable<[bigint, bigint]> {
  const span = 1n << BigInt(checkChunkBits(bits));
  if (from < 0n || to < from) throw new SourceInputError(`chunk ranges need 0 <= from <= to, got [${from}, ${to})`);
  return (function* () {
    for (let lo = from - (from % span); lo < to && from < to; lo += span) {
      yield [lo > from ? lo : from, lo + span < to ? lo + span : to] as [bigint, bigint];
    }
  })();
}
