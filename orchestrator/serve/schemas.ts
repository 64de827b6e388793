// JSON schema pieces shared by the routes: fastify validates requests against them (a 400 with
// the reason otherwise), serializes answers with them, and the OpenAPI document is built from them.
//
// Nothing is coerced: a JSON body's values must have their JSON types (null, true or "5" is not
// a bit), and query strings and path parameters are text, read by the strict parsers of
// ../input.ts in the handlers (so "0x10", "1e3", " " or "05001" are refused with the name of the
// parameter, not turned into numbers). Every number an answer holds is below 2^53 (bits are dense
// IDs; a sync refuses positions past 2^53), so answers carry JSON numbers, all exact.
import type { FastifySchemaValidationError } from "fastify";
import type { SchemaErrorDataVar } from "fastify/types/schema.js";
import { MAX_BIT, MAX_BIGINT } from "../input.js";
import { HttpError } from "./http-errors.js";

/** Request validation: the app's and the batch route's own compiler (routes/membership.ts). */
export const AJV_OPTIONS = {
  coerceTypes: false,
  removeAdditional: false,
  allErrors: false,
  // A uid in a body is a string or an exact integer: a union type.
  allowUnionTypes: true,
  // Errors carry the value, so a message can say what was sent instead (its JSON type).
  verbose: true,
} as const;

const DECIMAL = "decimal digits only: no sign, spaces, leading zeros, fraction, exponent or 0x";

/** Path parameter :id, read by parseAudienceId (the rule lives there, not in a pattern here). */
export const AUDIENCE_ID = {
  type: "string",
  description: `Audience (user_group_id, a BIGINT) in canonical form: 0 to ${MAX_BIGINT}, ${DECIMAL}`,
} as const;
export const AUDIENCE_PARAMS = { type: "object", properties: { id: AUDIENCE_ID }, required: ["id"] } as const;
/** A bit in a JSON body: a JSON integer (not a string, bool or null). */
export const BIT = { type: "integer", minimum: 0, maximum: MAX_BIT } as const;
/** A bit in a query string, read by parseBit. */
export const BIT_TEXT = { type: "string", description: `A bit, 0 to ${MAX_BIT}: ${DECIMAL}` } as const;
/** A non-negative count in a query string (limit, rank), read by parseInteger. */
export const COUNT_TEXT = { type: "string", description: `An integer: ${DECIMAL}` } as const;
/**
 * A uid in a query string. Its rules (BITSYNC_MAP_UID_MAX_BYTES, BITSYNC_MAP_UID_PATTERN, no
 * control characters) are the mapping's own, checked by the handlers with readId.
 */
export const UID = { type: "string", description: "A uid as the ID mapping takes it" } as const;
/** A uid in a JSON body: a string, or an exact JSON integer (taken as its decimal digits). */
export const UID_JSON = { type: ["string", "integer"], description: UID.description } as const;
export const ERROR = {
  type: "object",
  properties: { error: { type: "string" }, message: { type: "string" } },
} as const;

/** The `response` of a route: an object with these properties, or an error. */
export function replies<P extends Record<string, unknown>>(properties: P) {
  return { 200: { type: "object", properties }, "4xx": ERROR } as const;
}

/** "/bits/3" -> "bits[3]", "/id" of the path -> "audience id". */
function nameOf(dataVar: string, instancePath: string): string {
  if (dataVar === "params" && instancePath === "/id") return "audience id";
  const parts = instancePath.split("/").slice(1);
  if (parts.length === 0) return dataVar === "querystring" ? "the query string" : `the ${dataVar}`;
  return parts.map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`)).join("");
}

function jsonType(data: unknown): string {
  return data === null ? "null" : Array.isArray(data) ? "an array" : typeof data;
}

/**
 * A failed schema check as the 400 every route sends: the message names the parameter or the
 * index (`bits[3] must be integer, not boolean`), as the handlers' own checks do.
 */
export function validationError(errors: FastifySchemaValidationError[], dataVar: SchemaErrorDataVar): Error {
  const e = errors[0];
  if (!e) return new HttpError(400, "bad_request", `the ${dataVar} is invalid`);
  const name = nameOf(dataVar, e.instancePath);
  const params = e.params as Record<string, unknown>;
  const data = (e as { data?: unknown }).data;
  let message: string;
  if (e.keyword === "additionalProperties") {
    const what = dataVar === "querystring" ? "query parameter" : "property";
    message = `unknown ${what} ${JSON.stringify(params.additionalProperty)} in ${name}`;
  } else if (e.keyword === "required") {
    message = `${String(params.missingProperty)} is missing`;
  } else if (e.keyword === "type" && dataVar === "querystring" && Array.isArray(data)) {
    message = `${name} is given more than once`;
  } else if (e.keyword === "type") {
    message = `${name} must be ${String(params.type).replace(",", " or ")}, not ${jsonType(data)}`;
  } else {
    message = `${name} ${e.message ?? "is invalid"}`;
  }
  return new HttpError(400, "bad_request", message);
}
