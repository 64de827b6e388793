// Cold start: map every existing ID from a source, in batches, publishing each batch's mappings
// downstream, and checkpointing after each batch is published. A crash resumes from the last
// checkpoint; the batch that was in flight is allocated again (idempotent: same bits) and
// published again (at least once, keyed by uid, so the warehouse's upsert dedups it).
//
// A checkpoint belongs to one mapping: it records the mapping's namespace and identity
// (identity.ts), and a resume into any other mapping (one lost since, rebuilt, or elsewhere) is
// refused, since "done" or a position means nothing for a mapping that does not hold the IDs.
import { appendFileSync, existsSync, readFileSync, realpathSync, renameSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { BitsyncError } from "../errors.js";
import { ensureIdentity, readIdentity } from "./identity.js";
import { readEntry, type IdRules } from "./ids.js";
import type { IdMapper, Mapping } from "./mapper.js";
import type { ImportSource } from "./sources.js";

/** Where mappings go downstream (the mapping topic). Resolves once they are acknowledged. */
export interface MappingSink {
  publish(mappings: readonly Mapping[]): Promise<void>;
}

export interface ImportCheckpoint {
  source: string;
  /**
   * The mapping imported into: its namespace and identity. Absent in checkpoints of earlier
   * versions, which are refused on resume (see checkMapping).
   */
  namespace?: string;
  mapping?: string;
  /** Resume from here (bytes of a file, rows of a query). */
  position: number;
  /** Lines before `position`, so that rejects after a resume carry their true line numbers. */
  line?: number;
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
  /**
   * Where this run's time went, seconds. Reading and parsing the source (with the id checks),
   * allocating in Redis and publishing downstream overlap (batch k+1 is read while k is allocated
   * and k-1 published): `readParse` is the reading loop's own time, `allocate` and `publish` the
   * time each stage took, and `wait` the time the reading loop waited for the other two (the
   * slowest stage shows as the one that makes it wait).
   */
  time: { readParse: number; allocate: number; publish: number; wait: number };
}

export class CheckpointError extends BitsyncError {}

/** The checkpoint was made for another mapping than the one in Redis now (or for none). */
export class CheckpointMappingError extends CheckpointError {}

/** Two of the import's files are one: writing one would overwrite or grow the other. */
export class ImportFilesError extends BitsyncError {}

export function readCheckpoint(path: string): ImportCheckpoint | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const cp = JSON.parse(readFileSync(path, "utf8")) as ImportCheckpoint;
    if (typeof cp.source !== "string" || !Number.isSafeInteger(cp.position)) throw new Error("fields missing");
    for (const k of ["namespace", "mapping"] as const) {
      if (cp[k] !== undefined && typeof cp[k] !== "string") throw new Error(`${k} is not a string`);
    }
    return cp;
  } catch (err) {
    throw new CheckpointError(
      `checkpoint ${path} is unreadable (${(err as Error).message}); delete it or pass --restart`,
    );
  }
}

/** Where a path leads: the real path of the file, or of its folder when the file does not exist yet. */
function realPath(path: string): string {
  const abs = resolve(path);
  try {
    return realpathSync(abs);
  } catch {
    try {
      return join(realpathSync(dirname(abs)), basename(abs));
    } catch {
      return abs;
    }
  }
}

/** Whether two paths name one file: the same inode if both exist (hard links too), else the same real path. */
function sameFile(a: string, b: string): boolean {
  const sa = statSync(a, { throwIfNoEntry: false });
  const sb = statSync(b, { throwIfNoEntry: false });
  if (sa && sb) return sa.dev === sb.dev && sa.ino === sb.ino;
  return !sa && !sb && realPath(a) === realPath(b);
}

/** Refuses rejects or a checkpoint written into the input, or into each other, before anything is written. */
function checkFiles(opts: ImportOptions): void {
  const input = opts.source.path;
  if (input !== undefined && sameFile(opts.rejects, input)) {
    throw new ImportFilesError(
      `--rejects ${opts.rejects} is the input file ${input}: rejected rows would be appended to the input. ` +
        `Name another file (default: <checkpoint>.rejects)`,
    );
  }
  if (input !== undefined && sameFile(opts.checkpoint, input)) {
    throw new ImportFilesError(
      `--checkpoint ${opts.checkpoint} is the input file ${input}: the checkpoint would overwrite the input. ` +
        `Name another file`,
    );
  }
  if (sameFile(opts.rejects, opts.checkpoint)) {
    throw new ImportFilesError(
      `--rejects ${opts.rejects} is the checkpoint file: rejected rows would corrupt the checkpoint. Name another file`,
    );
  }
}

const RERUN =
  "To import again into this mapping, pass --restart (safe: uids already mapped keep their bits, " +
  "nothing is mapped twice); if the mapping lost IDs, run `bitsync map rebuild` first to restore them " +
  "from the mapping topic, then import with --restart";

/**
 * The checkpoint's mapping, if it is the one in Redis; else CheckpointMappingError saying what
 * to run. A checkpoint of an earlier version names no mapping and is refused too: it cannot
 * prove that the mapping holds what it counts (accepting it whenever the mapping holds IDs would
 * still let a done checkpoint skip an import into a mapping that lost part of them), and
 * refusing costs at most a re-read of the source, since --restart maps nothing twice.
 */
async function checkMapping(cp: ImportCheckpoint, mapper: IdMapper, path: string): Promise<string> {
  const ns = mapper.keys.namespace;
  const refuse = (why: string): CheckpointMappingError =>
    new CheckpointMappingError(`checkpoint ${path} does not belong to this ID mapping: ${why}. ${RERUN}`);
  if (cp.namespace === undefined || cp.mapping === undefined) {
    throw refuse("it was written by an earlier version of bitsync and names no mapping");
  }
  if (cp.namespace !== ns) {
    throw new CheckpointMappingError(
      `checkpoint ${path} was made for the ID mapping in namespace ${cp.namespace}, and BITSYNC_MAP_NAMESPACE ` +
        `is ${ns}: set BITSYNC_MAP_NAMESPACE=${cp.namespace} to resume it, or pass --restart to import into ${ns}`,
    );
  }
  const state = await readIdentity(mapper);
  if (state.id === cp.mapping && state.missing.length === 0) return cp.mapping;
  if (state.id === null && state.ids === 0) {
    throw refuse(
      `the mapping in namespace ${ns} is empty (it was lost, or this is another Redis), ` +
        `though the checkpoint counts ${cp.mapped} IDs mapped into it`,
    );
  }
  if (state.id === null) {
    throw refuse(
      `the mapping in namespace ${ns} holds ${state.ids} IDs but no identity: it was lost and rebuilt since`,
    );
  }
  if (state.id !== cp.mapping) {
    throw refuse(
      `the mapping in namespace ${ns} is mapping ${state.id}, the checkpoint's is ${cp.mapping} ` +
        `(the mapping was lost and made again since, or this is another Redis)`,
    );
  }
  throw refuse(`groups ${state.missing.join(",")} of the mapping in namespace ${ns} lost their data since`);
}

function writeCheckpoint(path: string, cp: ImportCheckpoint): void {
  // Write then rename: a crash mid-write leaves the previous checkpoint, never half a file.
  writeFileSync(`${path}.tmp`, JSON.stringify(cp, null, 2));
  renameSync(`${path}.tmp`, path);
}

export async function runImport(opts: ImportOptions): Promise<ImportSummary> {
  const started = performance.now();
  const { source, mapper, sink, rules, batchSize } = opts;
  checkFiles(opts);
  const previous = opts.restart ? undefined : readCheckpoint(opts.checkpoint);
  if (previous && previous.source !== source.id) {
    throw new CheckpointError(
      `checkpoint ${opts.checkpoint} belongs to ${previous.source}, not ${source.id}: ` +
        `pass another --checkpoint, or --restart to start over`,
    );
  }
  const mapping = previous ? await checkMapping(previous, mapper, opts.checkpoint) : await ensureIdentity(mapper);
  const cp: ImportCheckpoint = previous ?? {
    source: source.id,
    namespace: mapper.keys.namespace,
    mapping,
    position: 0,
    line: 0,
    rows: 0,
    mapped: 0,
    created: 0,
    rejected: 0,
    done: false,
    updatedAt: new Date().toISOString(),
  };
  const resumedFrom = cp.position;
  const ms = { wait: 0, allocate: 0, publish: 0, loop: 0 };
  const summary = (alreadyDone: boolean): ImportSummary => ({
    ...cp,
    alreadyDone,
    resumedFrom,
    seconds: (performance.now() - started) / 1000,
    time: {
      readParse: Math.max(0, ms.loop - ms.wait) / 1000,
      allocate: ms.allocate / 1000,
      publish: ms.publish / 1000,
      wait: ms.wait / 1000,
    },
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
  let rowsRead = 0;
  let position = cp.position;
  let line = cp.line ?? 0;
  // Three stages overlap: the source is read and parsed into batch k+1 while batch k is allocated
  // and batch k-1 is published. Each batch's work is one promise that allocates, then waits for the
  // previous batch's to finish, then publishes and checkpoints: checkpoints are written in order,
  // and only after everything before them is downstream. The loop waits once two batches are in
  // flight, which bounds memory; a failure surfaces within two batches, and at the end.
  let inflight: Promise<void> = Promise.resolve();
  let before: Promise<void> = Promise.resolve();

  const flush = async (): Promise<void> => {
    const flushStarted = performance.now();
    const entries = batch;
    const rejected = rejects;
    const at = position;
    const atLine = line;
    const n = rowsRead;
    batch = [];
    rejects = [];
    rowsRead = 0;
    // At most two batches in flight: wait for the one before the previous.
    await before;
    const previous = inflight;
    before = previous;
    ms.wait += performance.now() - flushStarted;
    inflight = (async () => {
      const allocating = performance.now();
      const { mappings, created } = entries.length > 0 ? await mapper.allocate(entries) : { mappings: [], created: 0 };
      ms.allocate += performance.now() - allocating;
      await previous;
      const publishStarted = performance.now();
      if (mappings.length > 0) await sink.publish(mappings);
      ms.publish += performance.now() - publishStarted;
      // Rejects are on disk before the checkpoint passes them: nothing is lost.
      if (rejected.length > 0) appendFileSync(opts.rejects, rejected.join(""));
      cp.position = at;
      cp.line = atLine;
      cp.rows += n;
      cp.mapped += mappings.length;
      cp.created += created;
      cp.rejected += rejected.length;
      cp.updatedAt = new Date().toISOString();
      writeCheckpoint(opts.checkpoint, cp);
      report(at);
    })();
    // Surfaced by the flush two batches on, or at the end; never unobserved.
    inflight.catch(() => undefined);
  };

  const loopStarted = performance.now();
  for await (const rows of source.rows(cp.position, cp.line ?? 0)) {
    for (const row of rows) {
      rowsRead++;
      position = row.position;
      line = row.line;
      if ("reason" in row) {
        rejects.push(JSON.stringify({ line: row.line, reason: row.reason, raw: row.raw }) + "\n");
      } else {
        const entry = readEntry(row.uid, row.corpId, rules);
        if ("reason" in entry) {
          const raw = { uid: row.uid, corpId: row.corpId };
          rejects.push(JSON.stringify({ line: row.line, reason: entry.reason, raw }) + "\n");
        } else {
          batch.push(entry);
        }
      }
      if (batch.length >= batchSize || rejects.length >= batchSize) await flush();
    }
  }
  await flush();
  ms.loop = performance.now() - loopStarted;
  const lastWait = performance.now();
  await inflight;
  ms.wait += performance.now() - lastWait;
  cp.done = true;
  cp.updatedAt = new Date().toISOString();
  writeCheckpoint(opts.checkpoint, cp);
  return summary(false);
}
