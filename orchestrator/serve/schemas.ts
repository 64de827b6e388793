// JSON schema pieces shared by the routes: fastify validates requests against them (a 400 with
// the reason otherwise), serializes answers with them, and the OpenAPI document is built from them.

/** Request validation: the app's and the batch route's own compiler (routes/membership.ts). */
export const AJV_OPTIONS = { coerceTypes: "array", removeAdditional: false, allErrors: false } as const;

export const AUDIENCE_ID = { type: "string", pattern: "^[0-9]{1,19}$" } as const;
export const AUDIENCE_PARAMS = { type: "object", properties: { id: AUDIENCE_ID }, required: ["id"] } as const;
export const BIT = { type: "integer", minimum: 0, maximum: Number.MAX_SAFE_INTEGER } as const;
export const UID = { type: "string", minLength: 1, maxLength: 1024 } as const;
export const ERROR = {
  type: "object",
  properties: { error: { type: "string" }, message: { type: "string" } },
} as const;

/** The `response` of a route: an object with these properties, or an error. */
export function replies<P extends Record<string, unknown>>(properties: P) {
  return { 200: { type: "object", properties }, "4xx": ERROR } as const;
}
