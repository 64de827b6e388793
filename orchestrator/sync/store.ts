// Versions of audiences in Redis: reading heads, infos, indexes and segments; writing a new
// version; and the Lua operations that switch versions (swap, rollback) and collect garbage.
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Redis } from "ioredis";
import { closeRedis, duplicateRedis } from "../redis/client.js";
import { audienceKeys } from "../redis/keys.js";
import { ScriptCode, withScripts, type BitsyncScripts } from "../redis/scripts.js";
import { BitsyncError } from "../errors.js";
import { HeadMovedError, IncompleteVersionError, LockLostError, RollbackError, SyncConflictError } from "./errors.js";
import { decodeIndex, parseInfo, type SegmentEntry, type VersionInfo } from "./version.js";

export interface Head {
  /**
   * Created with the head, kept for its life: version numbers restart when Redis loses the head
   * (a restart without persistence, a flush, a failover to an empty replica), so a version is
   * identified by (epoch, version). "" when the head does not exist (or predates epochs).
   */
  epoch: string;
  current: number | null;
  /** Newest first. */
  retained: number[];
  seq: number;
  generation: string;
  updatedAt: number | null;
}

export interface StoreOptions {
  /** Seconds every key of a version lives unless a later swap refreshes it (0: no expiry). */
  ttlSeconds: number;
  /** Versions retained for rollback and in-flight paging, the current one included. */
  retain: number;
  /** Pub/sub channel of swap and rollback notifications. */
  channel: string;
  /** Sync lock time to live; the holder extends it while working. */
  lockTtlMs: number;
  /** Bytes of segments per pipeline flush: bounds client memory and Redis input buffers. */
  writeChunkBytes?: number;
  /** Upper bound on segment bytes a sync sends per second (0 or unset: no bound). */
  writeBytesPerSecond?: number;
}

/** A message on the notification channel. */
export interface SwapNotice {
  audience: string;
  /** The head's epoch ("" from a publisher that predates epochs). */
  epoch?: string;
  version: number;
  generation: number;
}

const DEFAULT_WRITE_CHUNK_BYTES = 8 << 20;

/**
 * Segments larger than this are stored as a hash of pieces of this size (fields "0".."n-1").
 * Why: Redis keeps a large string value in a buffer of its length + 2 (the protocol's CRLF) plus
 * an sds header, and jemalloc rounds that up to its next size class; a dense 2^20 segment
 * (16 bitsets, 131,208 B) lands in the 160 KiB class, 25% waste. A hash copies each field value
 * exactly, and 65,530 B + the 6-byte sds header fill the 64 KiB class to the byte.
 */
export const PIECE_BYTES = 65_530;

function pieceFields(bytes: number): string[] {
  return Array.from({ length: Math.ceil(bytes / PIECE_BYTES) }, (_, i) => String(i));
}

export class AudienceLock {
  #lost = false;
  #timer: NodeJS.Timeout;

  constructor(
    private readonly redis: Redis & BitsyncScripts,
    readonly key: string,
    readonly token: string,
    ttlMs: number,
  ) {
    // Extend at a third of the TTL so one slow round trip does not lose the lock.
    this.#timer = setInterval(
      () => {
        this.redis.extendLock(this.key, this.token, ttlMs).then(
          (ok) => {
            if (ok !== 1) this.#lost = true;
          },
          () => undefined, // a transient error; the next tick retries, the swap checks for real
        );
      },
      Math.max(100, Math.floor(ttlMs / 3)),
    );
    this.#timer.unref();
  }

  get lost(): boolean {
    return this.#lost;
  }

  async release(): Promise<void> {
    clearInterval(this.#timer);
    await this.redis.unlock(this.key, this.token).catch(() => undefined);
  }
}

/**
 * Writes segments, registering each hash in the segs set first so gc can always find it.
 * Commands go straight to the socket of a connection without auto-pipelining (ioredis'
 * pipeline object would copy every chunk once more into one buffer), many in flight at once:
 * pipelining at the protocol level. At most two chunks of writeChunkBytes are unacknowledged, so
 * Redis stores one while the caller prepares (hashes) and sends the next. `add` waits only then;
 * `close` waits for all and throws the first failure.
 */
export class SegmentWriter {
  readonly #keys: ReturnType<typeof audienceKeys>;
  readonly #inflight: Promise<void>[] = [];
  #chunk: Promise<unknown>[] = [];
  #pending = 0;
  #acked = 0;
  #sent = 0;
  #started = 0;
  #failure: unknown;

  constructor(
    private readonly redis: Redis,
    audience: string,
    private readonly options: StoreOptions,
    private readonly onProgress?: (bytes: number) => void,
  ) {
    this.#keys = audienceKeys(audience);
  }

  async add(hash: string, blob: Uint8Array): Promise<void> {
    await this.#pace();
    const k = this.#keys;
    const ttl = this.options.ttlSeconds;
    const r = this.redis;
    const chunk = this.#chunk;
    chunk.push(r.sadd(k.segs, hash));
    const key = k.segment(hash);
    const value = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
    if (value.length <= PIECE_BYTES) {
      chunk.push(ttl > 0 ? r.set(key, value, "EX", ttl) : r.set(key, value));
    } else {
      // One HSET with every piece: the segment appears whole or not at all.
      const args: (string | Buffer)[] = [];
      for (let o = 0, i = 0; o < value.length; o += PIECE_BYTES, i++) {
        args.push(String(i), value.subarray(o, o + PIECE_BYTES));
      }
      chunk.push(r.hset(key, ...args));
      if (ttl > 0) chunk.push(r.expire(key, ttl));
    }
    this.#pending += value.length;
    this.#sent += value.length;
    if (this.#pending >= (this.options.writeChunkBytes ?? DEFAULT_WRITE_CHUNK_BYTES)) await this.#flush();
  }

  /**
   * Holds the next segment back while the bytes sent so far are ahead of writeBytesPerSecond:
   * a bulk sync then leaves Redis and the network room for the reads that serve traffic.
   */
  async #pace(): Promise<void> {
    const rate = this.options.writeBytesPerSecond ?? 0;
    if (rate <= 0) return;
    const now = performance.now();
    if (this.#sent === 0) this.#started = now;
    const due = this.#started + (this.#sent / rate) * 1000;
    if (due > now) await new Promise((r) => setTimeout(r, due - now));
  }

  async #flush(): Promise<void> {
    const sent = this.#chunk;
    const bytes = this.#pending;
    this.#chunk = [];
    this.#pending = 0;
    const done = Promise.all(sent).then(() => {
      this.#acked += bytes;
      this.onProgress?.(this.#acked);
    });
    // Keep the failure for close(); never leave a rejection unobserved.
    this.#inflight.push(done.catch((err: unknown) => void (this.#failure ??= err)));
    if (this.#inflight.length >= 2) await this.#inflight.shift();
    if (this.#failure !== undefined) throw this.#failure;
  }

  async close(): Promise<void> {
    if (this.#chunk.length > 0) await this.#flush().catch(() => undefined);
    await Promise.all(this.#inflight.splice(0));
    if (this.#failure !== undefined) throw this.#failure;
  }
}

export class VersionStore {
  readonly redis: Redis & BitsyncScripts;
  /** A second connection for bulk segment writes, opened on first use. */
  #bulk: Redis | undefined;

  constructor(
    redis: Redis,
    readonly options: StoreOptions,
  ) {
    this.redis = withScripts(redis);
  }

  async head(audience: string): Promise<Head> {
    const h = await this.redis.hgetall(audienceKeys(audience).head);
    return {
      epoch: h.epoch ?? "",
      current: h.current ? Number(h.current) : null,
      retained: (h.retained ?? "")
        .split(",")
        .filter((v) => v.length > 0)
        .map(Number),
      seq: Number(h.seq ?? 0),
      generation: h.generation ?? "",
      updatedAt: h.updatedAt ? Number(h.updatedAt) : null,
    };
  }

  async info(audience: string, version: number): Promise<VersionInfo | null> {
    const key = audienceKeys(audience).info(version);
    const raw = await this.redis.get(key);
    return raw === null ? null : parseInfo(raw, key);
  }

  async index(audience: string, version: number): Promise<{ segmentBits: number; entries: SegmentEntry[] } | null> {
    const raw = await this.redis.getBuffer(audienceKeys(audience).index(version));
    return raw === null ? null : decodeIndex(raw);
  }

  /** A segment's bytes, or null when its key is gone; `bytes` is its size from the index. */
  async segment(audience: string, hash: string, bytes: number): Promise<Buffer | null> {
    const key = audienceKeys(audience).segment(hash);
    if (bytes <= PIECE_BYTES) return this.redis.getBuffer(key);
    const pieces = await this.redis.hmgetBuffer(key, ...pieceFields(bytes));
    if (pieces.some((p) => p === null)) return null;
    const blob = Buffer.concat(pieces as Buffer[]);
    return blob.length === bytes ? blob : null;
  }

  /** Takes the audience's sync lock, or throws SyncConflictError naming the holder. */
  async lock(audience: string): Promise<AudienceLock> {
    const key = audienceKeys(audience).lock;
    const token = `${hostname()}:${process.pid}:${randomBytes(6).toString("hex")}`;
    const ok = await this.redis.set(key, token, "PX", this.options.lockTtlMs, "NX");
    if (ok !== "OK") {
      const holder = (await this.redis.get(key)) ?? "unknown (just released)";
      throw new SyncConflictError(audience, holder);
    }
    return new AudienceLock(this.redis, key, token, this.options.lockTtlMs);
  }

  /** Allocates the next version number under the lock; creates the head's epoch with the head. */
  async begin(
    audience: string,
    lock: AudienceLock,
  ): Promise<{ version: number; current: number | null; epoch: string }> {
    const k = audienceKeys(audience);
    const res = await this.redis.beginVersion(
      k.head,
      k.lock,
      k.versions,
      lock.token,
      this.options.ttlSeconds,
      newEpoch(),
    );
    if (res === ScriptCode.LOCK_LOST || !Array.isArray(res)) throw lockLost(audience);
    return { version: Number(res[0]), current: res[1] === "" ? null : Number(res[1]), epoch: String(res[2]) };
  }

  /** Which of these segment hashes already have a key (reusable without writing). */
  async existing(audience: string, hashes: readonly string[]): Promise<Set<string>> {
    const k = audienceKeys(audience);
    const out = new Set<string>();
    const pipe = this.redis.pipeline();
    for (const h of hashes) pipe.exists(k.segment(h));
    const res = (await pipe.exec()) ?? [];
    res.forEach(([err, n], i) => {
      if (err) throw err;
      if (n === 1) out.add(hashes[i]!);
    });
    return out;
  }

  /** Writes segments in one go; see SegmentWriter. */
  async writeSegments(
    audience: string,
    blobs: readonly { hash: string; blob: Uint8Array }[],
    onProgress?: (bytes: number) => void,
  ): Promise<void> {
    const writer = this.segmentWriter(audience, onProgress);
    try {
      for (const { hash, blob } of blobs) await writer.add(hash, blob);
    } finally {
      await writer.close();
    }
  }

  /** A streaming writer of an audience's segments (see SegmentWriter). */
  segmentWriter(audience: string, onProgress?: (bytes: number) => void): SegmentWriter {
    if (!this.#bulk) {
      this.#bulk = duplicateRedis(this.redis, "bitsync-bulk", { enableAutoPipelining: false });
      // Errors reach the writes in flight; the event itself needs a listener.
      this.#bulk.on("error", () => undefined);
    }
    return new SegmentWriter(this.#bulk, audience, this.options, onProgress);
  }

  /** Closes the bulk-write connection, if one was opened; the main client is the caller's. */
  async close(): Promise<void> {
    const bulk = this.#bulk;
    this.#bulk = undefined;
    if (bulk) await closeRedis(bulk);
  }

  /** Hashes in the segs set: segments that are (or were, until they expired) stored. */
  async knownSegments(audience: string): Promise<Set<string>> {
    return new Set(await this.redis.smembers(audienceKeys(audience).segs));
  }

  /** Writes the index, then the info (last: its "complete" marks the version complete). */
  async writeVersion(audience: string, info: VersionInfo, index: Buffer): Promise<void> {
    const k = audienceKeys(audience);
    const ttl = this.options.ttlSeconds;
    const pipe = this.redis.pipeline();
    if (ttl > 0) {
      pipe.set(k.index(info.version), index, "EX", ttl);
      pipe.set(k.info(info.version), JSON.stringify(info), "EX", ttl);
    } else {
      pipe.set(k.index(info.version), index);
      pipe.set(k.info(info.version), JSON.stringify(info));
    }
    const res = (await pipe.exec()) ?? [];
    for (const [err] of res) if (err) throw err;
  }

  /** Compare-and-set the head to `version`; refuses an incomplete version. */
  async swap(
    audience: string,
    lock: AudienceLock,
    expected: number | null,
    version: number,
    hashes: readonly string[],
  ): Promise<{ generation: number; retained: number[] }> {
    const k = audienceKeys(audience);
    const keys = [k.head, k.lock, k.info(version), k.index(version), k.segs, ...hashes.map((h) => k.segment(h))];
    const res = await this.redis.swap(
      keys.length,
      ...keys,
      lock.token,
      expected === null ? "" : String(expected),
      version,
      this.options.retain,
      this.options.ttlSeconds,
      this.options.channel,
      audience,
      Date.now(),
    );
    if (res === ScriptCode.LOCK_LOST) throw lockLost(audience);
    if (res === ScriptCode.HEAD_MOVED) {
      throw new HeadMovedError(`audience ${audience}: the current version changed during the sync; sync again`);
    }
    if (res === ScriptCode.INCOMPLETE) {
      throw new IncompleteVersionError(
        `audience ${audience}: version ${version} is not completely written (a key is missing); sync again`,
      );
    }
    if (!Array.isArray(res)) throw new BitsyncError(`audience ${audience}: unexpected swap reply ${String(res)}`);
    return { generation: Number(res[0]), retained: String(res[1]).split(",").map(Number) };
  }

  async rollback(audience: string, target: number, expected: number | null): Promise<number> {
    const k = audienceKeys(audience);
    const res = await this.redis.rollback(
      k.head,
      k.info(target),
      target,
      expected === null ? "" : String(expected),
      this.options.channel,
      audience,
      Date.now(),
    );
    if (res === ScriptCode.HEAD_MOVED) {
      throw new HeadMovedError(`audience ${audience}: the current version changed meanwhile; look again and retry`);
    }
    if (res === ScriptCode.NOT_RETAINED) {
      throw new RollbackError(`audience ${audience}: version ${target} is not retained; see \`bitsync info\``);
    }
    if (res === ScriptCode.EXPIRED) {
      throw new RollbackError(`audience ${audience}: version ${target} has expired or was collected`);
    }
    return res;
  }

  /**
   * Deletes what no retained version references: versions begun but not retained (dropped, or
   * left by a crashed sync) and segments none of the retained indexes names.
   */
  async gc(audience: string, lock: AudienceLock): Promise<{ keys: number; segments: number; versions: number }> {
    const k = audienceKeys(audience);
    const head = await this.head(audience);
    const retained = new Set(head.retained);
    const referenced = new Set<string>();
    for (const v of head.retained) {
      const idx = await this.index(audience, v);
      // A retained version without its index has expired: it references nothing any more.
      for (const e of idx?.entries ?? []) referenced.add(e.hash);
    }
    const [present, begun] = await Promise.all([this.redis.smembers(k.segs), this.redis.smembers(k.versions)]);
    const deadSegs = present.filter((h) => !referenced.has(h));
    const deadVersions = begun.map(Number).filter((v) => !retained.has(v) && v <= head.seq);
    if (deadSegs.length === 0 && deadVersions.length === 0) return { keys: 0, segments: 0, versions: 0 };
    const victims = [...deadSegs.map((h) => k.segment(h)), ...deadVersions.flatMap((v) => [k.info(v), k.index(v)])];
    const keys = [k.head, k.lock, k.segs, k.versions, ...victims];
    const res = await this.redis.gc(
      keys.length,
      ...keys,
      lock.token,
      head.generation,
      deadSegs.length,
      ...deadSegs,
      ...deadVersions.map(String),
    );
    if (res === ScriptCode.LOCK_LOST) throw lockLost(audience);
    if (res === ScriptCode.HEAD_MOVED) {
      throw new HeadMovedError(`audience ${audience}: the head changed during gc; run it again`);
    }
    return { keys: res, segments: deadSegs.length, versions: deadVersions.length };
  }
}

/** 48 random bits: heads of one audience created in one deployment's life never share one. */
function newEpoch(): string {
  return randomBytes(6).toString("base64url");
}

function lockLost(audience: string): LockLostError {
  return new LockLostError(
    `audience ${audience}: the sync lock expired and was taken over; this sync's version was not swapped in`,
  );
}
