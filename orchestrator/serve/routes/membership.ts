// Membership: GET and POST /v1/audiences/:id/contains, and POST /v1/contains (set expressions).
import { AjvCompiler } from "@fastify/ajv-compiler";
import type { FastifyInstance, FastifySchemaCompiler } from "fastify";
import type { VersionView } from "../../cache/segment-cache.js";
import type { AppDeps } from "../deps.js";
import { evaluate, parseExpression } from "../expression.js";
import { HttpError } from "../http-errors.js";
import { parseAudienceId, parseBit } from "../../input.js";
import { checkId, checkIds } from "../../mapping/ids.js";
import { ScannedUids, bitsOf, scanUids } from "../uid-scan.js";
import { AJV_OPTIONS, AUDIENCE_PARAMS, BIT, BIT_TEXT, UID, UID_JSON, replies, validationError } from "../schemas.js";

type Validation = ReturnType<FastifySchemaCompiler<unknown>>;

export function registerMembershipRoutes(app: FastifyInstance, deps: AppDeps): void {
  const { cache, mapper } = deps;

  app.get<{ Params: { id: string }; Querystring: { uid?: string; bit?: string } }>(
    "/v1/audiences/:id/contains",
    {
      schemaErrorFormatter: validationError,
      schema: {
        summary: "Is one uid (or bit) in the audience?",
        params: AUDIENCE_PARAMS,
        querystring: { type: "object", properties: { uid: UID, bit: BIT_TEXT }, additionalProperties: false },
        response: replies({
          audience: { type: "string" },
          version: { type: "integer" },
          member: { type: "boolean" },
          mapped: { type: "boolean" },
        }),
      },
    },
    (req, reply) => {
      const q = req.query;
      if ((q.uid === undefined) === (q.bit === undefined)) {
        throw new HttpError(400, "bad_request", "give exactly one of ?uid= or ?bit=");
      }
      const audience = parseAudienceId(req.params.id);
      const bit = q.bit === undefined ? undefined : parseBit(q.bit);
      const uid = q.uid === undefined ? undefined : checkId(q.uid, "uid", mapper.rules);
      // Hot path, synchronous: version loaded, uid in the uid cache, segment resident (or empty).
      const view = cache.currentNow(audience);
      const known = view && (bit ?? mapper.cachedBit(uid!));
      if (view && known !== undefined) {
        const answer = (member: boolean) =>
          bit !== undefined
            ? { audience, version: view.version, member }
            : { audience, version: view.version, member, mapped: true };
        const member = cache.has(view, known);
        // A segment not resident: has() has started its load; answer from that same promise.
        return typeof member === "boolean" ? reply.send(answer(member)) : member.then(answer);
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
    return { audience, version: view.version, member: await cache.has(view, mappedBit), mapped: true };
  }

  // The batch check in a scope of its own, with a body parser of its own: a body of the plain
  // form {"uids":[...]} is read from its bytes by the core (no JSON.parse, no strings for uids
  // the cache holds), and any other body is parsed as JSON and validated as usual.
  app.register(async (scope) => {
    const limit = deps.limits.batch;
    scope.addContentTypeParser("application/json", { parseAs: "buffer" }, (_req, body: Buffer, done) => {
      const scanned = scanUids(mapper, body, limit);
      if (scanned) return done(null, scanned);
      if (body.length === 0) return done(new HttpError(400, "bad_request", "the body is empty: send JSON"));
      try {
        done(null, JSON.parse(body.toString("utf8")));
      } catch (err) {
        done(new HttpError(400, "bad_request", `the body is not JSON: ${(err as Error).message}`));
      }
    });
    // Scanned bodies have the schema's shape by construction (the scan takes nothing else; their
    // uids meet the mapping's rules in bitsOf); the rest are validated against the route's schema,
    // by fastify's own compiler with the app's options.
    const compile = AjvCompiler()({}, { customOptions: AJV_OPTIONS });
    scope.setSchemaErrorFormatter(validationError);
    scope.setValidatorCompiler((route) => {
      const validate = compile(route);
      if (route.httpPart !== "body") return validate;
      const check: Validation = (data: unknown) => {
        if (data instanceof ScannedUids) return true;
        const ok = validate(data) as boolean;
        check.errors = validate.errors as Validation["errors"];
        return ok;
      };
      return check;
    });

    scope.post<{ Params: { id: string }; Body: ScannedUids | { uids?: (string | number)[]; bits?: number[] } }>(
      "/v1/audiences/:id/contains",
      {
        schema: {
          summary: "Are these uids (or bits) in the audience? Answers in request order",
          params: AUDIENCE_PARAMS,
          body: {
            type: "object",
            properties: {
              // Items are typed here; the mapping's own rules (length, pattern) are checked on
              // each uid by the handler (checkIds, or bitsOf for a body read by the core).
              uids: { type: "array", items: UID_JSON, maxItems: limit },
              bits: { type: "array", items: BIT, maxItems: limit },
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
      async (req, reply) => {
        const audience = parseAudienceId(req.params.id);
        const body = req.body;
        let bits: Float64Array;
        let byUid = true;
        if (body instanceof ScannedUids) {
          bits = await bitsOf(mapper, body);
        } else {
          const { uids, bits: given } = body ?? {};
          if ((uids === undefined) === (given === undefined)) {
            throw new HttpError(400, "bad_request", 'give exactly one of "uids" or "bits"');
          }
          if (given !== undefined) {
            bits = Float64Array.from(given);
            byUid = false;
          } else {
            bits = Float64Array.from(await mapper.lookup(checkIds(uids!, "uids", mapper.rules)), (b) => b ?? -1);
          }
        }
        const view = cache.currentNow(audience) ?? (await cache.current(audience));
        const asked = cache.hasAll(view, bits);
        // Resident segments answer synchronously: no await, no microtask, on the hot path.
        const answers = asked instanceof Uint8Array ? asked : await asked;
        // The answer as text: a thousand booleans written by the core, not by the serializer (the
        // audience id is digits, checked by parseAudienceId).
        let text = `{"audience":"${audience}","version":${view.version},"members":[${deps.core.boolsJson(answers)}]`;
        if (byUid) {
          let unmapped = 0;
          for (let i = 0; i < bits.length; i++) if (bits[i]! < 0) unmapped++;
          text += `,"unmapped":${unmapped}`;
        }
        return reply.type("application/json; charset=utf-8").send(text + "}");
      },
    );
  });

  app.post<{ Body: { uid?: string | number; bit?: number; expr: string } }>(
    "/v1/contains",
    {
      schemaErrorFormatter: validationError,
      schema: {
        summary: 'Does a uid (or bit) satisfy a set expression over audiences, e.g. "1 & (2 | 3) & !4"?',
        body: {
          type: "object",
          properties: { uid: UID_JSON, bit: BIT, expr: { type: "string", minLength: 1, maxLength: 2000 } },
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
      const { bit, expr } = req.body;
      if ((req.body.uid === undefined) === (bit === undefined)) {
        throw new HttpError(400, "bad_request", 'give exactly one of "uid" or "bit"');
      }
      const uid = req.body.uid === undefined ? undefined : checkId(req.body.uid, "uid", mapper.rules);
      const parsed = parseExpression(expr);
      // Each audience resolved once: the whole expression reads one version of each.
      const views = new Map<string, VersionView>();
      await Promise.all(parsed.audiences.map(async (a) => views.set(a, await cache.current(a))));
      const versions = Object.fromEntries([...views].map(([a, v]) => [a, v.version]));
      const target = bit ?? (await mapper.lookup([uid!]))[0] ?? null;
      const member = new Map<string, boolean>();
      await Promise.all(
        parsed.audiences.map(async (a) => member.set(a, target !== null && (await cache.has(views.get(a)!, target)))),
      );
      return { member: evaluate(parsed.expr, (a) => member.get(a)!), mapped: target !== null, versions };
    },
  );
}
