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

/**
 * Whether every server the client writes to answers a PING within `timeoutMs`: the one Redis,
 * or on a cluster the master of every slot range as the cluster itself names them (CLUSTER
 * SLOTS), which must cover all 16384 slots. A master that died is still named there until its
 * replica is promoted, and does not answer: "down" for exactly that window.
 */
export async function pingEvery(redis: RedisLike, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), timeoutMs)));
  try {
    const check = (redis instanceof Cluster ? mastersAnswer(redis) : redis.ping().then(() => true)).catch(() => false);
    return await Promise.race([check, late]);
  } finally {
    clearTimeout(timer);
  }
}

async function mastersAnswer(cluster: Cluster): Promise<boolean> {
  const ranges = await cluster.cluster("SLOTS");
  const known = new Map(cluster.nodes("all").map((n) => [`${n.options.host}:${n.options.port}`, n]));
  let covered = 0;
  const masters = new Set<Redis>();
  for (const [start, end, master] of ranges) {
    covered += end - start + 1;
    const node = master && known.get(`${master[0]}:${master[1]}`);
    if (!node) return false; // a master the client has no connection to yet: not ready to write there
    masters.add(node);
  }
  if (covered < CLUSTER_SLOTS) return false;
  await Promise.all([...masters].map((m) => m.ping()));
  return true;
}

const CLUSTER_SLOTS = 16384;

/** Each server of a client: the one Redis, or every master of the cluster as the client knows them. */
export function serversOf(redis: RedisLike): Redis[] {
  return redis instanceof Cluster ? redis.nodes("master") : [redis];
}

/**
 * Every key matching `pattern`, by SCAN (never KEYS: it would block a server holding millions):
 * on a cluster, on every master, since SCAN walks one node's keys.
 */
export async function scanKeys(redis: RedisLike, pattern: string): Promise<string[]> {
  const out: string[] = [];
  for (const server of serversOf(redis)) {
    let cursor = "0";
    do {
      const [next, keys] = await server.scan(cursor, "MATCH", pattern, "COUNT", 1000);
      out.push(...keys);
      cursor = next;
    } while (cursor !== "0");
  }
  return out;
}
