// The typed configuration every module reads (settings.ts fills it from the environment).

export interface Config {
  /** Redis holding versioned segments and the ID mapping. */
  redisUrl: string;
  /** The bitmap source: StarRocks FE's MySQL port in production (mysql:// URL). */
  mysqlUrl: string;
  /** Kafka bootstrap brokers. */
  kafkaBrokers: string[];
  /** Each segment covers 2^segmentBits positions; one value for the whole deployment. */
  segmentBits: number;
  /** Byte budget of the WASM core's resident blobs (the in-process segment cache). */
  wasmBudgetBytes: number;
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  /** How the source is queried. */
  sourceDialect: "starrocks" | "doris" | "mysql";
  /** Source table, optionally db.table. */
  sourceTable: string;
  /** Source column names. */
  sourceColumns: { audience: string; impDate: string; hashPart: string; bitmap: string };
  /** Client-side limit per source query, ms. */
  sourceQueryTimeoutMs: number;
  /** mysql dialect: a column holding each bitmap's cardinality (integrity check); null for none. */
  sourceCountColumn: string | null;
  /** Serialized form of the bitmap bytes in a `mysql` dialect BLOB. */
  sourceFormat: "starrocks" | "doris" | "clickhouse" | "portable" | "portable64";
  /** clickhouse format: sizeof(T) of groupBitmap's element type, which the bytes do not carry. */
  sourceClickHouseWidth: 1 | 2 | 4 | 8;
  /** Versions kept per audience (rollback, in-flight paging), the current one included. */
  retainVersions: number;
  /** Seconds the keys of a version live unless a later sync refreshes them; 0 never expires. */
  versionTtlSeconds: number;
  /** Pub/sub channel for swap and rollback notifications. */
  swapChannel: string;
  /** Largest relative change of cardinality a sync accepts without --force. */
  syncMaxDrift: number;
  /** Time to live of an audience's sync lock; the holder keeps extending it. */
  syncLockTtlMs: number;
  /** How often the cache re-reads heads, in case a notification was lost. */
  cachePollMs: number;
  /** How long `bitsync serve` waits at start for Redis to answer. */
  startupTimeoutMs: number;
  /** How long a graceful shutdown may take before the process exits non-zero anyway. */
  shutdownTimeoutMs: number;
  /** A Redis command without a reply in this time fails (a frozen or partitioned Redis). */
  redisCommandTimeoutMs: number;
  /** How long the registration consumer retries unreachable brokers before it gives up (0: never). */
  kafkaGiveUpMs: number;
  /** Longest time a client may take to send a request's headers, ms. */
  httpHeadersTimeoutMs: number;
  /** Longest time a client may take to send a whole request, ms. */
  httpRequestTimeoutMs: number;
  /** Idle time after which a keep-alive connection is closed, ms. */
  httpKeepAliveTimeoutMs: number;
  /** Most open client connections; 0: derived from the process's file descriptor limit. */
  httpMaxConnections: number;
  /** Bytes of segments per pipelined write round trip. */
  syncWriteChunkBytes: number;
  /** Upper bound on segment bytes a sync writes per second (0: none). */
  syncWriteBytesPerSecond: number;
  /** Seed nodes of a Redis Cluster (host:port); empty: REDIS_URL is a single Redis. */
  redisClusterNodes: string[];
  /** Kafka client id. */
  kafkaClientId: string;
  /** Topic of user registrations, consumed to map new IDs. */
  registrationTopic: string;
  /** Topic the new mappings are published to (key uid, value {uid, corpId, bit}). */
  mappingTopic: string;
  /** Mappings per message downstream: 1, one object keyed by uid; more, JSON arrays of up to this many. */
  mappingsPerMessage: number;
  /** Topic malformed registrations go to, with the reason and the original bytes. */
  dlqTopic: string;
  /** Consumer group of the registration consumer. */
  consumerGroup: string;
  /** Time the group waits for a silent consumer before reassigning its partitions, ms. */
  consumerSessionTimeoutMs: number;
  /** Registration partitions mapped at once by one consumer. */
  consumerConcurrency: number;
  /** Allocator groups G: bit = seq * G + group. Fixed for the life of a mapping. */
  mapGroups: number;
  /** Key namespace of the mapping: keys are {NS:g}:... */
  mapNamespace: string;
  /** Longest uid accepted, in UTF-8 bytes. */
  mapUidMaxBytes: number;
  /** Pattern every uid (and corpId) must match. */
  mapUidPattern: RegExp;
  /** IDs per allocation round trip (import and consumer batches are cut to this). */
  mapBatchSize: number;
  /** Entries of the process-local forward lookup cache. */
  mapCacheEntries: number;
  /** HTTP listen address and port of `bitsync serve`. */
  httpHost: string;
  httpPort: number;
  /** Processes `bitsync serve` runs the HTTP API in (node:cluster, one port). */
  httpWorkers: number;
  /** Bearer token of the admin routes; empty: admin routes refuse every call. */
  adminToken: string;
  /** Most uids or bits in one batch check. */
  batchLimit: number;
  /** Most members in one page. */
  pageLimit: number;
  /** Audiences `bitsync serve` syncs on a schedule, each with its interval in seconds. */
  audiences: { id: string; intervalSeconds: number }[];
  /** Interval of a scheduled audience that names none, seconds. */
  syncIntervalSeconds: number;
}
