// Wires the ID mapping from the configuration: a Redis or Redis Cluster client and the mapper,
// shared by the CLI, the consumer daemon, serving and the tests.
import type { Logger } from "pino";
import type { Config } from "../config/config.js";
import { closeRedis, createRedis } from "../redis/client.js";
import { createRedisCluster, type RedisLike } from "../redis/cluster.js";
import type { BitmapCore } from "../wasm/core.js";
import { IdMapper } from "./mapper.js";

export interface MappingContext {
  redis: RedisLike;
  mapper: IdMapper;
  close(): Promise<void>;
}

/** `core`: the WASM core whose memory holds the forward cache (serving shares its own). */
export function createMappingContext(config: Config, log?: Logger, opts: { core?: BitmapCore } = {}): MappingContext {
  const redis: RedisLike =
    config.redisClusterNodes.length > 0
      ? createRedisCluster(config.redisClusterNodes, log, {
          name: "bitsync-mapping",
          commandTimeoutMs: config.redisCommandTimeoutMs,
        })
      : createRedis(config.redisUrl, log, { name: "bitsync-mapping", commandTimeoutMs: config.redisCommandTimeoutMs });
  const mapper = new IdMapper(redis, {
    groups: config.mapGroups,
    namespace: config.mapNamespace,
    rules: { maxBytes: config.mapUidMaxBytes, pattern: config.mapUidPattern },
    batchSize: config.mapBatchSize,
    cacheEntries: config.mapCacheEntries,
    ...(opts.core ? { core: opts.core } : {}),
  });
  return {
    redis,
    mapper,
    async close() {
      await closeRedis(redis);
    },
  };
}
