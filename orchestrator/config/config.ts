// One typed configuration, read from the environment and, optionally, a JSON file named by
// BITSYNC_CONFIG (keys are the same variable names; the environment wins). Every setting has a
// default and a help line; a bad value throws ConfigError naming the variable.
import { readFileSync } from "node:fs";
import { ConfigError } from "../errors.js";
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
}

type Env = Record<string, string | undefined>;

interface Setting<K extends keyof Config> {
  key: K;
  env: string;
  help: string;
  default: string;
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
    const v = Number(raw);
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
    parse: (raw: string, env: string): string[] => {
      const brokers = raw
        .split(",")
        .map((b) => b.trim())
        .filter((b) => b.length > 0);
      for (const b of brokers) {
        if (!/^[^\s:]+:\d+$/.test(b)) throw new ConfigError(`${env}: broker "${b}" is not host:port`);
      }
      if (brokers.length === 0) throw new ConfigError(`${env} names no broker`);
      return brokers;
    },
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
] as const;

/** Reads the JSON file named by BITSYNC_CONFIG, if any. */
function fileValues(env: Env): Env {
  const path = env.BITSYNC_CONFIG;
  if (!path) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new ConfigError(`BITSYNC_CONFIG=${path} could not be read as JSON: ${(err as Error).message}`);
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
  return out as Config;
}

/** One line per setting: name, effective value (secrets redacted) and help. */
export function describeConfig(env: Env = process.env): string[] {
  const file = fileValues(env);
  return SETTINGS.map((s) => {
    const raw = env[s.env] || file[s.env] || s.default;
    return `${s.env}=${redact(raw)}\n    ${s.help} (default ${s.default})`;
  });
}

/** Hides the password in a URL, for logs and help output. */
export function redact(value: string): string {
  return value.replace(/(\/\/[^:/@]*:)[^@/]*@/, "$1***@");
}
