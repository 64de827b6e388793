// What a uid or corpId may be, and the parsing of registration messages. Bad input is rejected
// with a reason an operator can act on (the consumer sends it to the dead-letter topic).
import { BitsyncError } from "../errors.js";

export interface IdRules {
  /** Longest ID in UTF-8 bytes. */
  maxBytes: number;
  /** Every ID must match. */
  pattern: RegExp;
}

/** An ID that cannot be mapped; the message says why. */
export class InvalidIdError extends BitsyncError {}

const CONTROL = /\p{Cc}/u;

/** The ID as a string, or the reason it is not acceptable. JSON integers are taken when exact. */
export function readId(value: unknown, what: string, rules: IdRules): { id: string } | { reason: string } {
  let id: string;
  if (typeof value === "string") id = value;
  else if (typeof value === "number" && Number.isSafeInteger(value)) id = String(value);
  else if (typeof value === "number") {
    // Never printed when it is an integer: above 2^53, JSON.parse has already changed its digits.
    const shown = Number.isInteger(value) ? "" : ` ${value}`;
    return {
      reason: `${what}${shown} is not an exact integer (JSON numbers above 2^53 lose digits; send IDs as strings)`,
    };
  } else if (value === undefined) return { reason: `${what} is missing` };
  else if (value === null) return { reason: `${what} is null` };
  else return { reason: `${what} must be a string, not ${Array.isArray(value) ? "an array" : typeof value}` };
  if (id.length === 0) return { reason: `${what} is empty` };
  const bytes = Buffer.byteLength(id, "utf8");
  if (bytes > rules.maxBytes) {
    return { reason: `${what} is ${bytes} bytes, over the limit of ${rules.maxBytes} (BITSYNC_MAP_UID_MAX_BYTES)` };
  }
  if (CONTROL.test(id)) return { reason: `${what} ${JSON.stringify(id)} contains a control character` };
  if (!rules.pattern.test(id)) {
    return { reason: `${what} ${JSON.stringify(id)} does not match ${rules.pattern.source} (BITSYNC_MAP_UID_PATTERN)` };
  }
  return { id };
}

/** Like readId, but throws InvalidIdError. */
export function checkId(value: unknown, what: string, rules: IdRules): string {
  const r = readId(value, what, rules);
  if ("reason" in r) throw new InvalidIdError(r.reason);
  return r.id;
}

/** Every value of a list as an ID (readId), else InvalidIdError naming the first bad one `name[i]`. */
export function checkIds(values: readonly unknown[], name: string, rules: IdRules): string[] {
  const ids = new Array<string>(values.length);
  for (let i = 0; i < values.length; i++) {
    const r = readId(values[i], name, rules);
    // The index is put in the message only when there is one to send (10,000 uids a batch).
    if ("reason" in r)
      throw new InvalidIdError((readId(values[i], `${name}[${i}]`, rules) as { reason: string }).reason);
    ids[i] = r.id;
  }
  return ids;
}

export interface Registration {
  uid: string;
  corpId: string;
}

/** A registration message's value: JSON {uid, corpId, ...}. Other fields are ignored. */
export function parseRegistration(value: Buffer | null, rules: IdRules): Registration | { reason: string } {
  if (value === null || value.length === 0) return { reason: "empty message" };
  let body: unknown;
  try {
    body = JSON.parse(value.toString("utf8"));
  } catch (err) {
    return { reason: `not JSON: ${(err as Error).message}` };
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return { reason: "not a JSON object {uid, corpId}" };
  }
  const o = body as Record<string, unknown>;
  return readEntry(o.uid, o.corpId, rules);
}

/** A uid and its corpId as IDs (readId), or the reason the first bad one is not acceptable. */
export function readEntry(uid: unknown, corpId: unknown, rules: IdRules): Registration | { reason: string } {
  const u = readId(uid, "uid", rules);
  if ("reason" in u) return u;
  const c = readId(corpId, "corpId", rules);
  if ("reason" in c) return c;
  return { uid: u.id, corpId: c.id };
}
