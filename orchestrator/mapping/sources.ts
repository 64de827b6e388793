// Where a cold start reads existing IDs from: a MySQL query streamed with mysql2, an NDJSON file
// ({"uid","corpId"} per line) or a CSV file (uid,corpId). Each row carries a position to resume
// from: the byte offset after it in a file, the number of rows read from a query.
import { createReadStream, statSync } from "node:fs";
import { parse } from "csv-parse";
import mysql from "mysql2";
import { BitsyncError } from "../errors.js";

export type ImportRow =
  | { uid: unknown; corpId: unknown; position: number; line: number }
  /** A row that could not even be read as fields (bad JSON, wrong column count). */
  | { reason: string; raw: string; position: number; line: number };

export interface ImportSource {
  /** Identifies the source in checkpoints: a resume must read the same one. */
  readonly id: string;
  /** Total of `position` units, when known (bytes of a file), for the progress bar. */
  readonly total: number | undefined;
  readonly unit: "bytes" | "rows";
  /** About how many rows the source holds, when it can tell cheaply. */
  estimateRows(): Promise<number | undefined>;
  /** Rows from `position` on (0: the start). */
  rows(position: number): AsyncIterable<ImportRow>;
}

export class ImportSourceError extends BitsyncError {}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch (err) {
    throw new ImportSourceError(`cannot read ${path}: ${(err as Error).message}`);
  }
}

/** The lines of a file from byte `start`, each with the byte offset just past its newline. */
async function* linesOf(path: string, start: number): AsyncGenerator<{ text: string; end: number }> {
  let rest = Buffer.alloc(0);
  let offset = start;
  for await (const chunk of createReadStream(path, { start }) as AsyncIterable<Buffer>) {
    let buf = rest.length > 0 ? Buffer.concat([rest, chunk]) : chunk;
    let nl: number;
    while ((nl = buf.indexOf(10)) >= 0) {
      const end = nl > 0 && buf[nl - 1] === 13 ? nl - 1 : nl;
      offset += nl + 1;
      yield { text: buf.toString("utf8", 0, end), end: offset };
      buf = buf.subarray(nl + 1);
    }
    rest = Buffer.from(buf);
  }
  if (rest.length > 0) yield { text: rest.toString("utf8"), end: offset + rest.length };
}

/** Rows of a file of about `size` bytes, from the line lengths of its first 64 KiB. */
async function estimateLines(path: string, size: number): Promise<number | undefined> {
  let lines = 0;
  let bytes = 0;
  for await (const { end } of linesOf(path, 0)) {
    lines++;
    bytes = end;
    if (bytes >= 65_536) break;
  }
  return lines === 0 ? undefined : Math.round((size / Math.max(1, bytes)) * lines);
}

/** One JSON object per line. Blank lines are skipped. */
export function ndjsonSource(path: string): ImportSource {
  const total = fileSize(path);
  return {
    id: `ndjson:${path}`,
    total,
    unit: "bytes",
    estimateRows: () => estimateLines(path, total),
    async *rows(position) {
      let line = 0;
      for await (const { text, end: offset } of linesOf(path, position)) {
        line++;
        if (text.trim().length === 0) continue;
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch (err) {
          yield { reason: `not JSON: ${(err as Error).message}`, raw: text, position: offset, line };
          continue;
        }
        if (typeof body !== "object" || body === null || Array.isArray(body)) {
          yield { reason: "not a JSON object {uid, corpId}", raw: text, position: offset, line };
          continue;
        }
        const o = body as Record<string, unknown>;
        yield { uid: o.uid, corpId: o.corpId, position: offset, line };
      }
    },
  };
}

/** uid,corpId per record (RFC 4180 quoting); a first line "uid,corpId" is taken as a header. */
export function csvSource(path: string): ImportSource {
  const total = fileSize(path);
  return {
    id: `csv:${path}`,
    total,
    unit: "bytes",
    estimateRows: () => estimateLines(path, total),
    async *rows(position) {
      const parser = createReadStream(path, { start: position }).pipe(
        parse({
          info: true,
          relax_column_count: true,
          skip_empty_lines: true,
          bom: position === 0,
          record_delimiter: ["\r\n", "\n", "\r"],
          // A badly quoted record is reported and skipped, not the end of the import.
          skip_records_with_error: true,
        }),
      );
      const skipped: { reason: string; raw: string; line: number }[] = [];
      parser.on("skip", (err: Error & { lines?: number; record?: unknown }) => {
        skipped.push({ reason: `bad CSV: ${err.message}`, raw: String(err.record ?? ""), line: err.lines ?? 0 });
      });
      let at = position;
      for await (const rec of parser as AsyncIterable<{ record: string[]; info: { bytes: number; lines: number } }>) {
        const { record, info } = rec;
        for (const s of skipped.splice(0)) yield { ...s, position: at };
        at = position + info.bytes;
        if (info.lines === 1 && position === 0 && record[0]?.trim().toLowerCase() === "uid") continue;
        if (record.length !== 2) {
          yield {
            reason: `expected 2 fields uid,corpId, got ${record.length}`,
            raw: record.join(","),
            position: at,
            line: info.lines,
          };
          continue;
        }
        yield { uid: record[0], corpId: record[1], position: at, line: info.lines };
      }
      for (const s of skipped.splice(0)) yield { ...s, position: at };
    },
  };
}

/**
 * The rows of a query selecting uid and corpId (by those names, or the first two columns),
 * streamed. Resuming skips the rows already done, so the query needs a stable ORDER BY.
 */
export function sqlSource(url: string, sql: string): ImportSource {
  return {
    id: `sql:${sql}`,
    total: undefined,
    unit: "rows",
    estimateRows: () => Promise.resolve(undefined),
    async *rows(position) {
      const conn = mysql.createConnection({
        uri: url,
        supportBigNumbers: true,
        bigNumberStrings: true,
        rowsAsArray: true,
      });
      try {
        const stream = conn.query(sql).stream({ highWaterMark: 10_000 });
        let n = 0;
        for await (const row of stream as AsyncIterable<unknown[]>) {
          n++;
          if (n <= position) continue;
          yield { uid: row[0], corpId: row[1], position: n, line: n };
        }
      } catch (err) {
        throw new ImportSourceError(`import query failed: ${(err as Error).message}`, { cause: err });
      } finally {
        conn.destroy();
      }
    },
  };
}
