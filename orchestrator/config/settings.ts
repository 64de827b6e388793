// The settings table: every setting's variable, default, help line and parser. The one source of
// the configuration and of its reference (docs/configuration.md is generated from it).
import { availableParallelism } from "node:os";
import { ConfigError } from "../errors.js";
import { parseAudienceId } from "../input.js";
import { DEFAULT_SEGMENT_BITS } from "./defaults.js";
import { LOG_LEVELS, column, hostPorts, integer, oneOf, topicName, url } from "./parsers.js";
import type { Config } from "./types.js";

export type { Config } from "./types.js";

export type Env = Record<string, string | undefined>;

export interface Setting<K extends keyof Config> {
  key: K;
  env: string;
  help: string;
  default: string;
  /** Never printed: `bitsync config` shows it as ***. */
  secret?: boolean;
  parse(raw: string, env: string): Config[K];
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
    help: "Serialized form of bitmaps in a mysql-dialect BLOB: starrocks, doris, clickhouse, portable (32-bit) or portable64 (the Roaring 64-bit portable format of CRoaring, Go and Java)",
    parse: oneOf(["starrocks", "doris", "clickhouse", "portable", "portable64"] as const),
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
    help: "Comma-separated host:port seed nodes of a Redis Cluster for everything: the ID mapping, every audience, swap notices (REDIS_URL is then unused; empty: use REDIS_URL)",
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
    key: "mappingsPerMessage",
    env: "BITSYNC_MAPPINGS_PER_MESSAGE",
    default: "1",
    help:
      "Mappings per message on BITSYNC_MAPPING_TOPIC: 1 is one {uid, corpId, bit} keyed by uid; more is a JSON " +
      "array of up to that many (Routine Load with strip_outer_array; the topic must then not be compacted)",
    parse: integer(1, 10_000),
  } satisfies Setting<"mappingsPerMessage">,
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
    key: "consumerConcurrency",
    env: "BITSYNC_CONSUMER_CONCURRENCY",
    default: "4",
    help:
      "Partitions of the registration topic one consumer maps at once (each partition stays in order); " +
      "batches of different partitions overlap their Redis and Kafka round trips",
    parse: integer(1, 256),
  } satisfies Setting<"consumerConcurrency">,
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
