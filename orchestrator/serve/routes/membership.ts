// Membership: GET and POST /v1/audiences/:id/contains, and POST /v1/contains (set expressions).
import type { FastifyInstance } from "fastify";
import type { VersionView } from "../../cache/segment-cache.js";
import type { AppDeps } from "../app.js";
import { evaluate, parseExpression } from "../expression.js";
import { HttpError } from "../http-errors.js";
import { AUDIENCE_PARAMS, BIT, UID, replies } from "../schemas.js";

export function registerMembershipRoutes(app: FastifyInstance, deps: AppDeps): void {
  const { cache, mapper } = deps;

  app.get<{ Params: { id: string }; Querystring: { uid?: string; bit?: number } }>(
    "/v1/audiences/:id/contains",
    {
      schema: {
        summary: "Is one uid (or bit) in the audience?",
        params: AUDIENCE_PARAMS,
        querystring: { type: "object", properties: { uid: UID, bit: BIT }, additionalProperties: false },
        response: replies({
          audience: { type: "string" },
          version: { type: "integer" },
          member: { type: "boolean" },
          mapped: { type: "boolean" },
        }),
      },
    },
    (req, reply) => {
      const { uid, bit } = req.query;
      if ((uid === undefined) === (bit === undefined)) {
        throw new HttpError(400, "bad_request", "give exactly one of ?uid= or ?bit=");
      }
      const audience = req.params.id;
      // Hot path, synchronous: version loaded, uid in the LRU, segment resident (or empty).
      const view = cache.currentNow(audience);
      const known = view && (bit ?? mapper.cachedBit(uid!));
      if (view && known !== undefined) {
        const member = cache.containsNow(view, known);
        if (member !== undefined) {
          return reply.send(
            bit !== undefined
              ? { audience, version: view.version, member }
              : { audience, version: view.version, member, mapped: true },
          );
        }
      }
      return containsOne(audience, uid, bit);
    },
  );

  async function containsOne(
    audience: string,
    uid: string | undefined,
    bit: number | undefined,
  ): Promise<{ audience: string; version: number; member: boolean; mapped?: boolean }> {
    if (bit !== undefined) return { audience, ...(await cache.contains(audience, bit)) };
    const [view, [mappedBit]] = await Promise.all([cache.current(audience), mapper.lookup([uid!])]);
    if (mappedBit === null || mappedBit === undefined) {
      return { audience, version: view.version, member: false, mapped: false };
    }
    return { audience, version: view.version, member: await cache.containsIn(view, mappedBit), mapped: true };
  }

  app.post<{ Params: { id: string }; Body: { uids?: string[]; bits?: number[] } }>(
    "/v1/audiences/:id/contains",
    {
      schema: {
        summary: "Are these uids (or bits) in the audience? Answers in request order",
        params: AUDIENCE_PARAMS,
        body: {
          type: "object",
          properties: {
            // Items are only typed: a uid too long or empty is simply not mapped, and per-item
            // length checks cost more than the lookups on a 10,000-uid batch.
            uids: { type: "array", items: { type: "string" }, maxItems: deps.limits.batch },
            bits: { type: "array", items: BIT, maxItems: deps.limits.batch },
          },
          additionalProperties: false,
        },
        response: replies({
          audience: { type: "string" },
          version: { type: "integer" },
          members: { type: "array", items: { type: "boolean" } },
          unmapped: { type: "integer" },
        }),
      },
    },
    async (req) => {
      const { uids, bits } = req.body ?? {};
      if ((uids === undefined) === (bits === undefined)) {
        throw new HttpError(400, "bad_request", 'give exactly one of "uids" or "bits"');
      }
      const audience = req.params.id;
      if (bits !== undefined) return { audience, ...(await cache.containsMany(audience, bits)) };
      const [view, found] = await Promise.all([cache.current(audience), mapper.lookup(uids!)]);
      let unmapped = 0;
      for (const b of found) if (b === null) unmapped++;
      const members = await cache.containsManyIn(view, found);
      return { audience, version: view.version, members, unmapped };
    },
  );

  app.post<{ Body: { uid?: string; bit?: number; expr: string } }>(
    "/v1/contains",
    {
      schema: {
        summary: 'Does a uid (or bit) satisfy a set expression over audiences, e.g. "1 & (2 | 3) & !4"?',
        body: {
          type: "object",
          properties: { uid: UID, bit: BIT, expr: { type: "string", minLength: 1, maxLength: 2000 } },
          required: ["expr"],
          additionalProperties: false,
        },
        response: replies({
          member: { type: "boolean" },
          mapped: { type: "boolean" },
          versions: { type: "object", additionalProperties: { type: "integer" } },
        }),
      },
    },
    async (req) => {
      const { uid, bit, expr } = req.body;
      if ((uid === undefined) === (bit === undefined)) {
        throw new HttpError(400, "bad_request", 'give exactly one of "uid" or "bit"');
      }
      const parsed = parseExpression(expr);
      // Each audience resolved once: the whole expression reads one version of each.
      const views = new Map<string, VersionView>();
      await Promise.all(parsed.audiences.map(async (a) => views.set(a, await cache.current(a))));
      const versions = Object.fromEntries([...views].map(([a, v]) => [a, v.version]));
      const target = bit ?? (await mapper.lookup([uid!]))[0] ?? null;
      const member = new Map<string, boolean>();
      await Promise.all(
        parsed.audiences.map(async (a) =>
          member.set(a, target !== null && (await cache.containsIn(views.get(a)!, target))),
        ),
      );
      return { member: evaluate(parsed.expr, (a) => member.get(a)!), mapped: target !== null, versions };
    },
  );
}
