// One typed configuration, read from the environment and, optionally, a JSON file named by
// BITSYNC_CONFIG (keys are the same variable names; the environment wins). Every setting has a
// default and a help line (settings.ts); a bad value throws ConfigError naming the variable.
import { readFileSync } from "node:fs";
import { ConfigError } from "../errors.js";
import { jsonErrorAt } from "./json-position.js";
import { redact } from "./redact.js";
import { SETTINGS, type Config, type Env } from "./settings.js";

export { SETTINGS, type Config } from "./settings.js";
export { redact } from "./redact.js";

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

/**
 * The configuration of this environment: its variables, and the JSON file BITSYNC_CONFIG names
 * (read here, the one I/O it does); the environment wins over the file.
 */
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
