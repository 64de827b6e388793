import { Cluster, Redis, type RedisOptions } from "ioredis";
import type { RedisLike } from "./cluster.js";
import type { Logger } from "pino";
import { redact } from "../config/config.js";
import { BitsyncError } from "../errors.js";
import { REDIS_RECONNECT, backoffDelay } from "../util/backoff.js";

/** Redis did not answer at start: nothing can be served or synced without it. */
export class RedisUnavailableError extends BitsyncError {}

export interface RedisClientOptions {
  /** Connection name shown by CLIENT LIST. */
  name?: string;
  /** A command without a reply in this time fails: a frozen or cut-off Redis never hangs a caller. */
  commandTimeoutMs?: number;
}

/**
 * A Redis client for bitsync: keeps reconnecting with capped backoff. Commands wait for the first
 * connection (a process started together with its Redis), but once it has been up, a command
 * sent while it is away fails at once rather than queueing through the reconnects: a request
 * that needs Redis gets its 503 in microseconds, not seconds. Every command has a deadline.
 */
export function createRedis(url: string, log?: Logger, opts: RedisClientOptions = {}): Redis {
  const redis = new Redis(url, {
    connectionName: opts.name ?? "bitsync",
    maxRetriesPerRequest: 2,
    enableAutoPipelining: true,
    retryStrategy: (times) => backoffDelay(times, REDIS_RECONNECT),
    commandTimeout: opts.commandTimeoutMs ?? 10_000,
  });
  redis.on("error", (err: Error) => log?.warn({ err, redis: redact(url) }, "redis connection error"));
  redis.once("ready", () => void (redis.options.enableOfflineQueue = false));
  return redis;
}

/**
 * A second connection to the same server or cluster (subscriber, bulk writes) that waits for its
 * own first connection: the original's fail-fast switch is not copied to it. On a cluster,
 * `overrides` apply to the connection of every node; `enableAutoPipelining` to the cluster.
 */
export function duplicateRedis<R extends RedisLike>(redis: R, name: string, overrides: Partial<RedisOptions> = {}): R {
  if (redis instanceof Cluster) {
    const { enableAutoPipelining, ...perNode } = overrides;
    return redis.duplicate([], {
      ...(enableAutoPipelining !== undefined ? { enableAutoPipelining } : {}),
      redisOptions: { ...redis.options.redisOptions, ...perNode, connectionName: name },
    }) as R;
  }
  const single = redis as Redis;
  const dup = single.duplicate({ ...overrides, connectionName: name, enableOfflineQueue: true });
  dup.once("ready", () => void (dup.options.enableOfflineQueue = false));
  return dup as R;
}

// What ioredis says when the server is away, frozen or cut off; not a reply of the server.
const UNREACHABLE =
  /Too many Cluster redirections|CLUSTERDOWN|Failed to refresh slots cache|Stream isn't writeable|Connection is closed|Command timed out|max retries per request|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EAI_AGAIN/i;

/** Whether `err` says that Redis could not be reached (as opposed to a reply of the server). */
export function isRedisUnreachable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === "MaxRetriesPerRequestError" || err.name === "ClusterAllFailedError") return true;
  const code = (err as { code?: unknown }).code;
  return UNREACHABLE.test(err.message) || (typeof code === "string" && UNREACHABLE.test(code));
}

/**
 * Waits until Redis (or the cluster, its slots known) is ready, for up to `timeoutMs` (a daemon
 * started together with its Redis gets a moment), then fails with a message naming `where`
 * (the URL, or the cluster's seed nodes).
 */
export async function ensureReachable(redis: RedisLike, where: string, timeoutMs: number): Promise<void> {
  // Waits for the connection rather than queueing PINGs: a command left in the offline queue
  // would hold its own timer, and the process, after a failed start.
  let lastError = "no connection yet";
  const onError = (err: Error): void => void (lastError = err.message);
  let timer: NodeJS.Timeout | undefined;
  let onReady: (() => void) | undefined;
  redis.on("error", onError);
  try {
    if (redis.status === "ready") return;
    const ready = await new Promise<boolean>((resolve) => {
      onReady = () => resolve(true);
      redis.once("ready", onReady);
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    if (!ready) {
      throw new RedisUnavailableError(
        `Redis at ${where} did not answer within ${timeoutMs / 1000} s (${lastError}): ` +
          `start it, or point ${redis instanceof Cluster ? "REDIS_CLUSTER_NODES" : "REDIS_URL"} at it`,
      );
    }
  } finally {
    clearTimeout(timer);
    if (onReady) redis.off("ready", onReady);
    redis.off("error", onError);
  }
}

/** QUIT (pending replies arrive first), but a Redis that does not answer within 1 s is cut off. */
export async function closeRedis(redis: RedisLike): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((r) => (timer = setTimeout(r, 1000)));
  await Promise.race([redis.quit().catch(() => undefined), late]);
  clearTimeout(timer);
  redis.disconnect();
}
