// Writing an audience's segments to Redis: content-addressed keys, large segments as hashes of
// pieces, pipelined at the protocol level with bounded memory, paced when asked.
import type { RedisLike } from "../redis/cluster.js";
import type { AudienceKeys } from "./keys.js";

export interface WriterOptions {
  /** Seconds every key of a version lives unless a later swap refreshes it (0: no expiry). */
  ttlSeconds: number;
  /** Bytes of segments per pipeline flush: bounds client memory and Redis input buffers. */
  writeChunkBytes?: number;
  /** Upper bound on segment bytes a sync sends per second (0 or unset: no bound). */
  writeBytesPerSecond?: number;
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

/** The piece fields of a segment of `bytes` bytes stored as a hash. */
export function pieceFields(bytes: number): string[] {
  return Array.from({ length: Math.ceil(bytes / PIECE_BYTES) }, (_, i) => String(i));
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
  readonly #keys: AudienceKeys;
  readonly #inflight: Promise<void>[] = [];
  #chunk: Promise<unknown>[] = [];
  #pending = 0;
  #acked = 0;
  #sent = 0;
  #started = 0;
  #failure: unknown;

  constructor(
    private readonly redis: RedisLike,
    keys: AudienceKeys,
    private readonly options: WriterOptions,
    private readonly onProgress?: (bytes: number) => void,
  ) {
    this.#keys = keys;
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
