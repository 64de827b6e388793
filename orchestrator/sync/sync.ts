// One sync of one audience: read -> decode -> validate -> segment -> write -> swap -> gc.
// Any failure before the swap leaves the served version untouched; a crash leaves only keys
// that no retained version references, which the next gc removes.
import type { Logger } from "pino";
import { BitsyncError } from "../errors.js";
import { decodeBitmap } from "../source/decode/decode.js";
import type { BitmapFormat, DecodedBitmap, DecodeOptions } from "../source/decode/types.js";
import type { BitmapCore } from "../wasm/core.js";
import { DriftError, IntegrityError, SyncAbortedError } from "./errors.js";
import { IncompleteVersionError } from "../versions/errors.js";
import { buildSegments } from "./segments.js";
import type { VersionStore } from "../versions/store.js";
import { encodeIndex, indexChecksum, type SegmentEntry, type VersionInfo } from "../versions/format.js";

/** What the sync needs from a source: the rows of one audience at one date. */
export interface SnapshotSource {
  read(
    audienceId: string,
    impDate?: number,
  ): Promise<{
    audienceId: string;
    impDate: number;
    rows: { hashPart: number; bytes: Uint8Array; count: number | null }[];
  }>;
}

export interface SyncDeps {
  source: SnapshotSource;
  store: VersionStore;
  core: BitmapCore;
  /** Serialized form of the source's bitmap bytes. */
  format: BitmapFormat;
  decodeOptions?: DecodeOptions;
  segmentBits: number;
  maxDrift: number;
  /** For the version's info. */
  sourceDescription: { dialect: string; table: string };
  log?: Logger;
}

export type SyncStep = "lock" | "read" | "decode" | "segment" | "write" | "swap" | "gc";

export interface SyncProgress {
  step: SyncStep;
  /** Bytes written so far and in all, during "write". */
  done?: number;
  total?: number;
}

export interface SyncOptions {
  impDate?: number;
  /** Accept a cardinality change beyond the drift guard. */
  force?: boolean;
  onProgress?: (p: SyncProgress) => void;
  /** Aborted (a stop): the sync ends at its next step, before the swap, with SyncAbortedError. */
  signal?: AbortSignal;
}

export interface SyncResult {
  audience: string;
  version: number;
  previous: number | null;
  impDate: number;
  cardinality: number;
  segments: number;
  /** Segments written now, and segments whose identical bytes were already stored. */
  written: number;
  reused: number;
  bytesWritten: number;
  retained: number[];
  collected: { keys: number; segments: number; versions: number };
  ms: Partial<Record<SyncStep, number>>;
}

export async function syncAudience(deps: SyncDeps, audience: string, opts: SyncOptions = {}): Promise<SyncResult> {
  const { store, core, log } = deps;
  const ms: Partial<Record<SyncStep, number>> = {};
  let t = performance.now();
  const step = (s: SyncStep): void => {
    // Up to the swap a stop costs nothing but this sync: the served version stays.
    if (opts.signal?.aborted && s !== "gc") {
      throw new SyncAbortedError(
        `audience ${audience}: the sync was stopped before its ${s} step; the served version is unchanged`,
      );
    }
    const now = performance.now();
    opts.onProgress?.({ step: s });
    t = now;
  };
  const done = (s: SyncStep): void => {
    ms[s] = Math.round((performance.now() - t) * 10) / 10;
  };

  step("lock");
  const lock = await store.lock(audience);
  done("lock");
  // The cut segments stay in the core's memory until the version is written.
  let disposeSegments: (() => void) | undefined;
  try {
    step("read");
    const snapshot = await deps.source.read(audience, opts.impDate);
    done("read");

    step("decode");
    const decoded: DecodedBitmap[] = [];
    const where = (hashPart: number): string =>
      `audience ${audience}, imp_date ${snapshot.impDate}, hash_part ${hashPart}`;
    for (const row of snapshot.rows) {
      try {
        decoded.push(decodeBitmap(core, deps.format, row.bytes, deps.decodeOptions));
      } catch (err) {
        throw new IntegrityError(
          `${where(row.hashPart)}: ${err instanceof Error ? err.message : String(err)}; the served version is unchanged`,
          { cause: err },
        );
      }
    }
    done("decode");

    step("segment");
    const built = buildSegments(core, decoded, deps.segmentBits);
    disposeSegments = built.dispose;
    // Each row's own cardinality (before the union) must be what the source counts.
    snapshot.rows.forEach((row, i) => {
      const n = built.rowCardinalities[i]!;
      if (row.count !== null && n !== row.count) {
        throw new IntegrityError(
          `${where(row.hashPart)}: decoded ${n} members but the source counts ${row.count}; the served version is unchanged`,
        );
      }
    });
    done("segment");

    const head = await store.head(audience);
    if (head.current !== null && !opts.force) {
      const current = await store.info(audience, head.current);
      if (current) {
        if (current.segmentBits !== deps.segmentBits) {
          throw new BitsyncError(
            `audience ${audience}: served version uses segments of 2^${current.segmentBits}, this process 2^${deps.segmentBits}; ` +
              `BITSYNC_SEGMENT_BITS must be the same everywhere (use --force to replace it)`,
          );
        }
        const drift = Math.abs(built.cardinality - current.cardinality) / Math.max(current.cardinality, 1);
        if (drift > deps.maxDrift) {
          throw new DriftError(
            `audience ${audience}: cardinality would change from ${current.cardinality} to ${built.cardinality} ` +
              `(${(drift * 100).toFixed(1)}%), more than BITSYNC_SYNC_MAX_DRIFT=${deps.maxDrift}; ` +
              `check the source, or sync with --force`,
          );
        }
      }
    }

    step("write");
    const { version, current, epoch } = await store.begin(audience, lock);
    // Segments whose hash is already stored are referenced, not written (delta sync).
    const known = await store.knownSegments(audience);
    const writer = store.segmentWriter(audience, (bytes) =>
      opts.onProgress?.({ step: "write", done: bytes, total: built.bytes }),
    );
    let written = 0;
    let bytesWritten = 0;
    const entries: SegmentEntry[] = [];
    try {
      // Each segment is hashed and copied out just before its write: while Redis stores one,
      // this process prepares the next.
      for (let i = 0; i < built.planned.length; i++) {
        if (opts.signal?.aborted) step("write"); // throws: stopped mid-write
        const { blob, ...entry } = built.take(i);
        entries.push(entry);
        if (known.has(entry.hash)) continue;
        known.add(entry.hash);
        await writer.add(entry.hash, blob);
        written++;
        bytesWritten += blob.length;
      }
    } finally {
      await writer.close();
    }
    const hashes = [...new Set(entries.map((s) => s.hash))];
    const index = encodeIndex(deps.segmentBits, entries);
    const info: VersionInfo = {
      audience,
      epoch,
      version,
      segmentBits: deps.segmentBits,
      cardinality: built.cardinality,
      min: built.min,
      max: built.max,
      segments: entries.length,
      bytes: built.bytes,
      source: {
        ...deps.sourceDescription,
        impDate: snapshot.impDate,
        hashParts: snapshot.rows.map((r) => r.hashPart),
      },
      checksum: indexChecksum(index),
      createdAt: new Date().toISOString(),
      complete: true,
    };
    await store.writeVersion(audience, info, index);
    done("write");

    step("swap");
    let swapped;
    try {
      swapped = await store.swap(audience, lock, current, version, hashes);
    } catch (err) {
      if (!(err instanceof IncompleteVersionError)) throw err;
      // A segment believed stored had expired meanwhile: write what is missing, swap once more.
      const present = await store.existing(audience, hashes);
      const missing = entries.flatMap((s, i) => (present.has(s.hash) ? [] : [built.take(i)]));
      await store.writeSegments(audience, missing);
      written += missing.length;
      bytesWritten += missing.reduce((n, s) => n + s.bytes, 0);
      swapped = await store.swap(audience, lock, current, version, hashes);
    }
    done("swap");

    step("gc");
    let collected = { keys: 0, segments: 0, versions: 0 };
    try {
      collected = await store.gc(audience, lock);
    } catch (err) {
      // The new version is served; leftovers wait for the next gc.
      log?.warn({ err, audience }, "gc after swap failed");
    }
    done("gc");

    const result: SyncResult = {
      audience,
      version,
      previous: current,
      impDate: snapshot.impDate,
      cardinality: built.cardinality,
      segments: entries.length,
      written,
      reused: entries.length - written,
      bytesWritten,
      retained: swapped.retained,
      collected,
      ms,
    };
    log?.info({ ...result }, "audience synced");
    return result;
  } finally {
    disposeSegments?.();
    await lock.release();
  }
}
