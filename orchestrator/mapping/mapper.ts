// The ID mapping: uid -> bit and bit -> (uid, corpId), in Redis.
//
// G allocator groups, each under its own hash tag {map:g}: a uid belongs to group hash(uid) mod G,
// and group g hands out seq 0, 1, 2, ... so the bit of a uid is seq * G + g. Bits stay dense
// across groups, and a bit's reverse entry lives in group bit mod G. Every allocation is one Lua
// script per group (scripts/lua/mapAllocate.lua): atomic, idempotent, and a uid can only ever
// reach the one group and bucket its hash names, so it never gets two bits, whoever allocates.
import { Cluster, type Redis } from "ioredis";
import { BitsyncError } from "../errors.js";
import type { BitmapCore, UidTable } from "../wasm/core.js";
import { withScripts, type BitsyncScripts } from "../redis/scripts.js";
import { InvalidIdError, checkId, readId, type IdRules } from "./ids.js";
import { groupOf } from "./hash.js";
import { MapKeys } from "./keys.js";

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

/**
 * The uids of a batch body, read from its bytes (IdMapper.scanUids): the cached bit of each, or
 * -1, and the uids the cache lacks, the only ones made into strings.
 */
export class ScannedUids {
  constructor(
    readonly bits: Float64Array,
    readonly missing: readonly number[],
    readonly missingUids: readonly string[],
  ) {}

  get length(): number {
    return this.bits.length;
  }
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

export interface GroupStats {
  group: number;
  ids: number;
  nextSeq: number;
  forwardBuckets: number;
  corps: number;
}

export interface MappingStats {
  groups: number;
  ids: number;
  /** One past the highest bit handed out (the bit space the warehouse sees). */
  bitSpan: number;
  perGroup: GroupStats[];
}

export interface MappingMemory {
  totalBytes: number;
  keys: number;
  /** Keys measured; the rest extrapolated. */
  sampled: number;
  exact: boolean;
  bytesPerId: number | null;
}

/** The mapping in Redis was made with another group count; using it would give uids new bits. */
export class GroupCountError extends BitsyncError {}

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
   * rehashes a bucket in Lua). Groups that exist keep their buckets.
   */
  presize(ids: number): void {
    const load = this.#options.bucketLoad ?? DEFAULT_BUCKET_LOAD;
    const perGroup = Math.ceil(ids / this.groups / load);
    this.#initialBuckets = Math.max(DEFAULT_INITIAL_BUCKETS, 2 ** Math.ceil(Math.log2(Math.max(1, perGroup))));
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
      async (group, idx) => {
        const args: string[] = [];
        for (const i of idx) args.push(entries[i]!.uid, entries[i]!.corpId);
        const res = await this.#call("mapAllocate", group, ["alloc", ...args]);
        res.forEach((v, k) => {
          const seq = v < 0 ? -v - 1 : v;
          if (v < 0) created++;
          const bit = seq * this.groups + group;
          bits[idx[k]!] = bit;
          this.#cache?.set(entries[idx[k]!]!.uid, bit);
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
      async (group, idx) => {
        const args: (string | number)[] = [];
        for (const i of idx) {
          const m = mappings[i]!;
          if (m.bit % this.groups !== group) {
            // The bit says another group than the uid's hash: it was made with another G.
            out.conflicts.push(m);
            continue;
          }
          args.push(m.uid, m.corpId, Math.floor(m.bit / this.groups));
        }
        if (args.length === 0) return;
        const kept = idx.filter((i) => mappings[i]!.bit % this.groups === group);
        const res = await this.#call("mapAllocate", group, ["restore", ...args]);
        res.forEach((v, k) => {
          const m = mappings[kept[k]!]!;
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

  /**
   * Reads a batch body of the form {"uids":["...", ...]} straight from its bytes, with the cached
   * bit of every uid (no strings made, no I/O). Null for any other body, more than maxItems
   * uids, uids that need JSON unescaping or are not ASCII, or no cache: parse those as JSON.
   */
  scanUids(body: Buffer, maxItems: number): ScannedUids | null {
    const scan = this.#cache?.scan(body, maxItems);
    return scan ? new ScannedUids(scan.bits, scan.missing, scan.missingUids) : null;
  }

  /**
   * The bits of a scan's uids, -1 for a uid not mapped: the ones the cache lacked looked up. Fills
   * the scan's own array. A uid the rules refuse is InvalidIdError naming it `uids[i]`, as in a
   * body parsed as JSON. Only the uids the cache lacks need the check: every uid in the cache
   * passed it on the way in (allocate checks its uids, lookup caches only valid ones). The scan
   * does not cover the rule by itself: it takes "" and any bytes 0x20..0x7f but `"` and `\`, so
   * a space, DEL or an over-long uid reaches here.
   */
  async bitsOf(scan: ScannedUids): Promise<Float64Array> {
    const bits = scan.bits;
    if (scan.missing.length === 0) return bits;
    const rules = this.#options.rules;
    scan.missingUids.forEach((uid, k) => {
      const r = readId(uid, `uids[${scan.missing[k]}]`, rules);
      if ("reason" in r) throw new InvalidIdError(r.reason);
    });
    const found = await this.lookup(scan.missingUids);
    found.forEach((bit, k) => {
      if (bit !== null) bits[scan.missing[k]!] = bit;
    });
    return bits;
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
          const res = await this.#call(
            "mapLookup",
            group,
            idx.map((k) => uids[missing[k]!]!),
          );
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

  async stats(): Promise<MappingStats> {
    const perGroup = await Promise.all(
      Array.from({ length: this.groups }, async (_, group): Promise<GroupStats> => {
        const m = await this.redis.hgetall(this.keys.meta(group));
        const level = Number(m.level ?? 0);
        const b0 = Number(m.b0 ?? 0);
        return {
          group,
          ids: Number(m.n ?? 0),
          nextSeq: Number(m.seq ?? 0),
          forwardBuckets: m.b0 === undefined ? 0 : b0 * 2 ** level + Number(m.split ?? 0),
          corps: Number(m.corps ?? 0),
        };
      }),
    );
    const ids = perGroup.reduce((n, g) => n + g.ids, 0);
    const bitSpan = perGroup.reduce(
      (n, g) => (g.nextSeq > 0 ? Math.max(n, (g.nextSeq - 1) * this.groups + g.group + 1) : n),
      0,
    );
    return { groups: this.groups, ids, bitSpan, perGroup };
  }

  /**
   * Redis bytes of the mapping (MEMORY USAGE: values, key names and per-key overhead), per ID.
   * Exact when there are at most `sample` buckets of each kind, else extrapolated from `sample`
   * random forward and reverse buckets.
   */
  async memory(sample = 200): Promise<MappingMemory> {
    const stats = await this.stats();
    const usage = async (key: string): Promise<number> =>
      Number((await this.redis.memory("USAGE", key, "SAMPLES", "0")) ?? 0);
    const fixed: string[] = [];
    const forward: string[] = [];
    const reverse: string[] = [];
    for (const g of stats.perGroup) {
      if (g.forwardBuckets === 0) continue;
      fixed.push(this.keys.meta(g.group), this.keys.corps(g.group), this.keys.corpIds(g.group));
      for (let b = 0; b < g.forwardBuckets; b++) forward.push(this.keys.forward(g.group, b));
      for (let k = 0; k * 128 < g.nextSeq; k++) reverse.push(this.keys.reverse(g.group, k * 128));
    }
    let sampled = 0;
    const total = async (keys: string[]): Promise<number> => {
      if (keys.length <= sample) {
        sampled += keys.length;
        return (await Promise.all(keys.map(usage))).reduce((a, b) => a + b, 0);
      }
      // Evenly spaced picks: buckets differ by position only through the split state.
      const picks = Array.from({ length: sample }, (_, i) => keys[Math.floor(((i + 0.5) * keys.length) / sample)]!);
      sampled += picks.length;
      const sum = (await Promise.all(picks.map(usage))).reduce((a, b) => a + b, 0);
      return (sum / picks.length) * keys.length;
    };
    const bytes = (await total(fixed)) + (await total(forward)) + (await total(reverse));
    const keys = fixed.length + forward.length + reverse.length;
    return {
      totalBytes: Math.round(bytes),
      keys,
      sampled,
      exact: sampled === keys,
      bytesPerId: stats.ids > 0 ? bytes / stats.ids : null,
    };
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

  /** Splits uids by group and runs `fn` per group and chunk, all in flight at once. */
  async #perGroup(uids: readonly string[], fn: (group: number, idx: number[]) => Promise<void>): Promise<void> {
    const byGroup = new Map<number, number[]>();
    uids.forEach((uid, i) => {
      const g = groupOf(uid, this.groups);
      const list = byGroup.get(g);
      if (list) list.push(i);
      else byGroup.set(g, [i]);
    });
    const size = this.#options.batchSize;
    const calls: Promise<void>[] = [];
    for (const [group, idx] of byGroup) {
      for (let o = 0; o < idx.length; o += size) calls.push(fn(group, idx.slice(o, o + size)));
    }
    await Promise.all(calls);
  }

  async #call(script: "mapAllocate" | "mapLookup", group: number, args: (string | number)[]): Promise<number[]> {
    const res = await this.redis[script](
      this.keys.meta(group),
      this.groups,
      group,
      ...(script === "mapAllocate" ? [this.#initialBuckets, this.#options.bucketLoad ?? DEFAULT_BUCKET_LOAD] : []),
      ...args,
    );
    if (res === -1) {
      const made = await this.redis.hget(this.keys.meta(group), "groups");
      throw new GroupCountError(
        `the ID mapping in Redis was made with ${made} allocator groups, and BITSYNC_MAP_GROUPS is ${this.groups}: ` +
          `set it back to ${made} (the group count can never change: uids would get new bits)`,
      );
    }
    if (res === -2)
      throw new BitsyncError(`mapping group ${group}: a uid hashes to another group (client and script disagree)`);
    if (!Array.isArray(res)) throw new BitsyncError(`mapping group ${group}: unexpected reply ${String(res)}`);
    return res;
  }
}
