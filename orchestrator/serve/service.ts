// Everything one serving process holds: the sync context (store, source, core), the segment cache
// listening for swaps, the ID mapping, metrics and the HTTP app. `bitsync serve` adds the
// registration consumer and the scheduled syncs around it (daemon.ts).
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { SegmentCache } from "../cache/segment-cache.js";
import type { Config } from "../config/config.js";
import { createMappingContext, type MappingContext } from "../mapping/context.js";
import { duplicateRedis, ensureReachable } from "../redis/client.js";
import { createSyncContext, type SyncContext } from "../sync/context.js";
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
  close(): Promise<void>;
}

export async function createService(
  config: Config,
  log?: Logger,
  /** clusterMetrics: this process is a worker of a daemon; /metrics answers for all workers. */
  opts: { defaultMetrics?: boolean; clusterMetrics?: boolean } = {},
): Promise<Service> {
  const sync = createSyncContext(config, log);
  try {
    await ensureReachable(sync.redis, config.redisUrl, config.startupTimeoutMs);
  } catch (err) {
    await sync.close();
    throw err;
  }
  const mapping = createMappingContext(config, log, { core: sync.deps.core });
  const cache = new SegmentCache(sync.store, sync.deps.core, {
    budgetBytes: config.wasmBudgetBytes,
    pollMs: config.cachePollMs,
    ...(log ? { log } : {}),
  });
  // No command deadline: a subscribed connection only waits for messages.
  const subscriber = duplicateRedis(sync.redis, "bitsync-swaps", { commandTimeout: undefined });
  // Reconnects on its own (and resubscribes); the head poll covers what it misses meanwhile.
  subscriber.on("error", (err: Error) => log?.warn({ err }, "swap subscriber connection error"));
  await cache.start(subscriber, config.swapChannel);
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
  const app = await buildApp({
    cache,
    core: sync.deps.core,
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
    async close() {
      await app.close();
      await cache.stop();
      subscriber.disconnect();
      await mapping.close();
      await sync.close();
    },
  };
}
