// The HTTP API (fastify, schema-first, under /v1): membership by uid or bit, single and batch,
// set expressions, member pages mapped back to uids, audience info, admin sync and rollback,
// health, readiness, Prometheus metrics and the OpenAPI document.
import swagger from "@fastify/swagger";
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from "fastify";
import { createErrorHandler } from "./http-errors.js";
import type { AppDeps } from "./deps.js";
import { DEFAULT_HTTP_LIMITS, limitedServerFactory } from "./http-server.js";
import { AJV_OPTIONS } from "./schemas.js";
import { registerAudienceRoutes } from "./routes/audiences.js";
import { registerHealthRoutes } from "./routes/health.js";
import { registerMembershipRoutes } from "./routes/membership.js";

export type { AppDeps } from "./deps.js";

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    serverFactory: limitedServerFactory(deps.http ?? DEFAULT_HTTP_LIMITS),
    ...(deps.log ? { loggerInstance: deps.log as FastifyBaseLogger } : {}),
    // One log line per request would cost more than the request; latency goes to the metrics.
    logController: new LogController({ disableRequestLogging: true }),
    // Nor a child logger per request (pino's child() with redaction is a measurable share of a
    // single check): req.log is the app's logger, and the error handler names the request.
    childLoggerFactory: (logger) => logger,
    // Bodies of batch checks: 10,000 uids of up to 64 bytes fit well under 4 MiB.
    bodyLimit: 4 << 20,
    ajv: { customOptions: AJV_OPTIONS },
    return503OnClosing: true,
    // Every body schema says additionalProperties: false, so a "__proto__" or "constructor" key is
    // refused by validation; scanning each body for them as well costs a third of a batch parse.
    onProtoPoisoning: "ignore",
    onConstructorPoisoning: "ignore",
  });
  await app.register(swagger, {
    openapi: {
      info: { title: "bitsync", version: "1", description: "Audience membership and member pages over bitmaps" },
    },
  });
  app.setErrorHandler(createErrorHandler());
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send({ error: "not_found", message: `no route ${req.method} ${req.url.split("?")[0]}` });
  });
  app.addHook("onResponse", async (req, reply) => {
    deps.metrics.requestDuration.observe(
      { method: req.method, route: req.routeOptions.url ?? "unmatched", status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });
  registerHealthRoutes(app, deps);
  registerMembershipRoutes(app, deps);
  registerAudienceRoutes(app, deps);
  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
  await app.ready();
  return app;
}
