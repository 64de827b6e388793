// Parsers of setting values: each takes the raw string and the variable's name, and throws
// ConfigError naming the variable when the value is wrong.
import { ConfigError } from "../errors.js";
import { redact } from "./redact.js";

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

export function url(protocols: string[]) {
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

export function integer(min: number, max: number) {
  return (raw: string, env: string): number => {
    // Decimal digits only: Number() would also take "0x1F90", "1e3", " 8080 " and "".
    const v = /^(0|[1-9]\d*)$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isInteger(v) || v < min || v > max) {
      throw new ConfigError(`${env}=${raw} must be an integer in [${min}, ${max}]`);
    }
    return v;
  };
}

export function hostPorts(raw: string, env: string, allowEmpty: boolean): string[] {
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

export function topicName(raw: string, env: string): string {
  if (!/^[A-Za-z0-9._-]{1,249}$/.test(raw)) {
    throw new ConfigError(`${env}=${raw} must be 1-249 characters of letters, digits, ., _ and -`);
  }
  return raw;
}

export function column(raw: string, env: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(raw)) throw new ConfigError(`${env}=${raw} is not a column name`);
  return raw;
}

export function oneOf<T extends string>(values: readonly T[]) {
  return (raw: string, env: string): T => {
    if (!(values as readonly string[]).includes(raw)) {
      throw new ConfigError(`${env}=${raw} is not one of ${values.join(", ")}`);
    }
    return raw as T;
  };
}
