// The Lua scripts (scripts/lua/*.lua), read once at start and registered on each client with
// defineCommand: ioredis calls them by SHA and reloads a script only on NOSCRIPT.
import { readFileSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { RedisLike } from "./cluster.js";
import { BitsyncError } from "../errors.js";

const SCRIPT_NAMES = [
  "beginVersion",
  "swap",
  "rollback",
  "gc",
  "unlock",
  "extendLock",
  "mapAllocate",
  "mapLookup",
  "mapReverse",
  "mapIdentity",
] as const;
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

/**
 * A script's source with each `-- #include NAME` line replaced by scripts/lua/lib/NAME.lua:
 * EVALSHA scripts cannot share code, so shared helpers are inlined once, at load.
 */
function withIncludes(dir: string, name: string): string {
  return readFileSync(`${dir}${name}.lua`, "utf8").replace(/^-- #include (\w+)$/gm, (_, lib: string) =>
    readFileSync(`${dir}lib/${lib}.lua`, "utf8"),
  );
}

function loadSources(): Map<ScriptName, string> {
  if (!sources) {
    const dir = scriptsDir();
    sources = new Map(SCRIPT_NAMES.map((n) => [n, withIncludes(dir, n)]));
  }
  return sources;
}

/**
 * Negative replies of the audience scripts (beginVersion, swap, rollback, gc); versions/errors.ts
 * maps each to its typed error. The scripts' headers name the same codes.
 */
export const AudienceScriptCode = {
  LOCK_LOST: -1,
  HEAD_MOVED: -2,
  INCOMPLETE: -3,
  NOT_RETAINED: -4,
  EXPIRED: -5,
} as const;

/**
 * Negative replies of the mapping scripts (mapAllocate, mapLookup, mapIdentity);
 * mapping/errors.ts maps each to its typed error.
 */
export const MappingScriptCode = {
  /** The mapping was made with another allocator group count. */
  GROUP_COUNT: -1,
  /** A uid of the call hashes to another group. */
  WRONG_GROUP: -2,
  /** A uid's hash is not the one the client sent (mapAllocate hashes a sample itself). */
  BAD_HASH: -3,
} as const;

type Arg = string | number | Buffer;

export interface BitsyncScripts {
  beginVersion(
    head: string,
    lock: string,
    versions: string,
    token: string,
    ttl: number,
    epoch: string,
  ): Promise<[number, string, string] | number>;
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
  /** ARGV as values or arrays of them (ioredis flattens one level). */
  mapAllocate(meta: string, ...args: (string | number | (string | number)[])[]): Promise<number[] | number>;
  mapLookup(meta: string, ...args: (string | number | (string | number)[])[]): Promise<number[] | number>;
  mapReverse(meta: string, seqs: string): Promise<string>;
  mapIdentity(meta: string, groups: number, id: string): Promise<string | number>;
}

const FIXED_KEYS: Partial<Record<ScriptName, number>> = {
  beginVersion: 3,
  rollback: 2,
  unlock: 1,
  extendLock: 1,
  mapAllocate: 1,
  mapLookup: 1,
  mapReverse: 1,
  mapIdentity: 1,
};

/**
 * Registers the scripts on a client, a Redis or a Cluster (idempotent), and returns it typed.
 * On a Cluster each call goes to the node of its first key's slot, so all its keys must share
 * a hash tag.
 */
export function withScripts<R extends RedisLike>(redis: R): R & BitsyncScripts {
  const r = redis as R & BitsyncScripts & { __bitsyncScripts?: true };
  if (!r.__bitsyncScripts) {
    for (const [name, lua] of loadSources()) {
      const numberOfKeys = FIXED_KEYS[name];
      r.defineCommand(name, numberOfKeys === undefined ? { lua } : { lua, numberOfKeys });
    }
    r.__bitsyncScripts = true;
  }
  return r;
}
