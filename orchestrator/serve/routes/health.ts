// Liveness, readiness (Redis, or every cluster master, reachable and the consumer running, or
// degraded: cached answers continue), metrics, a no-op.
import type { FastifyInstance } from "fastify";
import { pingEvery } from "../../redis/cluster.js";
import type { AppDeps } from "../deps.js";

export function registerHealthRoutes(app: FastifyInstance, deps: AppDeps): void {
  app.get("/healthz", { schema: { hide: true } }, async () => ({ status: "ok" }));

  // Degraded is still 200: cached segments keep answering, so the instance stays in rotation.
  app.get("/readyz", { schema: { hide: true } }, async () => {
    // On a cluster, every master: one that died leaves its slots unserved until its replica is promoted.
    const redis = (await pingEvery(deps.redis, 500)) ? "up" : "down";
    // A consumer that retries or stopped does not stop the answers: degraded, still in rotation.
    const { consumer } = deps.readiness;
    const ok = redis === "up" && (consumer === "running" || consumer === "off");
    return { status: ok ? "ready" : "degraded", redis, consumer, cache: deps.cache.stats() };
  });

  app.get("/metrics", { schema: { hide: true } }, async (_req, reply) => {
    void reply.header("content-type", deps.metrics.registry.contentType);
    return deps.metricsText ? deps.metricsText() : deps.metrics.registry.metrics();
  });

  // The load-test harness measures it beside the real routes: the server's own floor.
  app.get("/v1/noop", { schema: { hide: true } }, async () => ({ ok: true }));
}
