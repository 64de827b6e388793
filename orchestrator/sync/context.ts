// The sync's dependencies, taken from the process's resources (runtime/resources.ts): one place
// that knows what a sync needs, shared by the CLI, the daemon and the tests.
import type { Logger } from "pino";
import type { RedisLike } from "../redis/cluster.js";
import type { Config } from "../config/config.js";
import { Resources } from "../runtime/resources.js";
import type { VersionStore } from "../versions/store.js";
import type { SyncDeps } from "./sync.js";

export interface SyncContext {
  deps: SyncDeps;
  store: VersionStore;
  redis: RedisLike;
  /** Closes the source now: reads in flight fail at once (a stop that must not wait on them). */
  abandonReads(): Promise<void>;
  /** Closes the resources (those of the caller's Resources when it passed its own). */
  close(): Promise<void>;
}

/** The sync's view of `res`; closing it closes `res`. */
export function syncContextOf(res: Resources): SyncContext {
  const { config } = res;
  const deps: SyncDeps = {
    source: res.source,
    store: res.store,
    core: res.core,
    format: config.sourceDialect === "mysql" ? config.sourceFormat : config.sourceDialect,
    decodeOptions: { width: config.sourceClickHouseWidth },
    segmentBits: config.segmentBits,
    maxDrift: config.syncMaxDrift,
    sourceDescription: { dialect: config.sourceDialect, table: config.sourceTable },
    ...(res.log ? { log: res.log } : {}),
  };
  return {
    deps,
    store: res.store,
    redis: res.redis,
    abandonReads: () => res.abandonReads(),
    close: () => res.close(),
  };
}

/** A sync context with resources of its own (a CLI command, a test). */
export function createSyncContext(config: Config, log?: Logger): SyncContext {
  return syncContextOf(new Resources(config, log));
}
