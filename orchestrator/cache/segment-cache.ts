// The in-process segment cache that serving reads.
//
// - Versions are immutable, so a version's view (info + index) never goes stale; only the head
//   (which version is current) changes. Heads are dropped on the swap notification, and
//   re-read by a periodic poll in case a notification was lost.
// - A version is identified by (epoch, version): numbers restart when Redis loses an audience's
//   head, and the new head comes with a new epoch. A head of another epoch (or whose version
//   counter went back: a failover to a lagging replica) drops all the cache held for the audience.
// - When a head is read, views of versions it no longer retains are dropped, and so are the
//   segments that none of the remaining views references.
// - Segments are content-addressed, so a segment cached for one version serves every version
//   that shares it (a delta sync keeps the cache warm).
// - Segments live pinned in WASM memory under a byte budget, evicted least-recently-used.
// - A query resolves its version once and answers entirely from it, even if a swap lands
//   meanwhile: a check that started on version V finishes on V.
// - A segment absent from the index is empty: it answers without any I/O.
import type { RedisLike } from "../redis/cluster.js";
import type { Logger } from "pino";
import { BitsyncError } from "../errors.js";
import type { Head, VersionStore, SwapNotice } from "../versions/store.js";
import { UnknownAudienceError } from "../versions/errors.js";
import type { SegmentEntry, VersionInfo } from "../versions/format.js";
import { BATCH_BIT_LIMIT, type BitmapCore, type ResidentBlob, type SegmentBlob } from "../wasm/core.js";
import { SegmentLru } from "./segment-lru.js";

/** The version asked for is gone (expired or collected): a pinned cursor cannot continue. */
export class VersionGoneError extends BitsyncError {}

export interface VersionView {
  audience: string;
  /** The head's epoch this view was resolved under ("" for a head that predates epochs). */
  epoch: string;
  version: number;
  info: VersionInfo;
  segmentBits: number;
  entries: ViewEntry[];
  /** Segment number -> index into entries. */
  bySegment: Map<number, number>;
  /** cumulative[i] = members in entries[0..i). */
  cumulative: Float64Array;
}

/** An index entry with its cache key, built once per view rather than once per query. */
export interface ViewEntry extends SegmentEntry {
  key: string;
}

export interface CacheOptions {
  /** Most bytes of segments held pinned; must fit the core's own budget. */
  budgetBytes: number;
  /** Head poll interval, ms (0: no polling). */
  pollMs: number;
  log?: Logger;
}

export interface CacheStats {
  hits: number;
  misses: number;
  evictions: number;
  residentBytes: number;
  residentSegments: number;
  budgetBytes: number;
  /** Size of the WASM core's linear memory (it grows, never shrinks): what the cache costs in RSS. */
  coreMemoryBytes: number;
}

interface HeadEntry {
  epoch: string;
  version: number;
  generation: string;
  view: Promise<VersionView>;
  /** The view once loaded: lets a hot query answer without awaiting anything. */
  resolved?: VersionView;
}

interface ViewSlot {
  audience: string;
  view: Promise<VersionView>;
  resolved?: VersionView;
}

export class SegmentCache {
  readonly #store: VersionStore;
  readonly #core: BitmapCore;
  readonly #opts: CacheOptions;
  readonly #heads = new Map<string, HeadEntry>();
  /** Bumped by every invalidation, so a head read that raced a notification is not cached. */
  readonly #invalidations = new Map<string, number>();
  /** The epoch and version counter of each audience's head as last read: a change of epoch, or a
   * counter that went back, means the head was recreated and every cached version is suspect. */
  readonly #known = new Map<string, { epoch: string; seq: number }>();
  /** Keyed audience NUL epoch NUL version. */
  readonly #views = new Map<string, ViewSlot>();
  readonly #lru: SegmentLru;
  readonly #loading = new Map<string, Promise<ResidentBlob>>();
  #poll: NodeJS.Timeout | undefined;
  #subscriber: RedisLike | undefined;

  constructor(store: VersionStore, core: BitmapCore, opts: CacheOptions) {
    if (opts.budgetBytes > core.budgetBytes) {
      throw new RangeError(`cache budget ${opts.budgetBytes} B exceeds the WASM core's ${core.budgetBytes} B`);
    }
    this.#store = store;
    this.#core = core;
    this.#opts = opts;
    this.#lru = new SegmentLru(opts.budgetBytes);
  }

  /** Listens for swap notifications on `subscriber` (a dedicated connection) and starts polling. */
  async start(subscriber: RedisLike, channel: string): Promise<void> {
    this.#subscriber = subscriber;
    subscriber.on("message", (ch: string, message: string) => {
      if (ch !== channel) return;
      try {
        const notice = JSON.parse(message) as SwapNotice;
        this.invalidate(notice.audience);
        // Read the new head now: its view is loaded before queries ask, and what the versions
        // still retained do not use is dropped at once.
        if (this.#known.has(notice.audience)) void this.current(notice.audience).catch(() => undefined);
      } catch (err) {
        this.#opts.log?.warn({ err, message }, "unreadable swap notification");
      }
    });
    await subscriber.subscribe(channel);
    if (this.#opts.pollMs > 0) {
      this.#poll = setInterval(() => void this.#pollHeads(), this.#opts.pollMs);
      this.#poll.unref();
    }
  }

  async stop(): Promise<void> {
    if (this.#poll) clearInterval(this.#poll);
    this.#poll = undefined;
    if (this.#subscriber) await this.#subscriber.unsubscribe().catch(() => undefined);
    this.#lru.clear();
  }

  /** Forgets which version of `audience` is current; the next query reads the head again. */
  invalidate(audience: string): void {
    this.#heads.delete(audience);
    this.#invalidations.set(audience, (this.#invalidations.get(audience) ?? 0) + 1);
  }

  /** Drops every view and segment of `audience`: its head was recreated (Redis lost its data). */
  #forget(audience: string): void {
    this.#heads.delete(audience);
    for (const [key, slot] of this.#views) if (slot.audience === audience) this.#views.delete(key);
    this.#dropSegments(audience, new Set());
  }

  /** Disposes the audience's resident segments whose keys are not in `keep`. */
  #dropSegments(audience: string, keep: Set<string>): void {
    this.#lru.drop(`${audience}\u0000`, keep);
  }

  /** Notes a head just read; a new epoch, or a version counter gone back, forgets the audience. */
  #observe(audience: string, head: Head): void {
    const known = this.#known.get(audience);
    if (known && (known.epoch !== head.epoch || head.seq < known.seq)) {
      this.#opts.log?.warn(
        { audience, epoch: head.epoch, previousEpoch: known.epoch, seq: head.seq, previousSeq: known.seq },
        "the audience's head was recreated (Redis lost data?): dropping every version cached for it",
      );
      this.#forget(audience);
    }
    this.#known.set(audience, { epoch: head.epoch, seq: head.seq });
  }

  /**
   * Drops the views of versions the head no longer retains, then the segments none of the
   * remaining views uses: a served audience's resident bytes follow what its retained versions
   * need, not the number of swaps.
   */
  #prune(audience: string, head: Head): void {
    const keep = new Set([...head.retained, ...(head.current === null ? [] : [head.current])]);
    const used = new Set<string>();
    for (const [key, slot] of this.#views) {
      if (slot.audience !== audience) continue;
      const v = slot.resolved;
      if (v === undefined) continue; // still loading: its segments are not resident yet
      if (v.epoch !== head.epoch || !keep.has(v.version)) {
        this.#views.delete(key);
        continue;
      }
      for (const e of v.entries) used.add(e.key);
    }
    for (const key of this.#loading.keys()) used.add(key);
    this.#dropSegments(audience, used);
  }

  stats(): CacheStats {
    return {
      ...this.#lru.stats,
      residentBytes: this.#lru.bytes,
      residentSegments: this.#lru.size,
      budgetBytes: this.#opts.budgetBytes,
      coreMemoryBytes: this.#core.stats().memoryBytes,
    };
  }

  // ---- versions -----------------------------------------------------------------------------

  /** The current version's view. Throws UnknownAudienceError when the audience has none. */
  current(audience: string): Promise<VersionView> {
    const cached = this.#heads.get(audience);
    if (cached) return cached.view;
    const view = this.#resolveHead(audience);
    return view;
  }

  async #resolveHead(audience: string): Promise<VersionView> {
    const invalidations = this.#invalidations.get(audience) ?? 0;
    const head = await this.#store.head(audience);
    this.#observe(audience, head);
    if (head.current === null) {
      throw new UnknownAudienceError(`audience ${audience} has no synced version; run \`bitsync sync ${audience}\``);
    }
    const view = this.version(audience, head.current, head.epoch);
    if ((this.#invalidations.get(audience) ?? 0) !== invalidations) return view; // a swap landed meanwhile: answer, don't cache
    // Only cache a head whose view loads; a failure is retried by the next query.
    const entry: HeadEntry = { epoch: head.epoch, version: head.current, generation: head.generation, view };
    this.#heads.set(audience, entry);
    view.then(
      (v) => {
        entry.resolved = v;
        if (this.#heads.get(audience) === entry) this.#prune(audience, head);
      },
      () => {
        if (this.#heads.get(audience)?.view === view) this.#heads.delete(audience);
      },
    );
    return view;
  }

  /**
   * A specific version's view (for paging pinned to a version). Throws VersionGoneError, also
   * when the version stored under that number belongs to another epoch than `epoch` ("": any).
   */
  version(audience: string, version: number, epoch = ""): Promise<VersionView> {
    const key = `${audience}\u0000${epoch}\u0000${version}`;
    let slot = this.#views.get(key);
    if (!slot) {
      const view = this.#loadView(audience, version, epoch);
      const created: ViewSlot = { audience, view };
      slot = created;
      this.#views.set(key, created);
      view.then(
        (v) => void (created.resolved = v),
        () => {
          if (this.#views.get(key) === created) this.#views.delete(key);
        },
      );
    }
    return slot.view;
  }

  async #loadView(audience: string, version: number, epoch: string): Promise<VersionView> {
    const [info, index] = await Promise.all([
      this.#store.info(audience, version),
      this.#store.index(audience, version),
    ]);
    const gone = (): VersionGoneError =>
      new VersionGoneError(`audience ${audience}: version ${version} has expired or was collected`);
    if (!info || !index) throw gone();
    // The number was reused by a head created since (Redis lost the one this was asked under).
    if (epoch !== "" && info.epoch !== undefined && info.epoch !== epoch) throw gone();
    const bySegment = new Map<number, number>();
    const cumulative = new Float64Array(index.entries.length + 1);
    const entries: ViewEntry[] = index.entries.map((e) => ({ ...e, key: `${audience}\u0000${e.hash}` }));
    entries.forEach((e, i) => {
      bySegment.set(e.segment, i);
      cumulative[i + 1] = cumulative[i]! + e.cardinality;
    });
    return { audience, epoch, version, info, segmentBits: index.segmentBits, entries, bySegment, cumulative };
  }

  async #pollHeads(): Promise<void> {
    for (const [audience, entry] of this.#heads) {
      try {
        const head = await this.#store.head(audience);
        this.#observe(audience, head);
        if (head.epoch !== entry.epoch || head.current !== entry.version || head.generation !== entry.generation) {
          this.invalidate(audience);
          void this.current(audience).catch(() => undefined);
        }
      } catch (err) {
        this.#opts.log?.debug({ err, audience }, "head poll failed");
      }
    }
  }

  // ---- segments -----------------------------------------------------------------------------

  /** The pinned segment for an index entry, loading it from Redis on a miss. */
  async #acquire(view: VersionView, entry: ViewEntry): Promise<ResidentBlob> {
    const key = entry.key;
    const hit = this.#lru.get(key);
    if (hit) return hit;
    let loading = this.#loading.get(key);
    if (!loading) {
      this.#lru.stats.misses++;
      loading = this.#load(view, entry, key).finally(() => this.#loading.delete(key));
      this.#loading.set(key, loading);
    }
    return loading;
  }

  async #load(view: VersionView, entry: SegmentEntry, key: string): Promise<ResidentBlob> {
    const bytes = await this.#store.segment(view.audience, entry.hash, entry.bytes);
    if (!bytes) {
      throw new VersionGoneError(
        `audience ${view.audience}: segment ${entry.segment} of version ${view.version} has expired or was collected`,
      );
    }
    this.#lru.makeRoom(bytes.length);
    const blob = this.#core.pin(bytes, { segmentBits: view.segmentBits });
    this.#lru.add(key, blob);
    return blob;
  }

  /** Runs `use` on the pinned segment synchronously, so eviction cannot intervene. */
  async #withSegment<T>(view: VersionView, entry: ViewEntry, use: (blob: ResidentBlob) => T): Promise<T> {
    for (;;) {
      const blob = await this.#acquire(view, entry);
      // Another load may have evicted it while this one awaited; then load it again.
      if (!blob.disposed) return use(blob);
    }
  }

  // ---- queries ------------------------------------------------------------------------------

  // One surface for every route: resolve a view (currentNow, current, version), then ask it with
  // has (one bit) or hasAll (many). Both answer synchronously when the segments they need are
  // resident or empty (the hot path: no promise, no microtask), else with a promise.

  /** Membership of one bit in the audience's current version. */
  async contains(audience: string, bit: number): Promise<{ version: number; member: boolean }> {
    const view = await this.current(audience);
    return { version: view.version, member: await this.has(view, bit) };
  }

  /**
   * The current version's view if it is cached and loaded, else undefined: with has(), the
   * synchronous path of a hot single check (no promise, no microtask per request).
   */
  currentNow(audience: string): VersionView | undefined {
    return this.#heads.get(audience)?.resolved;
  }

  /** Membership of one bit in a view: synchronous when its segment is resident or empty. */
  has(view: VersionView, bit: number): boolean | Promise<boolean> {
    const span = 2 ** view.segmentBits;
    const i = view.bySegment.get(Math.floor(bit / span));
    if (i === undefined) return false;
    const entry = view.entries[i]!;
    const blob = this.#lru.get(entry.key);
    if (blob !== undefined) return blob.has(bit % span);
    const offset = bit % span;
    return this.#withSegment(view, entry, (b) => b.has(offset));
  }

  /**
   * Membership of many bits (a negative one is no member) in a view, as bytes 0/1 in request
   * order: synchronous when every segment they touch is resident or empty (the hot path of a
   * batch check), else a promise that loads the segments it lacks, all at once.
   */
  hasAll(view: VersionView, bits: Float64Array): Uint8Array | Promise<Uint8Array> {
    const touched = this.#touched(view, bits);
    return this.#answerIfResident(view, bits, touched) ?? this.#loadAndAnswer(view, bits, touched);
  }

  #answerIfResident(
    view: VersionView,
    bits: Float64Array,
    { entries, wide }: { entries: ViewEntry[]; wide: number[] | undefined },
  ): Uint8Array | undefined {
    if (wide) return undefined;
    const segs: SegmentBlob[] = [];
    for (const entry of entries) {
      const blob = this.#lru.get(entry.key);
      if (blob === undefined) return undefined;
      segs.push({ segment: entry.segment, blob });
    }
    return this.#core.containsBits(bits, view.segmentBits, segs);
  }

  async #loadAndAnswer(
    view: VersionView,
    bits: Float64Array,
    touched: { entries: ViewEntry[]; wide: number[] | undefined },
  ): Promise<Uint8Array> {
    const { entries, wide } = touched;
    const out = new Uint8Array(bits.length);
    // Bits past the batch path's range (none a mapping hands out) one at a time.
    let narrow = bits;
    if (wide) {
      narrow = bits.slice();
      for (const i of wide) {
        narrow[i] = -1;
        out[i] = (await this.has(view, bits[i]!)) ? 1 : 0;
      }
    }
    const blobs = await Promise.all(entries.map((e) => this.#acquire(view, e)));
    if (blobs.every((b) => !b.disposed)) {
      const answers = this.#core.containsBits(
        narrow,
        view.segmentBits,
        entries.map((e, k) => ({ segment: e.segment, blob: blobs[k]! })),
      );
      for (let i = 0; i < answers.length; i++) out[i] = out[i]! | answers[i]!;
      return out;
    }
    // Loading some evicted others (a budget smaller than this batch's segments): one segment at a
    // time, each asked only for its own bits.
    const span = 2 ** view.segmentBits;
    for (const entry of entries) {
      const mine = narrow.map((b) => (b >= 0 && Math.floor(b / span) === entry.segment ? b : -1));
      const answers = await this.#withSegment(view, entry, (blob) =>
        this.#core.containsBits(mine, view.segmentBits, [{ segment: entry.segment, blob }]),
      );
      for (let i = 0; i < answers.length; i++) out[i] = out[i]! | answers[i]!;
    }
    return out;
  }

  /** The non-empty segments the bits touch, and the positions of bits past the batch range. */
  #touched(view: VersionView, bits: Float64Array): { entries: ViewEntry[]; wide: number[] | undefined } {
    const span = 2 ** view.segmentBits;
    const entries: ViewEntry[] = [];
    const seen = new Set<number>();
    let wide: number[] | undefined;
    let last = -1;
    for (let i = 0; i < bits.length; i++) {
      const b = bits[i]!;
      if (b < 0) continue;
      if (b >= BATCH_BIT_LIMIT) {
        (wide ??= []).push(i);
        continue;
      }
      const seg = Math.floor(b / span);
      if (seg === last) continue;
      last = seg;
      if (seen.has(seg)) continue;
      seen.add(seg);
      const e = view.bySegment.get(seg);
      if (e !== undefined) entries.push(view.entries[e]!);
    }
    return { entries, wide };
  }

  /**
   * Up to `limit` members from 0-based rank `rank` of the given (or current) version, in
   * ascending order. Finds the starting segment by binary search over cumulative counts and
   * the start inside it by select: the cost does not grow with depth.
   */
  async page(
    audience: string,
    from: { version?: number; epoch?: string; rank: number },
    limit: number,
  ): Promise<{ epoch: string; version: number; bits: number[]; nextRank: number | null }> {
    const view =
      from.version === undefined
        ? await this.current(audience)
        : await this.version(audience, from.version, from.epoch);
    const total = view.cumulative[view.entries.length]!;
    const bits: number[] = [];
    let rank = from.rank;
    if (rank < total && limit > 0) {
      let i = upperBound(view.cumulative, rank) - 1;
      const span = 2 ** view.segmentBits;
      while (bits.length < limit && i < view.entries.length) {
        const entry = view.entries[i]!;
        const local = rank - view.cumulative[i]!;
        const want = limit - bits.length;
        const offsets = await this.#withSegment(view, entry, (blob) => blob.page(local, want));
        const base = entry.segment * span;
        for (const o of offsets) bits.push(base + o);
        rank += offsets.length;
        i++;
      }
    }
    return { epoch: view.epoch, version: view.version, bits, nextRank: rank < total ? rank : null };
  }
}

/** First index i with a[i] > x. */
function upperBound(a: Float64Array, x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
