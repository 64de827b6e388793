// Checks of what callers pass in. Everything reaches SQL as a parameter anyway; these checks make a
// wrong value fail here, with a message, instead of as "no rows" or a server error.
import { ConfigError } from "../errors.js";
import { MAX_BIGINT, canonicalAudienceId } from "../input.js";
import { SourceInputError } from "./errors.js";

/**
 * The audience id in canonical form, or SourceInputError. The rule is input.ts's; as a SQL
 * parameter any decimal spelling binds the same BIGINT, so "0042" reads audience 42 here (the
 * keys, routes and commands refuse that spelling before a sync gets this far).
 */
export function checkAudienceId(id: unknown): string {
  const r = canonicalAudienceId(id);
  if ("reason" in r) throw new SourceInputError(r.reason);
  return r.id;
}

/** imp_date as yyyymmdd, or SourceInputError. */
export function checkImpDate(date: unknown): number {
  if (typeof date === "number" && Number.isInteger(date) && date >= 10000101 && date <= 99991231) {
    const month = Math.floor(date / 100) % 100;
    const day = date % 100;
    if (month >= 1 && month <= 12 && day >= 1 && day <= 31) return date;
  }
  const shown =
    typeof date === "number" && !Number.isSafeInteger(date) && Number.isInteger(date) ? "" : ` ${String(date)}`;
  throw new SourceInputError(`imp_date${shown} is not a date in yyyymmdd form, e.g. 20261122`);
}

function toBigInt(v: bigint | number, name: string): bigint {
  if (typeof v === "bigint") return v;
  if (typeof v === "number" && Number.isSafeInteger(v)) return BigInt(v);
  // An integer past 2^53 is not printed: its digits are already not the ones the caller meant.
  const shown = typeof v === "number" && Number.isInteger(v) ? "" : ` ${String(v)}`;
  throw new SourceInputError(`range ${name}${shown} is not an exact integer (use a bigint above 2^53)`);
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
