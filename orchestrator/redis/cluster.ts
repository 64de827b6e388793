import { Cluster, type Redis } from "ioredis";
import type { Logger } from "pino";
import { BitsyncError } from "../errors.js";
import type { RedisClientOptions } from "./client.js";
import { REDIS_RECONNECT, backoffDelay } from "../util/backoff.js";

/** Either kind of client: code that only sends single-slot commands and scripts takes both. */
export type RedisLike = Redis | Cluster;

/** "host:port" (as REDIS_CLUSTER_NODES holds them) to what ioredis expects. */
function parseNode(node: string): { host: string; port: number } {
  const m = /^([^\s:]+):(\d+)$/.exec(node.trim());
  const port = Number(m?.[2]);
  if (!m || port < 1 || port > 65535) throw new BitsyncError(`Redis Cluster node "${node}" is not host:port`);
  return { host: m[1]!, port };
}

/**
 * A Redis Cluster client for bitsync, from seed nodes "host:port" (the others are discovered).
 * Reads and writes go to the masters. A command follows at most 16 MOVED/ASK redirections (the
 * same budget covers its retries on TRYAGAIN, CLUSTERDOWN and a node's lost connection), then
 * fails. When no node answers, the client re-discovers the cluster with backoff capped at 2 s
 * and commands wait for it. Every key of a command or script must hash to one slot: keys share
 * a hash tag such as {map:G}.
 */
export function createRedisCluster(nodes: string[], log?: Logger, opts: RedisClientOptions = {}): Cluster {
  if (nodes.length === 0) throw new BitsyncError("a Redis Cluster client needs at least one seed node");
  const cluster = new Cluster(nodes.map(parseNode), {
    scaleReads: "master",
    enableAutoPipelining: true,
    // MOVED/ASK hops per command: a resharding moves a slot once; more means a broken topology.
    maxRedirections: 16,
    clusterRetryStrategy: (times) => backoffDelay(times, REDIS_RECONNECT),
    redisOptions: {
      connectionName: opts.name ?? "bitsync",
      maxRetriesPerRequest: 2,
      commandTimeout: opts.commandTimeoutMs ?? 10_000,
    },
  });
  // Without listeners, an "error" event would crash the process.
  cluster.on("error", (err: Error) => log?.warn({ err, redisCluster: nodes }, "redis cluster connection error"));
  cluster.on("node error", (err: Error, node: string) =>
    log?.warn({ err, redisCluster: nodes, node }, "redis cluster node error"),
  );
  return cluster;
}
