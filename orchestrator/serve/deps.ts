// What the HTTP app and its routes are given: its own module, so that the routes need not import
// the app that registers them.
import type { RedisLike } from "../redis/cluster.js";
import type { Logger } from "pino";
import type { SegmentCache } from "../cache/segment-cache.js";
import type { IdMapper } from "../mapping/mapper.js";
import type { SyncResult } from "../sync/sync.js";
import type { VersionStore } from "../versions/store.js";
import type { BitmapCore } from "../wasm/core.js";
import type { HttpLimits } from "./http-server.js";
import type { ServeMetrics } from "./metrics.js";

export interface AppDeps {
  cache: SegmentCache;
  /** The cache's WASM core (the batch route writes its answers' JSON with it). */
  core: BitmapCore;
  mapper: IdMapper;
  store: VersionStore;
  /** Pinged by /readyz. */
  redis: RedisLike;
  metrics: ServeMetrics;
  /** The /metrics text when it is not this process's registry alone (workers of one daemon). */
  metricsText?: () => Promise<string>;
  limits: { batch: number; page: number };
  /** What /readyz reports besides Redis: the registration consumer's state ("off": none runs here). */
  readiness: { consumer: string };
  /** Deadlines and the connection cap of the HTTP server (defaults: DEFAULT_HTTP_LIMITS). */
  http?: HttpLimits;
  /** Bearer token of the admin routes; empty refuses them all. */
  adminToken: string;
  /** Runs a sync (admin route); absent: the route answers 503. */
  sync?: (audience: string, opts: { impDate?: number; force?: boolean }) => Promise<SyncResult>;
  log?: Logger;
}
