// Everything one serving process holds: its resources (core, clients, source, store; one owner,
// runtime/resources.ts), the segment cache listening for swaps, the ID mapping, metrics and the
// HTTP app. `bitsync serve` adds the registration consumer and the scheduled syncs (daemon.ts).
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { SegmentCache } from "../cache/segment-cache.js";
import type { Config } from "../config/config.js";
import { mappingContextOf, type MappingContext } from "../mapping/context.js";
import { ensureReachable } from "../redis/client.js";
import { Resources, redisWhere, type StopStep } from "../runtime/resources.js";
import { syncContextOf, type SyncContext } from "../sync/context.js";
import { syncAudience } from "../sync/sync.js";
import { buildApp } from "./app.js";
import { workerMetrics } from "./cluster.js";
import { createMetrics, type ServeMetrics } from "./metrics.js";

export interface Service {
  app: FastifyInstance;
  sync: SyncContext;
  mapping: MappingContext;
  cache: SegmentCache;
  metrics: ServeMetrics;
  /** Reported by /readyz; the daemon sets the consumer's state. */
  readiness: { consumer: string };
  /** Syncs one audience, timed in the metrics; the cache follows the swap notification. */
  runSync(
    audience: string,
    opts?: { impDate?: number; force?: boolean; signal?: AbortSignal },
  ): ReturnType<typeof syncAudience>;
  /** Closes the app, the cache, then every resource (newest first); idempotent. */
  close(step?: StopStep): Promise<void>;
}

export async function createService(
  config: Config,
  log?: Logger,
  /** clusterMetrics: this process is a worker of a daemon; /metrics answers for all workers. */
  opts: { defaultMetrics?: boolean; clusterMetrics?: boolean } = {},
): Promise<Service> {
  const resources = new Resources(config, log);
  const sync = syncContextOf(resources);
  try {
    await ensureReachable(sync.redis, redisWhere(config), config.startupTimeoutMs);
  } catch (err) {
    await resources.close();
    throw err;
  }
  const mapping = mappingContextOf(resources);
  const cache = new SegmentCache(sync.store, resources.core, {
    budgetBytes: config.wasmBudgetBytes,
    pollMs: config.cachePollMs,
    ...(log ? { log } : {}),
  });
  await cache.start(resources.subscriber, config.swapChannel);
  const metrics = createMetrics(cache, opts);
  const runSync: Service["runSync"] = async (audience, o = {}) => {
    const end = metrics.syncDuration.startTimer();
    try {
      const result = await syncAudience(sync.deps, audience, o);
      end({ result: "ok" });
      return result;
    } catch (err) {
      end({ result: "failed" });
      throw err;
    }
  };
  const readiness = { consumer: "off" };
  let closing: Promise<void> | undefined;
  const app = await buildApp({
    cache,
    core: resources.core,
    mapper: mapping.mapper,
    store: sync.store,
    redis: sync.redis,
    metrics,
    limits: { batch: config.batchLimit, page: config.pageLimit },
    readiness,
    http: {
      headersTimeoutMs: config.httpHeadersTimeoutMs,
      requestTimeoutMs: config.httpRequestTimeoutMs,
      keepAliveTimeoutMs: config.httpKeepAliveTimeoutMs,
      maxConnections: config.httpMaxConnections,
    },
    adminToken: config.adminToken,
    sync: runSync,
    ...(opts.clusterMetrics ? { metricsText: workerMetrics(metrics.registry) } : {}),
    ...(log ? { log } : {}),
  });
  return {
    app,
    sync,
    mapping,
    cache,
    metrics,
    readiness,
    runSync,
    close(step: StopStep = (_what, work) => work) {
      closing ??= (async () => {
        await step("the HTTP server", app.close());
        await step("the segment cache", cache.stop());
        await resources.close(step);
      })();
      return closing;
    },
  };
}
