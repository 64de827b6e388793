// One typed configuration, read from the environment and, optionally, a JSON file named by
// BITSYNC_CONFIG (keys are the same variable names; the environment wins). Every setting has a
// default and a help line; a bad value throws ConfigError naming the variable.
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { ConfigError } from "../errors.js";
import { parseAudienceId } from "../input.js";
import { DEFAULT_SEGMENT_BITS } from "./defaults.js";

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
  sourceFormat: "starrocks" | "doris" | "clickhouse" | "portable";
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
  /** Topic malformed registrations go to, with the reason and the original bytes. */
  dlqTopic: string;
  /** Consumer group of the registration consumer. */
  consumerGroup: string;
  /** Time the group waits for a silent consumer before reassigning its partitions, ms. */
  consumerSessionTimeoutMs: number;
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

type Env = Record<string, string | undefined>;

interface Setting<K extends keyof Config> {
  key: K;
  env: string;
  help: string;
  default: string;
  /** Never printed: `bitsync config` shows it as ***. */
  secret?: boolean;
  parse(raw: string, env: string): Config[K];
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

function url(protocols: string[]) {
  return (raw: string, env: string): string => {
    let parsed: URL;
    try {
      parsed = new URL(raw);
    } catch {
      throw new ConfigError(`${env}=${redact(raw)} is not a URL; expected e.g. ${protocols[0]}//host:port`);
    }
    if (!protocols.includes(parsed.protocol)) {
      throw new ConfigError(`${env} must use ${protocols.join(" or ")}, got ${parsed.protocol}`);
    }
    return raw;
  };
}

function integer(min: number, max: number) {
  return (raw: string, env: string): number => {
    // Decimal digits only: Number() would also take "0x1F90", "1e3", " 8080 " and "".
    const v = /^(0|[1-9]\d*)$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isInteger(v) || v < min || v > max) {
      throw new ConfigError(`${env}=${raw} must be an integer in [${min}, ${max}]`);
    }
    return v;
  };
}

export const SETTINGS = [
  {
    key: "redisUrl",
    env: "REDIS_URL",
    default: "redis://127.0.0.1:6379",
    help: "Redis URL (redis:// or rediss://) for segments, versions and the ID mapping",
    parse: url(["redis:", "rediss:"]),
  } satisfies Setting<"redisUrl">,
  {
    key: "mysqlUrl",
    env: "MYSQL_URL",
    default: "mysql://root@127.0.0.1:9030/",
    help: "Bitmap source over the MySQL protocol: StarRocks FE (port 9030), Doris, or MySQL/MariaDB",
    parse: url(["mysql:"]),
  } satisfies Setting<"mysqlUrl">,
  {
    key: "kafkaBrokers",
    env: "KAFKA_BROKERS",
    default: "127.0.0.1:9092",
    help: "Comma-separated Kafka bootstrap brokers host:port",
    parse: (raw: string, env: string): string[] => hostPorts(raw, env, false),
  } satisfies Setting<"kafkaBrokers">,
  {
    key: "segmentBits",
    env: "BITSYNC_SEGMENT_BITS",
    default: String(DEFAULT_SEGMENT_BITS),
    help: "Segment size as a power of two (16..32); must be the same for every audience and reader",
    parse: integer(16, 32),
  } satisfies Setting<"segmentBits">,
  {
    key: "wasmBudgetBytes",
    env: "BITSYNC_WASM_BUDGET_BYTES",
    default: String(512 * 1024 * 1024),
    help: "Most bytes of segments held in WASM memory (it never shrinks, so this caps the process)",
    parse: integer(1 << 20, 3 * 1024 * 1024 * 1024),
  } satisfies Setting<"wasmBudgetBytes">,
  {
    key: "logLevel",
    env: "BITSYNC_LOG_LEVEL",
    default: "info",
    help: `Log level: ${LOG_LEVELS.join(", ")}`,
    parse: (raw: string, env: string): Config["logLevel"] => {
      if (!(LOG_LEVELS as readonly string[]).includes(raw)) {
        throw new ConfigError(`${env}=${raw} is not one of ${LOG_LEVELS.join(", ")}`);
      }
      return raw as Config["logLevel"];
    },
  } satisfies Setting<"logLevel">,
  {
    key: "sourceDialect",
    env: "BITSYNC_SOURCE_DIALECT",
    default: "starrocks",
    help: "Source SQL dialect: starrocks, doris, or mysql (bitmaps stored as BLOBs in MySQL/MariaDB)",
    parse: oneOf(["starrocks", "doris", "mysql"] as const),
  } satisfies Setting<"sourceDialect">,
  {
    key: "sourceTable",
    env: "BITSYNC_SOURCE_TABLE",
    default: "user_group_bmp",
    help: "Source table (or db.table) with user_group_id, imp_date, hash_part, bmp",
    parse: (raw: string, env: string): string => {
      if (!/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/.test(raw)) {
        throw new ConfigError(`${env}=${raw} is not a table name (letters, digits, _; optionally db.table)`);
      }
      return raw;
    },
  } satisfies Setting<"sourceTable">,
  {
    key: "sourceColumns",
    env: "BITSYNC_SOURCE_COLUMNS",
    default: "user_group_id,imp_date,hash_part,bmp",
    help: "Source columns: audience id (BIGINT), date (INT yyyymmdd), part (INT; parts are unioned), bitmap",
    parse: (raw: string, env: string): Config["sourceColumns"] => {
      const names = raw.split(",").map((n) => n.trim());
      if (names.length !== 4) throw new ConfigError(`${env}=${raw} must name 4 columns: audience,date,part,bitmap`);
      const [audience, impDate, hashPart, bitmap] = names.map((n) => column(n, env)) as [
        string,
        string,
        string,
        string,
      ];
      return { audience, impDate, hashPart, bitmap };
    },
  } satisfies Setting<"sourceColumns">,
  {
    key: "sourceQueryTimeoutMs",
    env: "BITSYNC_SOURCE_QUERY_TIMEOUT_MS",
    default: "300000",
    help: "Client-side limit per source query, ms; the connection is dropped when it fires",
    parse: integer(1000, 86_400_000),
  } satisfies Setting<"sourceQueryTimeoutMs">,
  {
    key: "sourceCountColumn",
    env: "BITSYNC_SOURCE_COUNT_COLUMN",
    default: "-",
    help: "mysql dialect: column with each bitmap's cardinality, checked against the decoded bitmap (- for none)",
    parse: (raw: string, env: string): string | null => (raw === "-" ? null : column(raw, env)),
  } satisfies Setting<"sourceCountColumn">,
  {
    key: "sourceFormat",
    env: "BITSYNC_SOURCE_FORMAT",
    default: "starrocks",
    help: "Serialized form of bitmaps in a mysql-dialect BLOB: starrocks, doris, clickhouse or portable",
    parse: oneOf(["starrocks", "doris", "clickhouse", "portable"] as const),
  } satisfies Setting<"sourceFormat">,
  {
    key: "sourceClickHouseWidth",
    env: "BITSYNC_SOURCE_CLICKHOUSE_WIDTH",
    default: "4",
    help: "clickhouse format: element width in bytes of AggregateFunction(groupBitmap, T): 1, 2, 4 or 8",
    parse: (raw: string, env: string): 1 | 2 | 4 | 8 => {
      const v = Number(raw);
      if (v !== 1 && v !== 2 && v !== 4 && v !== 8) throw new ConfigError(`${env}=${raw} must be 1, 2, 4 or 8`);
      return v;
    },
  } satisfies Setting<"sourceClickHouseWidth">,
  {
    key: "retainVersions",
    env: "BITSYNC_RETAIN_VERSIONS",
    default: "3",
    help: "Versions kept per audience for rollback and in-flight paging, the current one included",
    parse: integer(1, 100),
  } satisfies Setting<"retainVersions">,
  {
    key: "versionTtlSeconds",
    env: "BITSYNC_VERSION_TTL_SECONDS",
    default: String(7 * 24 * 3600),
    help: "Seconds the Redis keys of a version live unless a later sync refreshes them (0: never expire)",
    parse: integer(0, 10 * 365 * 24 * 3600),
  } satisfies Setting<"versionTtlSeconds">,
  {
    key: "swapChannel",
    env: "BITSYNC_SWAP_CHANNEL",
    default: "bitsync:swap",
    help: "Redis pub/sub channel of version change notifications",
    parse: (raw: string): string => raw,
  } satisfies Setting<"swapChannel">,
  {
    key: "syncMaxDrift",
    env: "BITSYNC_SYNC_MAX_DRIFT",
    default: "0.5",
    help: "Largest relative cardinality change a sync accepts without --force (0.5 = ±50%)",
    parse: (raw: string, env: string): number => {
      const v = Number(raw);
      if (!Number.isFinite(v) || v < 0) throw new ConfigError(`${env}=${raw} must be a number >= 0`);
      return v;
    },
  } satisfies Setting<"syncMaxDrift">,
  {
    key: "syncLockTtlMs",
    env: "BITSYNC_SYNC_LOCK_TTL_MS",
    default: "30000",
    help: "Time to live of an audience's sync lock, ms; the holder extends it while it works",
    parse: integer(1000, 3_600_000),
  } satisfies Setting<"syncLockTtlMs">,
  {
    key: "cachePollMs",
    env: "BITSYNC_CACHE_POLL_MS",
    default: "5000",
    help: "How often the segment cache re-reads version heads, in case a notification was lost, ms",
    parse: integer(100, 3_600_000),
  } satisfies Setting<"cachePollMs">,
  {
    key: "startupTimeoutMs",
    env: "BITSYNC_STARTUP_TIMEOUT_MS",
    default: "10000",
    help: "How long `bitsync serve` waits at start for Redis to answer before it gives up, ms",
    parse: integer(0, 3_600_000),
  } satisfies Setting<"startupTimeoutMs">,
  {
    key: "shutdownTimeoutMs",
    env: "BITSYNC_SHUTDOWN_TIMEOUT_MS",
    default: "15000",
    help: "How long a graceful stop (SIGTERM) may take before the process logs what it waits for and exits 1, ms",
    parse: integer(100, 3_600_000),
  } satisfies Setting<"shutdownTimeoutMs">,
  {
    key: "redisCommandTimeoutMs",
    env: "BITSYNC_REDIS_COMMAND_TIMEOUT_MS",
    default: "10000",
    help: "A Redis command with no reply in this time fails (a frozen or cut-off Redis never hangs a caller), ms",
    parse: integer(100, 600_000),
  } satisfies Setting<"redisCommandTimeoutMs">,
  {
    key: "kafkaGiveUpMs",
    env: "BITSYNC_KAFKA_GIVE_UP_MS",
    default: "300000",
    help: "How long the registration consumer retries unreachable brokers before it stops (0: retry for ever), ms",
    parse: integer(0, 86_400_000),
  } satisfies Setting<"kafkaGiveUpMs">,
  {
    key: "httpHeadersTimeoutMs",
    env: "BITSYNC_HTTP_HEADERS_TIMEOUT_MS",
    default: "10000",
    help: "Longest time a client may take to send a request's headers before its connection is closed, ms",
    parse: integer(100, 600_000),
  } satisfies Setting<"httpHeadersTimeoutMs">,
  {
    key: "httpRequestTimeoutMs",
    env: "BITSYNC_HTTP_REQUEST_TIMEOUT_MS",
    default: "30000",
    help: "Longest time a client may take to send a whole request (headers and body), ms",
    parse: integer(100, 3_600_000),
  } satisfies Setting<"httpRequestTimeoutMs">,
  {
    key: "httpKeepAliveTimeoutMs",
    env: "BITSYNC_HTTP_KEEPALIVE_TIMEOUT_MS",
    default: "5000",
    help: "Idle time after which a keep-alive connection is closed (keep it above a load balancer's idle timeout), ms",
    parse: integer(100, 3_600_000),
  } satisfies Setting<"httpKeepAliveTimeoutMs">,
  {
    key: "httpMaxConnections",
    env: "BITSYNC_HTTP_MAX_CONNECTIONS",
    default: "0",
    help: "Most open client connections per process; more are closed at once (0: the file descriptor limit less 256, at most 16384)",
    parse: integer(0, 1_000_000),
  } satisfies Setting<"httpMaxConnections">,
  {
    key: "syncWriteChunkBytes",
    env: "BITSYNC_SYNC_WRITE_CHUNK_BYTES",
    default: String(8 << 20),
    help: "Bytes of segments a sync sends per pipelined round trip to Redis",
    parse: integer(1, 1 << 30),
  } satisfies Setting<"syncWriteChunkBytes">,
  {
    key: "syncWriteBytesPerSecond",
    env: "BITSYNC_SYNC_WRITE_BYTES_PER_S",
    default: "0",
    help: "Upper bound on the segment bytes a sync writes to Redis per second, so a bulk sync leaves room for serving (0: none)",
    parse: integer(0, 2 ** 40),
  } satisfies Setting<"syncWriteBytesPerSecond">,
  {
    key: "redisClusterNodes",
    env: "REDIS_CLUSTER_NODES",
    default: "",
    help: "Comma-separated host:port seed nodes of a Redis Cluster for the ID mapping (empty: use REDIS_URL)",
    parse: (raw: string, env: string): string[] => hostPorts(raw, env, true),
  } satisfies Setting<"redisClusterNodes">,
  {
    key: "kafkaClientId",
    env: "BITSYNC_KAFKA_CLIENT_ID",
    default: "bitsync",
    help: "Kafka client id",
    parse: topicName,
  } satisfies Setting<"kafkaClientId">,
  {
    key: "registrationTopic",
    env: "BITSYNC_REGISTRATION_TOPIC",
    default: "user-registered",
    help: "Topic of user registrations (JSON {uid, corpId, ...}, keyed by uid) that the mapper consumes",
    parse: topicName,
  } satisfies Setting<"registrationTopic">,
  {
    key: "mappingTopic",
    env: "BITSYNC_MAPPING_TOPIC",
    default: "id-mapping",
    help: "Topic every mapping is published to: key uid, value {uid, corpId, bit}",
    parse: topicName,
  } satisfies Setting<"mappingTopic">,
  {
    key: "dlqTopic",
    env: "BITSYNC_DLQ_TOPIC",
    default: "user-registered.dlq",
    help: "Dead-letter topic for malformed registrations: the original bytes, the reason in headers",
    parse: topicName,
  } satisfies Setting<"dlqTopic">,
  {
    key: "consumerGroup",
    env: "BITSYNC_CONSUMER_GROUP",
    default: "bitsync-mapper",
    help: "Kafka consumer group of the registration consumer",
    parse: topicName,
  } satisfies Setting<"consumerGroup">,
  {
    key: "consumerSessionTimeoutMs",
    env: "BITSYNC_CONSUMER_SESSION_TIMEOUT_MS",
    default: "30000",
    help: "Time the group waits for a silent (crashed) consumer before its partitions go to another, ms",
    parse: integer(3000, 300_000),
  } satisfies Setting<"consumerSessionTimeoutMs">,
  {
    key: "mapGroups",
    env: "BITSYNC_MAP_GROUPS",
    default: "16",
    help: "Allocator groups G (bit = seq * G + group); fixed once the mapping holds an ID",
    parse: integer(1, 4096),
  } satisfies Setting<"mapGroups">,
  {
    key: "mapNamespace",
    env: "BITSYNC_MAP_NAMESPACE",
    default: "map",
    help: "Key namespace of the ID mapping in Redis: keys are {NS:group}:... (1-32 letters, digits, _ . -)",
    parse: (raw: string, env: string): string => {
      if (!/^[A-Za-z0-9_.-]{1,32}$/.test(raw)) throw new ConfigError(`${env}=${raw}: use 1-32 letters, digits, _ . -`);
      return raw;
    },
  } satisfies Setting<"mapNamespace">,
  {
    key: "mapUidMaxBytes",
    env: "BITSYNC_MAP_UID_MAX_BYTES",
    default: "64",
    help: "Longest uid or corpId accepted, in UTF-8 bytes (over 64 costs memory: Redis leaves compact encoding)",
    parse: integer(1, 1024),
  } satisfies Setting<"mapUidMaxBytes">,
  {
    key: "mapUidPattern",
    env: "BITSYNC_MAP_UID_PATTERN",
    default: "^[\\x21-\\x7e]+$",
    help: "Regular expression every uid and corpId must match (default: printable ASCII, no spaces)",
    parse: (raw: string, env: string): RegExp => {
      try {
        return new RegExp(raw, "u");
      } catch (err) {
        throw new ConfigError(`${env}=${raw} is not a regular expression: ${(err as Error).message}`);
      }
    },
  } satisfies Setting<"mapUidPattern">,
  {
    key: "mapBatchSize",
    env: "BITSYNC_MAP_BATCH_SIZE",
    default: "2000",
    help: "IDs per allocation round trip to Redis",
    parse: integer(1, 100_000),
  } satisfies Setting<"mapBatchSize">,
  {
    key: "mapCacheEntries",
    env: "BITSYNC_MAP_CACHE_ENTRIES",
    default: "1000000",
    help: "Uids the process-local forward cache (uid -> bit, in WASM memory) always holds; at most twice that many",
    parse: integer(0, 100_000_000),
  } satisfies Setting<"mapCacheEntries">,
  {
    key: "httpHost",
    env: "BITSYNC_HTTP_HOST",
    default: "0.0.0.0",
    help: "Address `bitsync serve` listens on",
    parse: (raw: string, env: string): string => {
      if (!/^[A-Za-z0-9.:-]+$/.test(raw)) throw new ConfigError(`${env}=${raw} is not a host name or address`);
      return raw;
    },
  } satisfies Setting<"httpHost">,
  {
    key: "httpWorkers",
    env: "BITSYNC_HTTP_WORKERS",
    default: "1",
    help: "Processes `bitsync serve` runs the HTTP API in, sharing its port (each holds its own caches); auto: one per core",
    parse: (raw: string, env: string): number =>
      raw.trim().toLowerCase() === "auto" ? Math.min(256, availableParallelism()) : integer(1, 256)(raw, env),
  } satisfies Setting<"httpWorkers">,
  {
    key: "httpPort",
    env: "BITSYNC_HTTP_PORT",
    default: "8080",
    help: "Port `bitsync serve` listens on (0: any free port)",
    parse: integer(0, 65535),
  } satisfies Setting<"httpPort">,
  {
    key: "adminToken",
    env: "BITSYNC_ADMIN_TOKEN",
    default: "",
    help: "Bearer token of the admin routes (sync, rollback); empty: they refuse every call",
    parse: (raw: string): string => raw,
    secret: true,
  } satisfies Setting<"adminToken">,
  {
    key: "batchLimit",
    env: "BITSYNC_BATCH_LIMIT",
    default: "10000",
    help: "Most uids or bits in one batch membership check",
    parse: integer(1, 1_000_000),
  } satisfies Setting<"batchLimit">,
  {
    key: "syncIntervalSeconds",
    env: "BITSYNC_SYNC_INTERVAL_SECONDS",
    default: "300",
    help: "Default interval of the scheduled syncs of BITSYNC_AUDIENCES, seconds",
    parse: integer(5, 7 * 86_400),
  } satisfies Setting<"syncIntervalSeconds">,
  {
    key: "audiences",
    env: "BITSYNC_AUDIENCES",
    default: "",
    help: "Audiences `bitsync serve` syncs on a schedule: id[:seconds],... (default interval BITSYNC_SYNC_INTERVAL_SECONDS)",
    // Parsed after BITSYNC_SYNC_INTERVAL_SECONDS: 0 stands for "the default interval" until then.
    parse: (raw: string, env: string): { id: string; intervalSeconds: number }[] =>
      raw
        .split(",")
        .map((x) => x.trim())
        .filter((x) => x.length > 0)
        .map((item) => {
          const m = /^(\d{1,19})(?::(0|[1-9]\d{0,6}))?$/.exec(item);
          if (!m) throw new ConfigError(`${env}: "${item}" is not id or id:seconds`);
          try {
            parseAudienceId(m[1]); // one form per audience: "05001" is not a second 5001
          } catch (err) {
            throw new ConfigError(`${env}: "${item}": ${(err as Error).message}`);
          }
          const seconds = m[2] === undefined ? 0 : Number(m[2]);
          if (m[2] !== undefined && seconds < 5)
            throw new ConfigError(`${env}: "${item}": the interval must be >= 5 s`);
          return { id: m[1]!, intervalSeconds: seconds };
        }),
  } satisfies Setting<"audiences">,
  {
    key: "pageLimit",
    env: "BITSYNC_PAGE_LIMIT",
    default: "10000",
    help: "Most members in one page of GET /v1/audiences/:id/members",
    parse: integer(1, 1_000_000),
  } satisfies Setting<"pageLimit">,
] as const;

function hostPorts(raw: string, env: string, allowEmpty: boolean): string[] {
  const list = raw
    .split(",")
    .map((b) => b.trim())
    .filter((b) => b.length > 0);
  for (const b of list) {
    if (!/^[^\s:]+:\d+$/.test(b)) throw new ConfigError(`${env}: "${b}" is not host:port`);
  }
  if (list.length === 0 && !allowEmpty) throw new ConfigError(`${env} names no host:port`);
  return list;
}

function topicName(raw: string, env: string): string {
  if (!/^[A-Za-z0-9._-]{1,249}$/.test(raw)) {
    throw new ConfigError(`${env}=${raw} must be 1-249 characters of letters, digits, ., _ and -`);
  }
  return raw;
}

function column(raw: string, env: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(raw)) throw new ConfigError(`${env}=${raw} is not a column name`);
  return raw;
}

function oneOf<T extends string>(values: readonly T[]) {
  return (raw: string, env: string): T => {
    if (!(values as readonly string[]).includes(raw)) {
      throw new ConfigError(`${env}=${raw} is not one of ${values.join(", ")}`);
    }
    return raw as T;
  };
}

/** Thrown inside jsonErrorOffset where the text stops being JSON. */
class JsonStop {
  constructor(readonly at: number) {}
}

const JSON_NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/**
 * The offset of the first character of `text` that cannot continue valid JSON (text.length: it
 * ends too soon), or undefined if none is found. For error messages that must not quote the text.
 */
function jsonErrorOffset(text: string): number | undefined {
  let i = 0;
  const stop = (): never => {
    throw new JsonStop(i);
  };
  const space = (): void => {
    while (i < text.length && " \t\n\r".includes(text[i]!)) i++;
  };
  const expect = (ch: string): void => {
    if (text[i] !== ch) stop();
    i++;
  };
  const string = (): void => {
    expect('"');
    for (;;) {
      const c = text[i];
      if (c === undefined || c < " ") stop();
      i++;
      if (c === '"') return;
      if (c !== "\\") continue;
      if (text[i] === "u" && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) i += 5;
      else if (text[i] !== undefined && '"\\/bfnrt'.includes(text[i]!)) i++;
      else stop();
    }
  };
  const list = (close: string, item: () => void): void => {
    i++;
    space();
    if (text[i] === close) {
      i++;
      return;
    }
    for (;;) {
      item();
      space();
      if (text[i] !== ",") return expect(close);
      i++;
    }
  };
  const value = (): void => {
    space();
    const c = text[i];
    if (c === "{") {
      list("}", () => {
        space();
        string();
        space();
        expect(":");
        value();
      });
    } else if (c === "[") list("]", value);
    else if (c === '"') string();
    else if (c === "t" || c === "f" || c === "n") for (const ch of { t: "true", f: "false", n: "null" }[c]) expect(ch);
    else {
      JSON_NUMBER.lastIndex = i;
      if (!JSON_NUMBER.test(text)) stop();
      i = JSON_NUMBER.lastIndex;
    }
  };
  try {
    value();
    space();
    if (i < text.length) stop();
    return undefined;
  } catch (err) {
    return err instanceof JsonStop ? err.at : undefined; // a RangeError: nested too deep to scan
  }
}

/** Where a JSON text is broken, as "line L, column C", never quoting it (a config file holds secrets). */
function jsonErrorAt(text: string, err: unknown): string {
  // V8 names the offset for some errors only ("... in JSON at position N"); others quote the text.
  const named = /at position (\d+)/.exec(err instanceof Error ? err.message : "");
  const at = named ? Number(named[1]) : jsonErrorOffset(text);
  if (at === undefined) return "a syntax error";
  const before = text.slice(0, at);
  const where = `line ${before.split("\n").length}, column ${at - before.lastIndexOf("\n")}`;
  return at >= text.length ? `it ends too soon, at ${where}` : `a syntax error at ${where}`;
}

/** Reads the JSON file named by BITSYNC_CONFIG, if any. */
function fileValues(env: Env): Env {
  const path = env.BITSYNC_CONFIG;
  if (!path) return {};
  let text: string;
  try {
    text = readFileSync(path, "utf8").replace(/^\uFEFF/, "");
  } catch (err) {
    throw new ConfigError(`BITSYNC_CONFIG=${path} cannot be read: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    // Not err.message: it quotes the file around the error, and the file may hold passwords.
    throw new ConfigError(
      `BITSYNC_CONFIG=${path} is not valid JSON: ${jsonErrorAt(text, err)} (the content is not shown)`,
    );
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`BITSYNC_CONFIG=${path} must hold a JSON object of VARIABLE: value`);
  }
  const known = new Set<string>(SETTINGS.map((s) => s.env));
  const out: Env = {};
  for (const [k, v] of Object.entries(parsed)) {
    if (!known.has(k)) throw new ConfigError(`BITSYNC_CONFIG=${path}: unknown setting ${k}`);
    out[k] = String(v);
  }
  return out;
}

/** Pure: the configuration for this environment. */
export function configFromEnv(env: Env = process.env): Config {
  const file = fileValues(env);
  const out: Partial<Record<keyof Config, unknown>> = {};
  for (const s of SETTINGS) {
    const raw = env[s.env] || file[s.env] || s.default;
    out[s.key] = s.parse(raw, s.env);
  }
  const config = out as Config;
  for (const a of config.audiences) if (a.intervalSeconds === 0) a.intervalSeconds = config.syncIntervalSeconds;
  return config;
}

/** One line per setting: name, effective value (secrets redacted) and help. */
export function describeConfig(env: Env = process.env): string[] {
  const file = fileValues(env);
  const lines = SETTINGS.map((s) => {
    const raw = env[s.env] || file[s.env] || s.default;
    const shown = "secret" in s && s.secret && raw !== "" ? "***" : redact(raw);
    return `${s.env}=${shown}\n    ${s.help} (default ${s.default})`;
  });
  lines.push(
    `BITSYNC_CONFIG=${env.BITSYNC_CONFIG ?? ""}\n    Optional JSON file of VARIABLE: value; the environment wins`,
  );
  return lines;
}

/** Names of URL query options that hold a secret: password (mysql2 also reads password1..3), passwd, pwd, ... */
const SECRET_OPTION = /pass|pwd|secret|token/i;

function decoded(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Hides the secrets of a URL, for logs and help output: user:password@ and options such as ?password=. */
export function redact(value: string): string {
  // The userinfo ends at the authority's last @ (an unencoded @ may be part of the password).
  const masked = value.replace(/(\/\/[^:/?#@]*:)[^/?#]*@/, "$1***@");
  if (!masked.includes("://")) return masked;
  return masked.replace(/([?&;])([^=&;#]*)=([^&;#]+)/g, (all, sep: string, name: string) =>
    SECRET_OPTION.test(decoded(name)) ? `${sep}${name}=***` : all,
  );
}
