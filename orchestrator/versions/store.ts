// Versions of audiences in Redis: reading heads, infos, indexes and segments; writing a new
// version; and the Lua operations that switch versions (swap, rollback) and collect garbage.
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { scanKeys, type RedisLike } from "../redis/cluster.js";
import { closeRedis, duplicateRedis } from "../redis/client.js";
import { withScripts, type BitsyncScripts } from "../redis/scripts.js";
import { audienceScriptError, SyncConflictError } from "./errors.js";
import { decodeIndex, parseInfo, type SegmentEntry, type VersionInfo } from "./format.js";
import { audienceKeys, type AudienceKeys } from "./keys.js";
import { AudienceLock } from "./lock.js";
import { PIECE_BYTES, SegmentWriter, pieceFields, type WriterOptions } from "./segment-writer.js";

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

export interface StoreOptions extends WriterOptions {
  /** Versions retained for rollback and in-flight paging, the current one included. */
  retain: number;
  /** Pub/sub channel of swap and rollback notifications. */
  channel: string;
  /** Sync lock time to live; the holder extends it while working. */
  lockTtlMs: number;
}

/** A message on the notification channel. */
export interface SwapNotice {
  audience: string;
  /** The head's epoch ("" from a publisher that predates epochs). */
  epoch?: string;
  version: number;
  generation: number;
}

export class VersionStore {
  readonly redis: RedisLike & BitsyncScripts;
  /** A second connection for bulk segment writes, opened on first use. */
  #bulk: RedisLike | undefined;
  /** Each audience's key names, built (and its id validated) once. */
  readonly #keys = new Map<string, AudienceKeys>();

  constructor(
    redis: RedisLike,
    readonly options: StoreOptions,
  ) {
    this.redis = withScripts(redis);
  }

  /** The audience's keys; throws InvalidAudienceIdError for an id that is not canonical. */
  keys(audience: string): AudienceKeys {
    let k = this.#keys.get(audience);
    if (k === undefined) {
      // Bounded: a process that sees more audiences than this rebuilds names, nothing more.
      if (this.#keys.size >= 100_000) this.#keys.clear();
      k = audienceKeys(audience);
      this.#keys.set(audience, k);
    }
    return k;
  }

  async head(audience: string): Promise<Head> {
    const h = await this.redis.hgetall(this.keys(audience).head);
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
    const key = this.keys(audience).info(version);
    const raw = await this.redis.get(key);
    return raw === null ? null : parseInfo(raw, key);
  }

  async index(audience: string, version: number): Promise<{ segmentBits: number; entries: SegmentEntry[] } | null> {
    const raw = await this.redis.getBuffer(this.keys(audience).index(version));
    return raw === null ? null : decodeIndex(raw);
  }

  /** A segment's bytes, or null when its key is gone; `bytes` is its size from the index. */
  async segment(audience: string, hash: string, bytes: number): Promise<Buffer | null> {
    const key = this.keys(audience).segment(hash);
    if (bytes <= PIECE_BYTES) return this.redis.getBuffer(key);
    const pieces = await this.redis.hmgetBuffer(key, ...pieceFields(bytes));
    if (pieces.some((p) => p === null)) return null;
    const blob = Buffer.concat(pieces as Buffer[]);
    return blob.length === bytes ? blob : null;
  }

  /** Takes the audience's sync lock, or throws SyncConflictError naming the holder. */
  async lock(audience: string): Promise<AudienceLock> {
    const key = this.keys(audience).lock;
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
    const k = this.keys(audience);
    const res = await this.redis.beginVersion(
      k.head,
      k.lock,
      k.versions,
      lock.token,
      this.options.ttlSeconds,
      newEpoch(),
    );
    if (!Array.isArray(res)) throw audienceScriptError(res, { audience, op: "begin" });
    return { version: Number(res[0]), current: res[1] === "" ? null : Number(res[1]), epoch: String(res[2]) };
  }

  /** Which of these segment hashes already have a key (reusable without writing). */
  async existing(audience: string, hashes: readonly string[]): Promise<Set<string>> {
    const k = this.keys(audience);
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
    return new SegmentWriter(this.#bulk, this.keys(audience), this.options, onProgress);
  }

  /** Closes the bulk-write connection, if one was opened; the main client is the caller's. */
  async close(): Promise<void> {
    const bulk = this.#bulk;
    this.#bulk = undefined;
    if (bulk) await closeRedis(bulk);
  }

  /** Every key of the audience, whatever made it (its {aud:ID} tag), found by SCAN. */
  async allKeys(audience: string): Promise<string[]> {
    const tag = this.keys(audience).head.slice(0, -":head".length);
    // The tag's braces are glob-safe; the id is digits (input.ts).
    return scanKeys(this.redis, `${tag}:*`);
  }

  /** Hashes in the segs set: segments that are (or were, until they expired) stored. */
  async knownSegments(audience: string): Promise<Set<string>> {
    return new Set(await this.redis.smembers(this.keys(audience).segs));
  }

  /** Writes the index, then the info (last: its "complete" marks the version complete). */
  async writeVersion(audience: string, info: VersionInfo, index: Buffer): Promise<void> {
    const k = this.keys(audience);
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
    const k = this.keys(audience);
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
    if (!Array.isArray(res)) throw audienceScriptError(res, { audience, op: "swap", version });
    return { generation: Number(res[0]), retained: String(res[1]).split(",").map(Number) };
  }

  async rollback(audience: string, target: number, expected: number | null): Promise<number> {
    const k = this.keys(audience);
    const res = await this.redis.rollback(
      k.head,
      k.info(target),
      target,
      expected === null ? "" : String(expected),
      this.options.channel,
      audience,
      Date.now(),
    );
    if (res < 0) throw audienceScriptError(res, { audience, op: "rollback", version: target });
    return res;
  }

  /**
   * Deletes what no retained version references: versions begun but not retained (dropped, or
   * left by a crashed sync) and segments none of the retained indexes names.
   */
  async gc(audience: string, lock: AudienceLock): Promise<{ keys: number; segments: number; versions: number }> {
    const k = this.keys(audience);
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
    if (res < 0) throw audienceScriptError(res, { audience, op: "gc" });
    return { keys: res, segments: deadSegs.length, versions: deadVersions.length };
  }
}

/** 48 random bits: heads of one audience created in one deployment's life never share one. */
function newEpoch(): string {
  return randomBytes(6).toString("base64url");
}
