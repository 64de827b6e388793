// The ID mapping's dependencies, taken from the process's resources (runtime/resources.ts): the
// Redis or Redis Cluster client and the mapper, shared by the CLI, the consumer, serving and tests.
import type { Kafka } from "kafkajs";
import type { Logger } from "pino";
import type { Config } from "../config/config.js";
import type { RedisLike } from "../redis/cluster.js";
import { Resources } from "../runtime/resources.js";
import { IdMapper } from "./mapper.js";

export interface MappingContext {
  redis: RedisLike;
  mapper: IdMapper;
  /** The process's Kafka client (made on first use). */
  readonly kafka: Kafka;
  /** Closes the resources (those of the caller's Resources when it passed its own). */
  close(): Promise<void>;
}

/** The mapping's view of `res`: its forward cache lives in the process's one WASM core. */
export function mappingContextOf(res: Resources): MappingContext {
  const { config } = res;
  const mapper = new IdMapper(res.mappingRedis, {
    groups: config.mapGroups,
    namespace: config.mapNamespace,
    rules: { maxBytes: config.mapUidMaxBytes, pattern: config.mapUidPattern },
    batchSize: config.mapBatchSize,
    cacheEntries: config.mapCacheEntries,
    ...(config.mapCacheEntries > 0 ? { core: res.core } : {}),
  });
  return {
    redis: res.mappingRedis,
    mapper,
    get kafka() {
      return res.kafka;
    },
    close: () => res.close(),
  };
}

/** A mapping context with resources of its own (a CLI command, a test). */
export function createMappingContext(config: Config, log?: Logger): MappingContext {
  return mappingContextOf(new Resources(config, log));
}
