import { Redis } from "ioredis";
import type { Logger } from "pino";
import { redact } from "../config/config.js";
import { BitsyncError } from "../errors.js";

/** Redis did not answer at start: nothing can be served or synced without it. */
export class RedisUnavailableError extends BitsyncError {}

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

/**
 * Waits until Redis answers a PING, for up to `timeoutMs` (a daemon started together with its
 * Redis gets a moment), then fails with a message naming the URL.
 */
export async function ensureReachable(redis: Redis, url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await redis.ping();
      return;
    } catch (err) {
      if (Date.now() >= deadline) {
        throw new RedisUnavailableError(
          `Redis at ${redact(url)} did not answer within ${timeoutMs / 1000} s ` +
            `(${err instanceof Error ? err.message : String(err)}): start it, or point REDIS_URL at it`,
          { cause: err },
        );
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}
