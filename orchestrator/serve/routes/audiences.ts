// Audience routes: member pages (GET /v1/audiences/:id/members), info, and the admin routes
// (sync, rollback) behind a bearer token.
import { timingSafeEqual } from "node:crypto";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { audienceInfo, rollbackAudience } from "../../versions/admin.js";
import type { AppDeps } from "../deps.js";
import { decodeCursor, encodeCursor } from "../cursor.js";
import { HttpError } from "../http-errors.js";
import { MAX_BIT, parseAudienceId, parseInteger } from "../../input.js";
import { AUDIENCE_PARAMS, COUNT_TEXT, ERROR, replies, validationError } from "../schemas.js";

/** Members per page when ?limit= is not given (BITSYNC_PAGE_LIMIT if that is lower). */
const DEFAULT_PAGE = 100;

function requireAdmin(req: FastifyRequest, token: string): void {
  if (token === "") {
    throw new HttpError(401, "unauthorized", "admin routes are disabled: set BITSYNC_ADMIN_TOKEN on the server");
  }
  // The scheme is case-insensitive (RFC 7235 §2.1): "bearer", "Bearer" and "BEARER" all name it.
  const given = /^bearer +(.+)$/i.exec(req.headers.authorization ?? "")?.[1] ?? "";
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  if (a.length !== b.length || !timingSafeEqual(a, b)) {
    throw new HttpError(401, "unauthorized", "admin routes need Authorization: Bearer <BITSYNC_ADMIN_TOKEN>");
  }
}

export function registerAudienceRoutes(app: FastifyInstance, deps: AppDeps): void {
  const { cache, mapper, store } = deps;
  const params = AUDIENCE_PARAMS;

  app.get<{ Params: { id: string }; Querystring: { limit?: string; cursor?: string; rank?: string } }>(
    "/v1/audiences/:id/members",
    {
      schemaErrorFormatter: validationError,
      schema: {
        summary: "A page of members (bits mapped back to uids); follow `next` to walk the whole audience",
        params,
        querystring: {
          type: "object",
          properties: {
            limit: {
              ...COUNT_TEXT,
              description: `Members per page, 1 to ${deps.limits.page} (default ${Math.min(DEFAULT_PAGE, deps.limits.page)})`,
            },
            cursor: { type: "string", maxLength: 64 },
            rank: { ...COUNT_TEXT, description: `Start at this depth, 0 to ${MAX_BIT}` },
          },
          additionalProperties: false,
        },
        response: replies({
          audience: { type: "string" },
          version: { type: "integer" },
          items: {
            type: "array",
            items: {
              type: "object",
              properties: {
                bit: { type: "integer" },
                uid: { type: ["string", "null"] },
                corpId: { type: ["string", "null"] },
              },
            },
          },
          next: { type: ["string", "null"] },
        }),
      },
    },
    async (req) => {
      const audience = parseAudienceId(req.params.id);
      const { cursor } = req.query;
      const limit =
        req.query.limit === undefined
          ? Math.min(DEFAULT_PAGE, deps.limits.page)
          : parseInteger(req.query.limit, "limit", 1, deps.limits.page);
      const rank = req.query.rank === undefined ? undefined : parseInteger(req.query.rank, "rank", 0, MAX_BIT);
      if (cursor !== undefined && rank !== undefined) {
        throw new HttpError(
          400,
          "bad_request",
          "give ?cursor= (to continue) or ?rank= (to start at a depth), not both",
        );
      }
      // A cursor pins its version: the walk never mixes versions (410 once that version is gone).
      const from = cursor !== undefined ? decodeCursor(cursor) : { rank: rank ?? 0 };
      const page = await cache.page(audience, from, limit);
      const ids = await mapper.reverse(page.bits);
      return {
        audience,
        version: page.version,
        items: page.bits.map((bit, i) => ({ bit, uid: ids[i]?.uid ?? null, corpId: ids[i]?.corpId ?? null })),
        next:
          page.nextRank === null
            ? null
            : encodeCursor({ epoch: page.epoch, version: page.version, rank: page.nextRank }),
      };
    },
  );

  app.get<{ Params: { id: string } }>(
    "/v1/audiences/:id",
    {
      schemaErrorFormatter: validationError,
      schema: { summary: "The audience's current version and the retained ones", params, response: { "4xx": ERROR } },
    },
    async (req) => {
      const info = await audienceInfo(store, parseAudienceId(req.params.id));
      return {
        audience: info.audience,
        version: info.version,
        cardinality: info.cardinality,
        segments: info.segments,
        source: info.info.source,
        syncedAt: info.info.createdAt,
        retained: info.retained,
      };
    },
  );

  app.post<{ Params: { id: string }; Body: { impDate?: number; force?: boolean } | undefined }>(
    "/v1/audiences/:id/sync",
    {
      schemaErrorFormatter: validationError,
      schema: {
        summary: "Admin: sync the audience from the source now (Authorization: Bearer token)",
        params,
        body: {
          type: ["object", "null"],
          properties: {
            impDate: { type: "integer", minimum: 19000101, maximum: 99991231 },
            force: { type: "boolean" },
          },
          additionalProperties: false,
        },
        response: { "4xx": ERROR },
      },
    },
    async (req) => {
      requireAdmin(req, deps.adminToken);
      if (!deps.sync) throw new HttpError(503, "unavailable", "this server does not run syncs");
      const audience = parseAudienceId(req.params.id);
      const result = await deps.sync(audience, req.body ?? {});
      cache.invalidate(audience);
      return result;
    },
  );

  app.post<{ Params: { id: string }; Body: { to?: number } | undefined }>(
    "/v1/audiences/:id/rollback",
    {
      schemaErrorFormatter: validationError,
      schema: {
        summary: "Admin: point the audience back at a retained version (Authorization: Bearer token)",
        params,
        body: {
          type: ["object", "null"],
          properties: { to: { type: "integer", minimum: 1, maximum: Number.MAX_SAFE_INTEGER } },
          additionalProperties: false,
        },
        response: { "4xx": ERROR },
      },
    },
    async (req) => {
      requireAdmin(req, deps.adminToken);
      const audience = parseAudienceId(req.params.id);
      const result = await rollbackAudience(store, audience, req.body?.to);
      cache.invalidate(audience);
      return result;
    },
  );
}
