// Cold start: map every existing ID from a source, in batches, publishing each batch's mappings
// downstream, and checkpointing after each batch is published. A crash resumes from the last
// checkpoint; the batch that was in flight is allocated again (idempotent: same bits) and
// published again (at least once, keyed by uid, so the warehouse's upsert dedups it).
import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { BitsyncError } from "../errors.js";
import { readId, type IdRules } from "./ids.js";
import type { IdMapper, Mapping } from "./mapper.js";
import type { ImportSource } from "./sources.js";

/** Where mappings go downstream (the mapping topic). Resolves once they are acknowledged. */
export interface MappingSink {
  publish(mappings: readonly Mapping[]): Promise<void>;
}

export interface ImportCheckpoint {
  source: string;
  /** Resume from here (bytes of a file, rows of a query). */
  position: number;
  rows: number;
  mapped: number;
  created: number;
  rejected: number;
  done: boolean;
  updatedAt: string;
}

export interface ImportProgress {
  position: number;
  total: number | undefined;
  unit: "bytes" | "rows";
  mapped: number;
  created: number;
  rejected: number;
}

export interface ImportOptions {
  source: ImportSource;
  mapper: IdMapper;
  sink: MappingSink;
  rules: IdRules;
  batchSize: number;
  /** JSON file of the checkpoint. */
  checkpoint: string;
  /** NDJSON file the rejected rows are appended to ({line, reason, raw}). */
  rejects: string;
  /** About how many IDs the source holds (default: the source's own estimate), to presize new groups. */
  expectedIds?: number;
  /** Ignore an existing checkpoint and start over (mapping is idempotent). */
  restart?: boolean;
  onProgress?: (p: ImportProgress) => void;
}

export interface ImportSummary extends ImportCheckpoint {
  /** The checkpoint said the import was already complete: nothing was done. */
  alreadyDone: boolean;
  resumedFrom: number;
  seconds: number;
}

export class CheckpointError extends BitsyncError {}

export function readCheckpoint(path: string): ImportCheckpoint | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const cp = JSON.parse(readFileSync(path, "utf8")) as ImportCheckpoint;
    if (typeof cp.source !== "string" || !Number.isSafeInteger(cp.position)) throw new Error("fields missing");
    return cp;
  } catch (err) {
    throw new CheckpointError(
      `checkpoint ${path} is unreadable (${(err as Error).message}); delete it or pass --restart`,
    );
  }
}

function writeCheckpoint(path: string, cp: ImportCheckpoint): void {
  // Write then rename: a crash mid-write leaves the previous checkpoint, never half a file.
  writeFileSync(`${path}.tmp`, JSON.stringify(cp, null, 2));
  renameSync(`${path}.tmp`, path);
}

export async function runImport(opts: ImportOptions): Promise<ImportSummary> {
  const started = performance.now();
  const { source, mapper, sink, rules, batchSize } = opts;
  const previous = opts.restart ? undefined : readCheckpoint(opts.checkpoint);
  if (previous && previous.source !== source.id) {
    throw new CheckpointError(
      `checkpoint ${opts.checkpoint} belongs to ${previous.source}, not ${source.id}: ` +
        `pass another --checkpoint, or --restart to start over`,
    );
  }
  const cp: ImportCheckpoint = previous ?? {
    source: source.id,
    position: 0,
    rows: 0,
    mapped: 0,
    created: 0,
    rejected: 0,
    done: false,
    updatedAt: new Date().toISOString(),
  };
  const resumedFrom = cp.position;
  const summary = (alreadyDone: boolean): ImportSummary => ({
    ...cp,
    alreadyDone,
    resumedFrom,
    seconds: (performance.now() - started) / 1000,
  });
  if (cp.done) return summary(true);
  const expected = opts.expectedIds ?? (await source.estimateRows());
  if (expected !== undefined) mapper.presize(expected);
  if (opts.restart) writeCheckpoint(opts.checkpoint, cp);

  const report = (position: number): void =>
    opts.onProgress?.({
      position,
      total: source.total,
      unit: source.unit,
      mapped: cp.mapped,
      created: cp.created,
      rejected: cp.rejected,
    });

  let batch: { uid: string; corpId: string }[] = [];
  let rejects: string[] = [];
  let rows = 0;
  let position = cp.position;
  // The previous batch's publish and checkpoint: the next batch is allocated meanwhile.
  let inflight: Promise<void> = Promise.resolve();

  const flush = async (): Promise<void> => {
    const entries = batch;
    const rejected = rejects;
    const at = position;
    const n = rows;
    batch = [];
    rejects = [];
    rows = 0;
    const { mappings, created } = entries.length > 0 ? await mapper.allocate(entries) : { mappings: [], created: 0 };
    await inflight;
    inflight = (async () => {
      if (mappings.length > 0) await sink.publish(mappings);
      // Rejects are on disk before the checkpoint passes them: nothing is lost.
      if (rejected.length > 0) appendFileSync(opts.rejects, rejected.join(""));
      cp.position = at;
      cp.rows += n;
      cp.mapped += mappings.length;
      cp.created += created;
      cp.rejected += rejected.length;
      cp.updatedAt = new Date().toISOString();
      writeCheckpoint(opts.checkpoint, cp);
      report(at);
    })();
    // Surface a failure of this batch at the next flush at the latest, never unobserved.
    inflight.catch(() => undefined);
  };

  for await (const row of source.rows(cp.position)) {
    rows++;
    position = row.position;
    if ("reason" in row) {
      rejects.push(JSON.stringify({ line: row.line, reason: row.reason, raw: row.raw }) + "\n");
    } else {
      const uid = readId(row.uid, "uid", rules);
      const corp = "reason" in uid ? uid : readId(row.corpId, "corpId", rules);
      if ("reason" in uid || "reason" in corp) {
        const reason = "reason" in uid ? uid.reason : (corp as { reason: string }).reason;
        rejects.push(JSON.stringify({ line: row.line, reason, raw: { uid: row.uid, corpId: row.corpId } }) + "\n");
      } else {
        batch.push({ uid: uid.id, corpId: corp.id });
      }
    }
    if (batch.length >= batchSize || rejects.length >= batchSize) await flush();
  }
  await flush();
  await inflight;
  cp.done = true;
  cp.updatedAt = new Date().toISOString();
  writeCheckpoint(opts.checkpoint, cp);
  return summary(false);
}
