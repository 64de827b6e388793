// Reads audience bitmaps over the MySQL protocol: StarRocks, Doris, or a MySQL/MariaDB table of
// serialized bitmaps. One small mysql2 pool per source; every value is a parameter.
import mysql, { type Pool, type PoolConnection } from "mysql2/promise";
import type { Logger } from "pino";
import { DEFAULT_SEGMENT_BITS } from "../config/defaults.js";
import { redact } from "../config/config.js";
import { ConfigError } from "../errors.js";
import { logger as moduleLogger } from "../log.js";
import { BITMAP_FORMATS } from "./decode/types.js";
import {
  AudienceNotFoundError,
  SourceClosedError,
  SourceError,
  SourceInputError,
  SourceQueryError,
  sourceErrorFrom,
} from "./errors.js";
import { toSourceRow } from "./rows.js";
import { buildStatements } from "./sql.js";
import {
  DEFAULT_SOURCE_COLUMNS,
  DEFAULT_SOURCE_TABLE,
  SOURCE_DIALECTS,
  type AudienceSnapshot,
  type BitmapSource,
  type SourceOptions,
  type SourceRow,
} from "./types.js";
import { checkAudienceId, checkChunkBits, checkImpDate, checkRange } from "./validate.js";

type Row = Record<string, unknown>;

function positiveInt(v: number | undefined, fallback: number, setting: string): number {
  if (v === undefined) return fallback;
  if (!Number.isInteger(v) || v < 1) throw new ConfigError(`${setting}=${v} must be a positive integer`);
  return v;
}

interface CoreConnection {
  destroy(): void;
  stream?: { destroy(): void };
}

/**
 * mysql2's destroy() only half-closes the socket (end()): against a frozen server it never
 * closes, and its handle keeps the process alive. The socket itself is destroyed too.
 */
function dropCore(c: CoreConnection): void {
  c.destroy();
  c.stream?.destroy();
}

function dropConnection(conn: PoolConnection): void {
  const core = (conn as unknown as { connection?: CoreConnection }).connection;
  if (core) dropCore(core);
  else conn.destroy();
}

/** Idle connections end politely (COM_QUIT), but a server that does not answer gets 2 s. */
const POOL_END_MS = 2000;

async function endPool(pool: Pool, log: Logger): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const ended = pool.end().then(
    () => true,
    (err: unknown) => {
      log.warn({ err }, "closing the source pool failed");
      return true;
    },
  );
  const late = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), POOL_END_MS)));
  const done = await Promise.race([ended, late]);
  clearTimeout(timer);
  if (!done) {
    log.warn("the source did not close its connections within 2 s; dropping them");
    // mysql2 keeps the pool's sockets here; nothing else can destroy an idle one.
    type Conns = { length: number; get(i: number): CoreConnection };
    const all = (pool as unknown as { pool?: { _allConnections?: Conns } }).pool?._allConnections;
    const conns = all ? Array.from({ length: all.length }, (_, i) => all.get(i)) : [];
    for (const c of conns) dropCore(c);
  }
}

export function createBitmapSource(options: SourceOptions, log: Logger = moduleLogger("source")): BitmapSource {
  const { url, dialect, countColumn } = options;
  if (!SOURCE_DIALECTS.includes(dialect)) {
    throw new ConfigError(`BITSYNC_SOURCE_DIALECT=${String(dialect)} is not one of ${SOURCE_DIALECTS.join(", ")}`);
  }
  // starrocks/doris return BitmapValues; only the mysql dialect's BLOBs may hold other forms.
  const format = dialect === "mysql" ? (options.format ?? "starrocks") : dialect;
  if (
    !BITMAP_FORMATS.includes(format) ||
    (dialect !== "mysql" && options.format && options.format !== "starrocks" && options.format !== "doris")
  ) {
    throw new ConfigError(
      `BITSYNC_SOURCE_FORMAT=${String(options.format)} does not fit BITSYNC_SOURCE_DIALECT=${dialect}: ` +
        `the mysql dialect takes ${BITMAP_FORMATS.join(", ")}; starrocks and doris return their own BitmapValues`,
    );
  }
  const table = options.table ?? DEFAULT_SOURCE_TABLE;
  // Field by field, so that an explicit `undefined` keeps the default.
  const c = options.columns ?? {};
  const d = DEFAULT_SOURCE_COLUMNS;
  const columns = {
    audience: c.audience ?? d.audience,
    impDate: c.impDate ?? d.impDate,
    hashPart: c.hashPart ?? d.hashPart,
    bitmap: c.bitmap ?? d.bitmap,
  };
  const sql = buildStatements({ dialect, table, columns, countColumn });
  const chunkBits = checkChunkBits(options.chunkBits ?? DEFAULT_SEGMENT_BITS);
  const timeout = positiveInt(options.queryTimeoutMs, 300_000, "BITSYNC_SOURCE_QUERY_TIMEOUT_MS");
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(`MYSQL_URL=${redact(url)} is not a URL; expected mysql://user:password@host:port/database`);
  }
  if (parsed.protocol !== "mysql:") throw new ConfigError(`MYSQL_URL must use mysql:, got ${parsed.protocol}`);

  const pool = mysql.createPool({
    uri: url,
    connectionLimit: positiveInt(options.connectionLimit, 2, "connectionLimit"),
    // BIGINT ids and counts arrive as strings, never as rounded JS numbers.
    supportBigNumbers: true,
    bigNumberStrings: true,
    connectTimeout: 10_000,
    enableKeepAlive: true,
  });
  let closing: Promise<void> | undefined;
  /** Connections with a query in flight: close() destroys them, so no read outlives the source. */
  const active = new Set<PoolConnection>();
  // close() rejects every query in flight itself: a destroyed socket does not always make mysql2
  // fail the query on it. One rejecter per query, removed when it settles: racing each query
  // against one long-lived "closed" promise would leave a reaction on it per query, holding that
  // query's rows (every bitmap read) for the life of the source.
  const interrupts = new Set<(err: Error) => void>();
  log.debug({ url: redact(url), dialect, table }, "bitmap source created");

  /**
   * One query on a connection of its own, under a deadline of our own (mysql2's `timeout` keeps
   * its timer running when the connection dies first, and the process with it). When the
   * deadline passes, or the source is closed, the connection is destroyed: a frozen server
   * cannot hold the query, nor the process, any longer.
   */
  async function query(what: string, text: string, values: unknown[]): Promise<Row[]> {
    if (closing) throw new SourceClosedError(`${what}: the source is closed (shutting down)`);
    const started = Date.now();
    let conn: PoolConnection | undefined;
    let timer: NodeJS.Timeout | undefined;
    let expired = false;
    let interrupt: ((err: Error) => void) | undefined;
    // The query's deadline, or the source's close, whichever comes first.
    const deadline = new Promise<never>((_, reject) => {
      interrupt = reject;
      interrupts.add(reject);
      timer = setTimeout(() => {
        expired = true;
        if (conn) dropConnection(conn);
        reject(
          new SourceError(
            `${what}: no answer within BITSYNC_SOURCE_QUERY_TIMEOUT_MS=${timeout} ms (${dialect} source, ` +
              `table ${table}); the connection was dropped (retriable)`,
            { retriable: true },
          ),
        );
      }, timeout);
    });
    try {
      const acquiring = pool.getConnection();
      // A connection that arrives after the deadline (or the close) is not used, nor leaked.
      acquiring.then(
        (c) => void ((expired || closing) && c !== conn && dropConnection(c)),
        () => undefined,
      );
      conn = await Promise.race([acquiring, deadline]);
      if (closing) throw new SourceClosedError(`${what}: the source is closed (shutting down)`);
      active.add(conn);
      const [rows] = await Promise.race([conn.query({ sql: text, values }), deadline]);
      if (!Array.isArray(rows)) throw new SourceQueryError(`${what}: the statement returned no result set`);
      log.debug({ what, rows: rows.length, ms: Date.now() - started }, "source query");
      active.delete(conn);
      conn.release();
      conn = undefined;
      return rows as Row[];
    } catch (err) {
      if (conn) {
        active.delete(conn);
        dropConnection(conn); // its state is unknown after a failure: never back into the pool
      }
      if (closing && !(err instanceof SourceError)) {
        throw new SourceClosedError(`${what}: interrupted, the source was closed (shutting down)`, { cause: err });
      }
      throw sourceErrorFrom(err, { dialect, table, what });
    } finally {
      clearTimeout(timer);
      interrupts.delete(interrupt!);
    }
  }

  async function latestImpDate(audienceId: string): Promise<number | undefined> {
    const id = checkAudienceId(audienceId);
    const rows = await query(`finding the latest imp_date of audience ${id}`, sql.latest, [BigInt(id)]);
    const d = rows[0]?.d;
    if (d === null || d === undefined) return undefined;
    const date = Number(d);
    if (!Number.isInteger(date)) {
      throw new SourceQueryError(`${table}: latest imp_date of audience ${id} is ${String(d)}, not an INT yyyymmdd`);
    }
    return date;
  }

  async function read(audienceId: string, impDate?: number): Promise<AudienceSnapshot> {
    const id = checkAudienceId(audienceId);
    const date = impDate === undefined ? await latestImpDate(id) : checkImpDate(impDate);
    if (date === undefined) throw new AudienceNotFoundError(table, id, undefined);
    const rows = await query(`reading audience ${id} at imp_date ${date}`, sql.read, [BigInt(id), date]);
    // The date can vanish between the two queries (a partition dropped): then it is not found.
    if (rows.length === 0) throw new AudienceNotFoundError(table, id, date);
    const ctx = { dialect, format, table, audienceId: id, impDate: date, log };
    return { audienceId: id, impDate: date, rows: rows.map((r) => toSourceRow(r, ctx)) };
  }

  async function readRange(
    audienceId: string,
    impDate: number,
    start: bigint | number,
    end: bigint | number,
  ): Promise<SourceRow[]> {
    if (sql.range === undefined) {
      throw new SourceInputError(
        `readRange is not supported by the mysql dialect: it stores serialized bytes the server cannot ` +
          `subset; read() the whole value and split it client-side`,
      );
    }
    const id = checkAudienceId(audienceId);
    const date = checkImpDate(impDate);
    const [s, e] = checkRange(start, end);
    const what = `reading audience ${id} at imp_date ${date} in [${s}, ${e})`;
    const rows = await query(what, sql.range, [s, e, BigInt(id), date]);
    if (rows.length === 0) throw new AudienceNotFoundError(table, id, date);
    // Strings, not bigints: the context ends up in JSON log lines.
    const ctx = {
      dialect,
      format,
      table,
      audienceId: id,
      impDate: date,
      range: [String(s), String(e)] as [string, string],
      log,
    };
    return rows.map((r) => toSourceRow(r, ctx));
  }

  return {
    dialect,
    chunkBits,
    latestImpDate,
    read,
    readRange,
    close() {
      if (!closing) {
        // Reads in flight are abandoned, not awaited: a frozen server would hold the close for good.
        for (const interrupt of interrupts) interrupt(new SourceClosedError("the source was closed (shutting down)"));
        interrupts.clear();
        for (const conn of active) dropConnection(conn);
        active.clear();
        closing = endPool(pool, log);
      }
      return closing;
    },
  };
}
