// Wires the sync's dependencies from the configuration: one place that knows how a source,
// a store and a core are made, shared by the CLI, the daemon and the tests.
import type { Logger } from "pino";
import type { Redis } from "ioredis";
import type { Config } from "../config/config.js";
import { createRedis } from "../redis/client.js";
import { createBitmapSource } from "../source/reader.js";
import { BitmapCore } from "../wasm/core.js";
import { VersionStore } from "./store.js";
import type { SyncDeps } from "./sync.js";

export interface SyncContext {
  deps: SyncDeps;
  store: VersionStore;
  redis: Redis;
  /** Closes the source now: reads in flight fail at once (a stop that must not wait on them). */
  abandonReads(): Promise<void>;
  close(): Promise<void>;
}

export function storeFromConfig(redis: Redis, config: Config): VersionStore {
  return new VersionStore(redis, {
    ttlSeconds: config.versionTtlSeconds,
    retain: config.retainVersions,
    channel: config.swapChannel,
    lockTtlMs: config.syncLockTtlMs,
    writeChunkBytes: config.syncWriteChunkBytes,
    writeBytesPerSecond: config.syncWriteBytesPerSecond,
  });
}

export function createSyncContext(config: Config, log?: Logger): SyncContext {
  const redis = createRedis(config.redisUrl, log, { commandTimeoutMs: config.redisCommandTimeoutMs });
  const store = storeFromConfig(redis, config);
  const source = createBitmapSource(
    {
      url: config.mysqlUrl,
      dialect: config.sourceDialect,
      table: config.sourceTable,
      columns: config.sourceColumns,
      chunkBits: config.segmentBits,
      queryTimeoutMs: config.sourceQueryTimeoutMs,
      ...(config.sourceCountColumn ? { countColumn: config.sourceCountColumn } : {}),
      // A NULL BLOB becomes the empty value of the format the BLOBs hold.
      ...(config.sourceDialect === "mysql" ? { format: config.sourceFormat } : {}),
    },
    log,
  );
  const core = BitmapCore.create({ budgetBytes: config.wasmBudgetBytes });
  const deps: SyncDeps = {
    source,
    store,
    core,
    format: config.sourceDialect === "mysql" ? config.sourceFormat : config.sourceDialect,
    decodeOptions: { width: config.sourceClickHouseWidth },
    segmentBits: config.segmentBits,
    maxDrift: config.syncMaxDrift,
    sourceDescription: { dialect: config.sourceDialect, table: config.sourceTable },
    ...(log ? { log } : {}),
  };
  return {
    deps,
    store,
    redis,
    abandonReads: () => source.close(),
    async close() {
      await source.close();
      await store.close();
      redis.disconnect();
    },
  };
}
