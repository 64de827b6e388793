// The Lua scripts (scripts/lua/*.lua), read once at start and registered on each client with
// defineCommand: ioredis calls them by SHA and reloads a script only on NOSCRIPT.
import { readFileSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Redis } from "ioredis";
import { BitsyncError } from "../errors.js";

const SCRIPT_NAMES = ["beginVersion", "swap", "rollback", "gc", "unlock", "extendLock"] as const;
export type ScriptName = (typeof SCRIPT_NAMES)[number];

function scriptsDir(): string {
  // Source (orchestrator/redis) and compiled (dist/orchestrator/redis) sit at different depths.
  for (const rel of ["../../scripts/lua/", "../../../scripts/lua/"]) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(dir + "swap.lua")) return dir;
  }
  throw new BitsyncError(`Lua scripts not found next to ${import.meta.url}: scripts/lua/ is missing`);
}

let sources: Map<ScriptName, string> | undefined;

function loadSources(): Map<ScriptName, string> {
  if (!sources) {
    const dir = scriptsDir();
    sources = new Map(SCRIPT_NAMES.map((n) => [n, readFileSync(`${dir}${n}.lua`, "utf8")]));
  }
  return sources;
}

/** Negative replies of the scripts; each maps to one typed error in the caller. */
export const ScriptCode = {
  LOCK_LOST: -1,
  HEAD_MOVED: -2,
  INCOMPLETE: -3,
  NOT_RETAINED: -4,
  EXPIRED: -5,
} as const;

type Arg = string | number | Buffer;

export interface BitsyncScripts {
  beginVersion(
    head: string,
    lock: string,
    versions: string,
    token: string,
    ttl: number,
  ): Promise<[number, string] | number>;
  swap(numKeys: number, ...args: Arg[]): Promise<[number, string] | number>;
  rollback(
    head: string,
    info: string,
    target: number,
    expected: string,
    channel: string,
    audience: string,
    now: number,
  ): Promise<number>;
  gc(numKeys: number, ...args: Arg[]): Promise<number>;
  unlock(lock: string, token: string): Promise<number>;
  extendLock(lock: string, token: string, ms: number): Promise<number>;
}

const FIXED_KEYS: Partial<Record<ScriptName, number>> = {
  beginVersion: 3,
  rollback: 2,
  unlock: 1,
  extendLock: 1,
};

/** Registers the scripts on a client (idempotent) and returns it typed. */
export function withScripts(redis: Redis): Redis & BitsyncScripts {
  const r = redis as Redis & BitsyncScripts & { __bitsyncScripts?: true };
  if (!r.__bitsyncScripts) {
    for (const [name, lua] of loadSources()) {
      const numberOfKeys = FIXED_KEYS[name];
      r.defineCommand(name, numberOfKeys === undefined ? { lua } : { lua, numberOfKeys });
    }
    r.__bitsyncScripts = true;
  }
  return r;
}
