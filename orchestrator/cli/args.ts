// Argument and option parsers of every `bitsync` command, on the strict parsers of ../input.ts:
// Number() would take "0x10" (16), "1e3" (1000), " " (0) and "+5", and a second spelling of an
// id. Each refusal is commander's InvalidArgumentError, so the command fails with one line.
import { InvalidArgumentError } from "commander";
import { configFromEnv } from "../config/config.js";
import { InputError, MAX_U64, parseBigInteger, parseInteger } from "../input.js";
import { readId, type IdRules } from "../mapping/ids.js";

/** `parse()`, with an InputError turned into commander's one-line `reason`. */
function orReason<T>(parse: () => T, reason: string): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof InputError) throw new InvalidArgumentError(reason);
    throw err;
  }
}

/** An integer from 1 to 2^53 - 1 (counts, sizes, seeds). */
export function positiveInt(raw: string): number {
  return orReason(() => parseInteger(raw, "value", 1, Number.MAX_SAFE_INTEGER), `${raw} is not a positive integer`);
}

/** A version number (1, 2, ...). */
export function versionArg(raw: string): number {
  return orReason(() => parseInteger(raw, "version", 1, Number.MAX_SAFE_INTEGER), `${raw} is not a version number`);
}

/** An imp_date as yyyymmdd: eight digits, a month 01..12 and a day 01..31. */
export function dateArg(raw: string): number {
  const reason = `${raw} is not a yyyymmdd date`;
  const v = orReason(() => parseInteger(raw, "imp-date", 10000101, 99991231), reason);
  const month = Math.floor(v / 100) % 100;
  const day = v % 100;
  if (month < 1 || month > 12 || day < 1 || day > 31) throw new InvalidArgumentError(reason);
  return v;
}

/**
 * A bit position, 0 to 2^64 - 1 (a warehouse bitmap's range; bits past 2^53 are never handed
 * out, and are answered as such), collected into a list (a variadic argument).
 */
export function bitArg(raw: string, previous: bigint[] = []): bigint[] {
  const bit = orReason(
    () => parseBigInteger(raw, "bit", MAX_U64),
    `${raw} is not a bit: a decimal integer from 0 to ${MAX_U64}, digits only`,
  );
  return [...previous, bit];
}

let rules: IdRules | undefined;

/** A uid as the ID mapping takes it (BITSYNC_MAP_UID_MAX_BYTES, BITSYNC_MAP_UID_PATTERN), collected into a list. */
export function uidArg(raw: string, previous: string[] = []): string[] {
  if (!rules) {
    const config = configFromEnv();
    rules = { maxBytes: config.mapUidMaxBytes, pattern: config.mapUidPattern };
  }
  const r = readId(raw, "uid", rules);
  if ("reason" in r) throw new InvalidArgumentError(r.reason);
  return [...previous, r.id];
}
