import { Redis } from "ioredis";
import type { Logger } from "pino";
import { redact } from "../config/config.js";

/**
 * A Redis client for bitsync: keeps reconnecting with capped backoff, and does not queue
 * commands forever while disconnected (callers see an error and can degrade).
 */
export function createRedis(url: string, log?: Logger, name = "bitsync"): Redis {
  const redis = new Redis(url, {
    connectionName: name,
    maxRetriesPerRequest: 2,
    enableAutoPipelining: true,
    retryStrategy: (times) => Math.min(50 * 2 ** times, 2000),
  });
  redis.on("error", (err: Error) => log?.warn({ err, redis: redact(url) }, "redis connection error"));
  return redis;
}
