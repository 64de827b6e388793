// Where a cold start reads existing IDs from: a MySQL query streamed with mysql2, an NDJSON file
// ({"uid","corpId"} per line) or a CSV file (uid,corpId). Each row carries a position to resume
// from: the byte offset after it in a file, the number of rows read from a query.
import { isAscii } from "node:buffer";
import { createReadStream, statSync } from "node:fs";
import { open } from "node:fs/promises";
import mysql from "mysql2";
import { BitsyncError } from "../errors.js";

export type ImportRow =
  | { uid: unknown; corpId: unknown; position: number; line: number }
  /** A row that could not even be read as fields (bad JSON, wrong column count, too long). */
  | { reason: string; raw: string; position: number; line: number };

export interface ImportSource {
  /** Identifies the source in checkpoints: a resume must read the same one. */
  readonly id: string;
  /** The file read, for a file source (the import refuses to write into it). */
  readonly path?: string;
  /** Total of `position` units, when known (bytes of a file), for the progress bar. */
  readonly total: number | undefined;
  readonly unit: "bytes" | "rows";
  /** About how many rows the source holds, when it can tell cheaply. */
  estimateRows(): Promise<number | undefined>;
  /**
   * Rows from `position` on (0: the start); `line`: lines (rows of a query) before `position`.
   * In batches, in order: a cold start reads millions of rows, and one await per row cost more
   * than parsing it.
   */
  rows(position: number, line?: number): AsyncIterable<ImportRow[]>;
}

export interface FileSourceOptions {
  /** Longest line read, in bytes: a longer one is rejected without being held in memory. */
  maxLineBytes?: number;
}

/** 1 MiB: a registration line is well under 1 KB; a longer line is a file missing its newlines. */
export const DEFAULT_MAX_LINE_BYTES = 1 << 20;
/** Bytes of an over-long line kept for its reject, so that the operator can tell which it was. */
const PREFIX_BYTES = 64;
const CHUNK_BYTES = 64 * 1024;

export class ImportSourceError extends BitsyncError {}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch (err) {
    throw new ImportSourceError(`cannot read ${path}: ${(err as Error).message}`);
  }
}

function maxLineOf(opts: FileSourceOptions): number {
  const max = opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  if (!Number.isSafeInteger(max) || max <= 0) throw new RangeError(`maxLineBytes ${max} is not a positive integer`);
  return max;
}

/** A line of a file: its text (without \r\n), or only its length and first bytes when too long. */
type Line = { line: number; end: number } & ({ text: string } | { tooLong: number; prefix: string });

/**
 * The lines of a file from byte `start`, each with its number (after `line` lines before
 * `start`) and the byte offset just past its newline, in one batch per read chunk (a cold start
 * reads millions of lines: one await per line cost more than parsing them). Linear in the file's
 * size: each byte is scanned once and copied at most once, and a line longer than `max` bytes is
 * not kept at all (only its first bytes), so memory stays within `max` plus a read chunk whatever
 * the file holds.
 */
async function* linesOf(path: string, start: number, line: number, max: number): AsyncGenerator<Line[]> {
  let pieces: Buffer[] = []; // the current line's bytes in earlier chunks
  let held = 0; // their length
  let tooLong = 0; // > 0: the current line is over `max`; its length so far (pieces dropped)
  let prefix = "";
  let lineStart = start; // the file offset of the current line
  let offset = start; // the file offset of the chunk's first byte
  const finish = (last: Buffer, end: number): Line => {
    line++;
    const length = (tooLong > 0 ? tooLong : held) + last.length;
    let out: Line;
    if (tooLong > 0 || length > max) {
      out = { line, end, tooLong: length, prefix: tooLong > 0 ? prefix : head([...pieces, last]) };
    } else {
      const bytes = held === 0 ? last : Buffer.concat([...pieces, last], length);
      const cut = bytes.length > 0 && bytes[bytes.length - 1] === 13 ? bytes.length - 1 : bytes.length;
      // A UTF-8 byte order mark is not part of the file's first line.
      const from = lineStart === 0 && isBom(bytes) ? 3 : 0;
      out = { line, end, text: bytes.toString("utf8", from, Math.max(from, cut)) };
    }
    pieces = [];
    held = 0;
    tooLong = 0;
    prefix = "";
    lineStart = end;
    return out;
  };
  for await (const chunk of createReadStream(path, { start, highWaterMark: CHUNK_BYTES }) as AsyncIterable<Buffer>) {
    const out: Line[] = [];
    let from = 0;
    if (held > 0 || tooLong > 0) {
      // The line begun in an earlier chunk: almost every chunk starts inside one.
      const nl = chunk.indexOf(10);
      if (nl >= 0) {
        out.push(finish(chunk.subarray(0, nl), offset + nl + 1));
        from = nl + 1;
      }
    }
    const last = chunk.lastIndexOf(10);
    if (last >= from && held === 0 && tooLong === 0 && isAscii(chunk.subarray(from, last))) {
      // The common case, whole ASCII lines: decoded at once, and a character is a byte.
      const text = chunk.toString("latin1", from, last + 1);
      let at = 0;
      let nl: number;
      while ((nl = text.indexOf("\n", at)) >= 0) {
        line++;
        const end = offset + from + nl + 1;
        if (nl - at > max) out.push({ line, end, tooLong: nl - at, prefix: text.slice(at, at + PREFIX_BYTES) });
        else out.push({ line, end, text: text.slice(at, nl > at && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl) });
        at = nl + 1;
      }
      from = last + 1;
      lineStart = offset + from;
    } else {
      let nl: number;
      while ((nl = chunk.indexOf(10, from)) >= 0) {
        out.push(finish(chunk.subarray(from, nl), offset + nl + 1));
        from = nl + 1;
      }
    }
    const tail = chunk.subarray(from);
    if (tooLong > 0) tooLong += tail.length;
    else if (held + tail.length > max) {
      prefix = head([...pieces, tail]);
      tooLong = held + tail.length;
      pieces = [];
      held = 0;
    } else if (tail.length > 0) {
      pieces.push(tail);
      held += tail.length;
    }
    offset += chunk.length;
    if (out.length > 0) yield out;
  }
  if (held > 0 || tooLong > 0) yield [finish(Buffer.alloc(0), offset)];
}

function isBom(b: Buffer): boolean {
  return b.length >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf;
}

/** The first PREFIX_BYTES bytes of the pieces, as text. */
function head(pieces: Buffer[]): string {
  const out: Buffer[] = [];
  let n = 0;
  for (const p of pieces) {
    if (n >= PREFIX_BYTES) break;
    out.push(p.subarray(0, PREFIX_BYTES - n));
    n += Math.min(p.length, PREFIX_BYTES - n);
  }
  return Buffer.concat(out).toString("utf8");
}

function tooLongRow(l: { line: number; end: number; tooLong: number; prefix: string }, max: number): ImportRow {
  return {
    reason: `line of ${l.tooLong} bytes is over the limit of ${max} (--max-line-bytes): skipped (a missing newline?)`,
    raw: `${l.prefix}...`,
    position: l.end,
    line: l.line,
  };
}

/** Rows of a file of about `size` bytes, from the lines in its first 64 KiB (never more read). */
async function estimateLines(path: string, size: number): Promise<number | undefined> {
  const file = await open(path, "r");
  try {
    const buf = Buffer.alloc(Math.min(size, 65_536));
    const { bytesRead } = await file.read(buf, 0, buf.length, 0);
    let lines = 0;
    for (let at = buf.indexOf(10); at >= 0 && at < bytesRead; at = buf.indexOf(10, at + 1)) lines++;
    if (bytesRead === size && bytesRead > 0 && buf[bytesRead - 1] !== 10) lines++; // a last line without newline
    return lines === 0 ? undefined : Math.round((size / Math.max(1, bytesRead)) * lines);
  } finally {
    await file.close();
  }
}

/**
 * A source of one record per line of a file: `parse` makes each line's row (a line too long is
 * rejected without being read into memory). The line's text, where it ends and its number.
 */
function lineFileSource(
  format: string,
  path: string,
  opts: FileSourceOptions,
  parse: (l: { text: string; position: number; line: number; start: number }) => ImportRow | undefined,
): ImportSource {
  const total = fileSize(path);
  const max = maxLineOf(opts);
  return {
    id: `${format}:${path}`,
    path,
    total,
    unit: "bytes",
    estimateRows: () => estimateLines(path, total),
    async *rows(start, before = 0) {
      for await (const lines of linesOf(path, start, before, max)) {
        const rows: ImportRow[] = [];
        for (const l of lines) {
          const row =
            "tooLong" in l ? tooLongRow(l, max) : parse({ text: l.text, position: l.end, line: l.line, start });
          if (row !== undefined) rows.push(row);
        }
        if (rows.length > 0) yield rows;
      }
    },
  };
}

/** {"uid":"...","corpId":"..."} with no escapes in either string (JSON.parse would give the same). */
// eslint-disable-next-line no-control-regex -- JSON strings may not hold them unescaped
const SIMPLE_LINE = /^\{"uid":"([^"\\\x00-\x1f]*)","corpId":"([^"\\\x00-\x1f]*)"\}$/;

/** One JSON object per line. Blank lines are skipped. */
export function ndjsonSource(path: string, opts: FileSourceOptions = {}): ImportSource {
  return lineFileSource("ndjson", path, opts, ({ text, position, line }) => {
    // The shape every exporter writes, read without JSON.parse; strings with an escape, other
    // fields or another order take the full parse below.
    const simple = SIMPLE_LINE.exec(text);
    if (simple) return { uid: simple[1], corpId: simple[2], position, line };
    if (text.trim().length === 0) return undefined;
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (err) {
      return { reason: `not JSON: ${(err as Error).message}`, raw: text, position, line };
    }
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      return { reason: "not a JSON object {uid, corpId}", raw: text, position, line };
    }
    const o = body as Record<string, unknown>;
    return { uid: o.uid, corpId: o.corpId, position, line };
  });
}

/**
 * The fields of one CSV line: RFC 4180 quoting ("a ""b""" is a "b"), fields separated by
 * commas; or why the line is not CSV. A quoted field cannot span lines: a uid or corpId never
 * holds a line break (control characters are refused), so such a record is rejected anyway.
 */
export function csvFields(line: string): string[] | { reason: string } {
  if (!line.includes('"')) return line.split(",");
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let value = "";
      let from = i + 1;
      for (;;) {
        const q = line.indexOf('"', from);
        if (q < 0) return { reason: `bad CSV: field ${fields.length + 1} has no closing quote` };
        value += line.slice(from, q);
        if (line[q + 1] !== '"') {
          i = q + 1;
          break;
        }
        value += '"';
        from = q + 2;
      }
      fields.push(value);
      if (i === line.length) return fields;
      if (line[i] !== ",")
        return { reason: `bad CSV: a character follows the closing quote of field ${fields.length}` };
      i++;
    } else {
      const comma = line.indexOf(",", i);
      const value = comma < 0 ? line.slice(i) : line.slice(i, comma);
      if (value.includes('"')) return { reason: `bad CSV: a quote inside unquoted field ${fields.length + 1}` };
      fields.push(value);
      if (comma < 0) return fields;
      i = comma + 1;
    }
  }
}

/** uid,corpId per line (RFC 4180 quoting); a first line "uid,corpId" is taken as a header. */
export function csvSource(path: string, opts: FileSourceOptions = {}): ImportSource {
  return lineFileSource("csv", path, opts, ({ text, position, line, start }) => {
    if (text.length === 0) return undefined;
    const fields = csvFields(text);
    if ("reason" in fields) return { reason: fields.reason, raw: text, position, line };
    if (start === 0 && line === 1 && fields[0]?.trim().toLowerCase() === "uid") return undefined;
    if (fields.length !== 2) {
      return { reason: `expected 2 fields uid,corpId, got ${fields.length}`, raw: text, position, line };
    }
    return { uid: fields[0], corpId: fields[1], position, line };
  });
}

/**
 * The rows of a query selecting uid and corpId (by those names, or the first two columns),
 * streamed. Resuming skips the rows already done, so the query needs a stable ORDER BY.
 */
const SQL_BATCH_ROWS = 1000;

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
        let rows: ImportRow[] = [];
        for await (const row of stream as AsyncIterable<unknown[]>) {
          n++;
          if (n <= position) continue;
          rows.push({ uid: row[0], corpId: row[1], position: n, line: n });
          if (rows.length >= SQL_BATCH_ROWS) {
            yield rows;
            rows = [];
          }
        }
        if (rows.length > 0) yield rows;
      } catch (err) {
        throw new ImportSourceError(`import query failed: ${(err as Error).message}`, { cause: err });
      } finally {
        conn.destroy();
      }
    },
  };
}
