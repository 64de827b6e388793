// The ID mapping: uid -> bit and bit -> (uid, corpId), in Redis.
//
// G allocator groups, each under its own hash tag {map:g}: a uid belongs to group hash(uid) mod G,
// and group g hands out seq 0, 1, 2, ... so the bit of a uid is seq * G + g. Bits stay dense
// across groups, and a bit's reverse entry lives in group bit mod G. Every allocation is one Lua
// script per group (scripts/lua/mapAllocate.lua): atomic, idempotent, and a uid can only ever
// reach the one group and bucket its hash names, so it never gets two bits, whoever allocates.
// The client sends each uid's hash (hashing in Lua was a third of the script's time); the script
// checks every uid's group and hashes again a sample (all of a small call, and every uid the
// client's one-block SHA-1 does not cover), so a client that hashes differently is refused.
import { Cluster, type Redis } from "ioredis";
import { BitsyncError } from "../errors.js";
import type { BitmapCore, UidScan, UidTable } from "../wasm/core.js";
import { withScripts, type BitsyncScripts } from "../redis/scripts.js";
import { checkId, readId, type IdRules } from "./ids.js";
import { uidHash } from "./hash.js";
import { mappingScriptError } from "./errors.js";
import { MapKeys } from "./keys.js";
import { mappingMemory, mappingStats, type MappingMemory, type MappingStats } from "./stats.js";

export interface MapperOptions {
  /** Allocator groups G; fixed for the life of the mapping (the scripts refuse another). */
  groups: number;
  rules: IdRules;
  /** IDs per script call (per group). */
  batchSize: number;
  /** Entries of the forward cache (0: none). */
  cacheEntries: number;
  /** Key namespace: keys are {NS:g}:... (default "map"). */
  namespace?: string;
  /** Forward buckets a new group starts with. */
  initialBuckets?: number;
  /** Mean uids per forward bucket before one is split (kept so that buckets stay listpacks). */
  bucketLoad?: number;
  /** The core whose memory holds the forward cache: required when cacheEntries > 0 (the process's
   * one core, from runtime/resources.ts; the mapper never makes one of its own). */
  core?: BitmapCore;
}

export interface Mapping {
  uid: string;
  corpId: string;
  bit: number;
}

export interface AllocateResult {
  /** One per input entry, in order (a uid given twice gets the same bit twice). */
  mappings: Mapping[];
  /** How many uids this call mapped for the first time. */
  created: number;
}

export interface RestoreResult {
  restored: number;
  /** Already mapped to the same bit. */
  unchanged: number;
  /** The uid holds another bit, or the bit belongs to another uid: left as it is. */
  conflicts: Mapping[];
}

/** The mapping in Redis was made with another group count; using it would give uids new bits. */
export { GroupCountError } from "./errors.js";
export type { GroupStats, MappingMemory, MappingStats } from "./stats.js";

const DEFAULT_INITIAL_BUCKETS = 16;
/**
 * 40: with linear hashing, a bucket not yet split this round holds up to twice the mean, and
 * 2 * 40 plus four standard deviations stays under 128, Redis' listpack limit for hashes.
 */
const DEFAULT_BUCKET_LOAD = 40;

type ScriptedRedis = (Redis | Cluster) & BitsyncScripts;

export class IdMapper {
  readonly redis: ScriptedRedis;
  readonly groups: number;
  readonly keys: MapKeys;
  readonly #options: MapperOptions;
  /** uid -> bit, in WASM memory: a batch body is looked up from its bytes (see scanUids). */
  readonly #cache: UidTable | undefined;
  /** Lookups in flight, by uid: a concurrent miss on the same uid waits for the same answer. */
  readonly #inflight = new Map<string, Promise<number | null>>();
  #initialBuckets: number;
  /** cid -> corpId per group: immutable once assigned. */
  readonly #corps = new Map<number, Map<string, string>>();

  constructor(redis: Redis | Cluster, options: MapperOptions) {
    this.redis = withScripts(redis as Redis) as unknown as ScriptedRedis;
    this.groups = options.groups;
    this.keys = new MapKeys(options.namespace ?? "map");
    this.#options = options;
    if (options.cacheEntries > 0 && !options.core) {
      throw new RangeError(
        `a forward cache of ${options.cacheEntries} entries needs the process's WASM core (options.core)`,
      );
    }
    this.#cache = options.cacheEntries > 0 ? options.core!.uidTable(options.cacheEntries) : undefined;
    this.#initialBuckets = options.initialBuckets ?? DEFAULT_INITIAL_BUCKETS;
  }

  /**
   * Sizes groups that do not exist yet for about `ids` IDs in all: they start with the buckets
   * they would reach by splitting, so a cold start of a known size splits nothing (each split
   * rehashes a bucket in Lua). Groups that exist keep their buckets. Linear hashing takes any
   * initial count, so it is not rounded to a power of two (which cost up to twice the keys).
   */
  presize(ids: number): void {
    const load = this.#options.bucketLoad ?? DEFAULT_BUCKET_LOAD;
    // 10% over: the count is an estimate, and groups differ from the mean by a few sqrt(n).
    const perGroup = Math.ceil((ids * 1.1) / this.groups / load);
    this.#initialBuckets = Math.max(DEFAULT_INITIAL_BUCKETS, perGroup);
  }

  /** Maps every uid that has no bit yet; returns every entry's bit. Throws InvalidIdError first. */
  async allocate(entries: readonly { uid: string; corpId: string }[]): Promise<AllocateResult> {
    const rules = this.#options.rules;
    for (const e of entries) {
      checkId(e.uid, "uid", rules);
      checkId(e.corpId, "corpId", rules);
    }
    const bits = new Array<number>(entries.length);
    let created = 0;
    await this.#perGroup(
      entries.map((e) => e.uid),
      async (group, idx, hashes) => {
        const { args, order } = corpRuns(
          this.#allocateHead(group, "alloc"),
          idx,
          (i) => entries[i]!.uid,
          (i) => entries[i]!.corpId,
          (i, out) => out.push(entries[i]!.uid, hashes[i]!),
        );
        const res = await this.#call("mapAllocate", group, args);
        res.forEach((v, k) => {
          const seq = v < 0 ? -v - 1 : v;
          if (v < 0) created++;
          const bit = seq * this.groups + group;
          const i = order[k]!;
          bits[i] = bit;
          this.#cache?.set(entries[i]!.uid, bit);
        });
      },
    );
    return { mappings: entries.map((e, i) => ({ uid: e.uid, corpId: e.corpId, bit: bits[i]! })), created };
  }

  /** Writes mappings with known bits (a rebuild from the downstream topic). Never moves a bit. */
  async restore(mappings: readonly Mapping[]): Promise<RestoreResult> {
    const rules = this.#options.rules;
    const out: RestoreResult = { restored: 0, unchanged: 0, conflicts: [] };
    for (const m of mappings) {
      checkId(m.uid, "uid", rules);
      checkId(m.corpId, "corpId", rules);
      if (!Number.isSafeInteger(m.bit) || m.bit < 0) throw new BitsyncError(`bit ${m.bit} of uid ${m.uid} is invalid`);
    }
    await this.#perGroup(
      mappings.map((m) => m.uid),
      async (group, idx, hashes) => {
        const kept: number[] = [];
        for (const i of idx) {
          // A bit of another group than the uid's hash: it was made with another G.
          if (mappings[i]!.bit % this.groups === group) kept.push(i);
          else out.conflicts.push(mappings[i]!);
        }
        if (kept.length === 0) return;
        const { args, order } = corpRuns(
          this.#allocateHead(group, "restore"),
          kept,
          (i) => mappings[i]!.uid,
          (i) => mappings[i]!.corpId,
          (i, out) => out.push(mappings[i]!.uid, hashes[i]!, Math.floor(mappings[i]!.bit / this.groups)),
        );
        const res = await this.#call("mapAllocate", group, args);
        res.forEach((v, k) => {
          const m = mappings[order[k]!]!;
          const seq = Math.floor(m.bit / this.groups);
          if (v === -(seq + 1)) out.restored++;
          else if (v === seq) out.unchanged++;
          else out.conflicts.push(m);
        });
      },
    );
    return out;
  }

  /** What a uid or corpId may be (ids.ts): the routes check what callers send with it. */
  get rules(): IdRules {
    return this.#options.rules;
  }

  /** The uid's bit if the process-local cache holds it (no I/O), else undefined. */
  cachedBit(uid: string): number | undefined {
    return this.#cache?.get(uid);
  }

  /** The uid cache's scan of a batch body (see serve/uid-scan.ts), or null without a cache. */
  scanCached(body: Buffer, maxItems: number): UidScan | null {
    return this.#cache?.scan(body, maxItems) ?? null;
  }

  /**
   * The bit of each uid, or null when it is not mapped. Invalid uids are simply not mapped, and
   * never sent to Redis nor cached: what the cache holds passed the rules (see bitsOf).
   * A uid already being looked up by another call waits for that answer instead of asking Redis
   * again: after a restart under load, thousands of requests miss the uid cache on the same hot uids
   * at once, and without this each of them would send its own script calls.
   */
  async lookup(uids: readonly string[]): Promise<(number | null)[]> {
    const out = new Array<number | null>(uids.length).fill(null);
    const missing: number[] = [];
    const waits: Promise<void>[] = [];
    uids.forEach((uid, i) => {
      const hit = this.#cache?.get(uid);
      if (hit !== undefined) out[i] = hit;
      else if (typeof uid === "string" && "id" in readId(uid, "uid", this.#options.rules)) {
        const pending = this.#inflight.get(uid);
        if (pending) waits.push(pending.then((bit) => void (out[i] = bit)));
        else missing.push(i);
      }
    });
    if (missing.length > 0) await this.#fetch(uids, missing, out);
    if (waits.length > 0) await Promise.all(waits);
    return out;
  }

  /** Looks up uids[i] for every i of `missing` in Redis, into `out`, announcing them in flight. */
  async #fetch(uids: readonly string[], missing: number[], out: (number | null)[]): Promise<void> {
    let settle!: () => void;
    let fail!: (err: unknown) => void;
    const done = new Promise<void>((resolve, reject) => {
      settle = resolve;
      fail = reject;
    });
    done.catch(() => undefined); // waiters see the failure; this promise itself needs no handler
    const mine = new Map<string, Promise<number | null>>();
    for (const i of missing) {
      const uid = uids[i]!;
      if (mine.has(uid)) continue;
      const p = done.then(() => out[i] ?? null);
      p.catch(() => undefined); // handled by whoever waits; no waiter must not be an unhandled rejection
      mine.set(uid, p);
      this.#inflight.set(uid, p);
    }
    try {
      await this.#perGroup(
        missing.map((i) => uids[i]!),
        async (group, idx) => {
          const args: (string | number)[] = [this.groups, group];
          for (const k of idx) args.push(uids[missing[k]!]!);
          const res = await this.#call("mapLookup", group, args);
          res.forEach((seq, k) => {
            if (seq < 0) return; // not mapped: never cached, it may be mapped any moment
            const i = missing[idx[k]!]!;
            const bit = seq * this.groups + (group as number);
            out[i] = bit;
            this.#cache?.set(uids[i]!, bit);
          });
        },
      );
      settle();
    } catch (err) {
      fail(err);
      throw err;
    } finally {
      for (const [uid, p] of mine) if (this.#inflight.get(uid) === p) this.#inflight.delete(uid);
    }
  }

  /** The uid and corpId of each bit, or null when the bit was never handed out. */
  async reverse(bits: readonly number[]): Promise<({ uid: string; corpId: string } | null)[]> {
    const G = this.groups;
    // One script call per group (mapReverse.lua): the seqs go as one string, the entries come
    // back as one string.
    const byGroup = new Map<number, { seqs: number[]; at: number[] }>();
    bits.forEach((bit, i) => {
      if (!Number.isSafeInteger(bit) || bit < 0) return;
      const g = bit % G;
      let req = byGroup.get(g);
      if (!req) byGroup.set(g, (req = { seqs: [], at: [] }));
      req.seqs.push(Math.floor(bit / G));
      req.at.push(i);
    });
    const raw = new Array<string | null>(bits.length).fill(null);
    await Promise.all(
      [...byGroup].map(async ([g, req]) => {
        const joined = await this.redis.mapReverse(this.keys.meta(g), req.seqs.join(","));
        const values = joined.split("\n");
        if (values.length !== req.seqs.length) {
          throw new BitsyncError(`mapping group ${g}: ${values.length} reverse entries for ${req.seqs.length} seqs`);
        }
        values.forEach((v, k) => (raw[req.at[k]!] = v === "" ? null : v));
      }),
    );
    // Corp names are cached per group for good (a cid never changes): fetch the unknown ones once.
    const unknown = new Set<string>();
    raw.forEach((value, i) => {
      if (value === null) return;
      const g = bits[i]! % G;
      const cid = value.slice(0, value.indexOf(":"));
      if (this.#corps.get(g)?.get(cid) === undefined) unknown.add(`${g}:${cid}`);
    });
    await Promise.all(
      [...unknown].map((gc) => {
        const [g, cid] = gc.split(":") as [string, string];
        return this.#corpOf(Number(g), cid);
      }),
    );
    return raw.map((value, i) => {
      if (value === null) return null;
      const colon = value.indexOf(":");
      return { uid: value.slice(colon + 1), corpId: this.#corps.get(bits[i]! % G)!.get(value.slice(0, colon))! };
    });
  }

  /** IDs and seqs per group (see stats.ts). */
  stats(): Promise<MappingStats> {
    return mappingStats(this.redis, this.keys, this.groups);
  }

  /** Redis bytes of the mapping, per ID (see stats.ts). */
  memory(sample = 200): Promise<MappingMemory> {
    return mappingMemory(this.redis, this.keys, this.groups, sample);
  }

  /**
   * Deletes every key of this mapping's namespace (on every master of a cluster). For demos,
   * tests and benchmarks: clearing a mapping in use would hand its uids new bits.
   */
  async clear(): Promise<number> {
    const nodes: Redis[] = this.redis instanceof Cluster ? this.redis.nodes("master") : [this.redis as Redis];
    let deleted = 0;
    for (const node of nodes) {
      let cursor = "0";
      do {
        const [next, keys] = await node.scan(cursor, "MATCH", this.keys.pattern, "COUNT", 5000);
        // One key per call: on a cluster, keys of several groups may not share a slot.
        if (keys.length > 0) deleted += (await Promise.all(keys.map((k) => node.unlink(k)))).reduce((a, b) => a + b, 0);
        cursor = next;
      } while (cursor !== "0");
    }
    this.#cache?.clear();
    this.#corps.clear();
    return deleted;
  }

  async #corpOf(group: number, cid: string): Promise<string> {
    let corps = this.#corps.get(group);
    if (!corps) this.#corps.set(group, (corps = new Map()));
    let corp = corps.get(cid);
    if (corp === undefined) {
      const v = await this.redis.hget(this.keys.corpIds(group), cid);
      if (v === null)
        throw new BitsyncError(`mapping group ${group}: corp #${cid} is missing from ${this.keys.corpIds(group)}`);
      corp = v;
      corps.set(cid, corp);
    }
    return corp;
  }

  /**
   * Splits uids by group and runs `fn` per group and chunk, all in flight at once, with every
   * uid's hash (computed once: the scripts take it rather than hash each uid again).
   */
  async #perGroup(
    uids: readonly string[],
    fn: (group: number, idx: number[], hashes: readonly number[]) => Promise<void>,
  ): Promise<void> {
    const byGroup = new Map<number, number[]>();
    const hashes = new Array<number>(uids.length);
    for (let i = 0; i < uids.length; i++) {
      const h = uidHash(uids[i]!);
      hashes[i] = h;
      const g = h % this.groups;
      const list = byGroup.get(g);
      if (list) list.push(i);
      else byGroup.set(g, [i]);
    }
    const size = this.#options.batchSize;
    const calls: Promise<void>[] = [];
    for (const [group, idx] of byGroup) {
      for (let o = 0; o < idx.length; o += size) calls.push(fn(group, idx.slice(o, o + size), hashes));
    }
    await Promise.all(calls);
  }

  /** mapAllocate's arguments before its entries: groups, group, b0, load, mode. */
  #allocateHead(group: number, mode: "alloc" | "restore"): (string | number)[] {
    return [this.groups, group, this.#initialBuckets, this.#options.bucketLoad ?? DEFAULT_BUCKET_LOAD, mode];
  }

  /** Runs a mapping script on a group's meta key; `args` are all its ARGV (mapLookup's: groups, group, uids). */
  async #call(script: "mapAllocate" | "mapLookup", group: number, args: (string | number)[]): Promise<number[]> {
    // One array, which ioredis flattens: spreading tens of thousands of arguments into a call
    // overflows the stack.
    const res = await this.redis[script](this.keys.meta(group), args);
    if (typeof res === "number") {
      throw await mappingScriptError(res, this, group);
    }
    if (!Array.isArray(res)) throw new BitsyncError(`mapping group ${group}: unexpected reply ${String(res)}`);
    return res;
  }
}

/**
 * mapAllocate's entries in runs of one corpId (corpId, count, entries...), so that a corpId is
 * sent and interned once per run rather than once per uid; `order` is the entries' order in the
 * args, which is the order of the script's replies. A uid given again in one call joins the run
 * of its first entry: the first entry's corpId is the one stored, as in the input's order.
 */
function corpRuns(
  head: (string | number)[],
  idx: readonly number[],
  uidOf: (i: number) => string,
  corpOf: (i: number) => string,
  entry: (i: number, args: (string | number)[]) => void,
): { args: (string | number)[]; order: number[] } {
  const runs = new Map<string, number[]>();
  const runOfUid = new Map<string, number[]>();
  for (const i of idx) {
    const uid = uidOf(i);
    let run = runOfUid.get(uid);
    if (!run) {
      const corp = corpOf(i);
      run = runs.get(corp);
      if (!run) runs.set(corp, (run = []));
      runOfUid.set(uid, run);
    }
    run.push(i);
  }
  const args = head;
  const order: number[] = [];
  for (const [corp, run] of runs) {
    args.push(corp, run.length);
    for (const i of run) {
      entry(i, args);
      order.push(i);
    }
  }
  return { args, order };
}
