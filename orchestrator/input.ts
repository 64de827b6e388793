// One strict reading of every number and audience id a caller gives as text (HTTP query strings
// and path parameters, CLI arguments): canonical decimal digits only. Number() would take " "
// (0), "0x10", "1e3", "+5", ".5e1" and "Infinity"; a second spelling of the same id would be a
// second audience in Redis. What these functions refuse, they refuse with the parameter's name.
import { BitsyncError } from "./errors.js";

/** A value given by a caller that cannot be taken; `what` names the parameter or index. */
export class InputError extends BitsyncError {
  constructor(
    readonly what: string,
    message: string,
  ) {
    super(message);
  }
}

/** An audience id that is not a BIGINT user_group_id in canonical form. */
export class InvalidAudienceIdError extends InputError {}

/** The largest bit: bits are dense IDs held as JS numbers, exact below 2^53. */
export const MAX_BIT = Number.MAX_SAFE_INTEGER;
/** The largest BIGINT (the warehouse's user_group_id and bit columns). */
export const MAX_BIGINT = 9223372036854775807n;
/** The largest unsigned 64-bit position a warehouse bitmap can hold. */
export const MAX_U64 = 18446744073709551615n;

/** Digits only: no sign, space, fraction, exponent, 0x/0b/0o prefix or leading zero. */
const CANONICAL = /^(?:0|[1-9][0-9]*)$/;
const DIGITS = /^[0-9]+$/;
const HOW = "write decimal digits only (no sign, spaces, leading zeros, fraction, exponent or 0x)";

/** The text as it appears in a message: quoted, and cut short if it is long. */
function shown(text: unknown): string {
  if (typeof text !== "string") return Array.isArray(text) ? "(given more than once)" : `(${typeof text})`;
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}

/** True when `text` is a canonical decimal integer (any size). */
export function isCanonicalDecimal(text: string): boolean {
  return CANONICAL.test(text);
}

/**
 * A canonical decimal integer in [min, max] (max at most 2^53 - 1), else InputError naming
 * `what`. `noun` says what the value is, for the message ("a bit", "a version number").
 */
export function parseInteger(text: unknown, what: string, min: number, max: number, noun = "an integer"): number {
  if (typeof text !== "string" || !CANONICAL.test(text)) {
    throw new InputError(what, `${what} ${shown(text)} is not ${noun}: ${HOW}`);
  }
  // Exact for every text that passes: rounding only ever happens above 2^53, which is over max.
  const v = Number(text);
  if (v < min || v > max) throw new InputError(what, `${what} ${shown(text)} is out of range: ${min} to ${max}`);
  return v;
}

/** A canonical decimal integer in [0, max] as a bigint (values past 2^53), else InputError. */
export function parseBigInteger(text: unknown, what: string, max: bigint, noun = "an integer"): bigint {
  if (typeof text !== "string" || !CANONICAL.test(text)) {
    throw new InputError(what, `${what} ${shown(text)} is not ${noun}: ${HOW}`);
  }
  const v = BigInt(text);
  if (v > max) throw new InputError(what, `${what} ${shown(text)} is out of range: 0 to ${max}`);
  return v;
}

/** A bit given as text (`?bit=`): 0 to 2^53 - 1. */
export function parseBit(text: unknown, what = "bit"): number {
  return parseInteger(text, what, 0, MAX_BIT, "a bit");
}

/**
 * The canonical form of an audience id: the user_group_id BIGINT (0 to 2^63 - 1) in decimal,
 * without leading zeros. One id has one form, so "05001" is never a second copy of 5001 in Redis.
 * Returns the canonical form of any decimal spelling, and whether `value` was it.
 */
function readAudienceId(value: unknown): { canonical: string; exact: boolean } | { reason: string } {
  if (typeof value === "string" && DIGITS.test(value) && value.length <= 40) {
    const v = BigInt(value);
    if (v <= MAX_BIGINT) return { canonical: v.toString(), exact: CANONICAL.test(value) };
  }
  return {
    reason:
      `audience id ${shown(String(value))} is not a BIGINT id: expected 1 to 19 decimal digits, ` +
      `at most ${MAX_BIGINT}`,
  };
}

/** The audience id, exactly as given when canonical; else InvalidAudienceIdError naming the canonical form. */
export function parseAudienceId(value: unknown): string {
  const r = readAudienceId(value);
  if ("reason" in r) throw new InvalidAudienceIdError("audience id", r.reason);
  if (!r.exact) {
    throw new InvalidAudienceIdError(
      "audience id",
      `audience id ${shown(value)} is not in canonical form: write ${r.canonical} (no leading zeros)`,
    );
  }
  return r.canonical;
}

/**
 * Any decimal spelling of a BIGINT audience id to its canonical form, or the reason it is none.
 * Only for SQL parameters (the source binds the same BIGINT either way); everything that names
 * an audience in Redis, routes or commands takes parseAudienceId's canonical form only.
 */
export function canonicalAudienceId(value: unknown): { id: string } | { reason: string } {
  const r = readAudienceId(value);
  return "reason" in r ? r : { id: r.canonical };
}
