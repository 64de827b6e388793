// Errors of the bitmap source, and the one place that turns a driver error into one of them.
import { BitsyncError } from "../errors.js";
import type { SourceDialect } from "./types.js";

/** Base of every source error. `retriable`: the connection or the server failed, not the request. */
export class SourceError extends BitsyncError {
  override readonly retriable: boolean = false;
  constructor(message: string, options?: ErrorOptions & { retriable?: boolean }) {
    super(message, options);
    this.retriable = options?.retriable ?? false;
  }
}

/** The table has no row for that audience (at that date, or at any date). */
export class AudienceNotFoundError extends SourceError {
  constructor(
    readonly table: string,
    readonly audienceId: string,
    /** Undefined: no row at any date. */
    readonly impDate: number | undefined,
  ) {
    const when = impDate === undefined ? "at any imp_date" : `at imp_date ${impDate}`;
    super(
      `no rows in ${table} for audience ${audienceId} ${when}: check the audience id, ` +
        `and that the warehouse job for that date has finished`,
    );
  }
}

/** The source was closed (the process is stopping) while a query waited or ran. */
export class SourceClosedError extends SourceError {}

/** The server rejected the SQL, or returned values bitsync cannot use. Retrying will not help. */
export class SourceQueryError extends SourceError {}

/** A caller passed an audience id, date or range that cannot be valid. */
export class SourceInputError extends SourceError {}

// Codes after which the same query may work later: the connection, not the request, failed.
const RETRIABLE = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  "PROTOCOL_CONNECTION_LOST",
  "PROTOCOL_SEQUENCE_TIMEOUT",
  "ER_CON_COUNT_ERROR",
  "ER_TOO_MANY_USER_CONNECTIONS",
  "ER_SERVER_SHUTDOWN",
  "ER_QUERY_INTERRUPTED",
  "ER_LOCK_DEADLOCK",
  "ER_LOCK_WAIT_TIMEOUT",
]);

// Connection settings that cannot work: retrying the same URL will not help.
const BAD_URL = new Set(["ENOTFOUND", "ER_ACCESS_DENIED_ERROR", "ER_DBACCESS_DENIED_ERROR", "ER_BAD_DB_ERROR"]);

interface DriverError {
  code?: unknown;
  fatal?: unknown;
  sqlMessage?: unknown;
  message?: unknown;
}

export interface QueryContext {
  dialect: SourceDialect;
  table: string;
  /** What was being done, e.g. "reading audience 42 at imp_date 20261122". */
  what: string;
}

const FUNCTION_HINT: Record<SourceDialect, string> = {
  starrocks:
    "the starrocks dialect needs bitmap_to_base64 (StarRocks >= 2.5) and, for chunked reads, " +
    "bitmap_subset_in_range (StarRocks >= 3.1)",
  doris:
    "the doris dialect needs bitmap_to_base64 (Doris 2.1+, or a 2.0.x from after Sept 2023: apache/doris#23759); " +
    "Doris 1.2 has bitmap_subset_in_range but no base64 function",
  mysql: "the mysql dialect calls no bitmap function; is BITSYNC_SOURCE_DIALECT right?",
};

/** Classifies a mysql2 error (or anything thrown while querying) into a SourceError. */
export function sourceErrorFrom(err: unknown, ctx: QueryContext): SourceError {
  if (err instanceof SourceError) return err;
  const e = (typeof err === "object" && err !== null ? err : {}) as DriverError;
  const code = typeof e.code === "string" ? e.code : undefined;
  const detail = String(e.sqlMessage ?? e.message ?? err);
  const where = `${ctx.what} (${ctx.dialect} source, table ${ctx.table})`;
  const tag = code ? ` [${code}]` : "";
  const options = { cause: err };

  if (code && RETRIABLE.has(code)) {
    return new SourceError(`${where}: ${detail}${tag} (retriable)`, { ...options, retriable: true });
  }
  if (code && BAD_URL.has(code)) {
    return new SourceError(`${where}: ${detail}${tag}; check host, user, password and database in MYSQL_URL`, options);
  }
  if (/pool is closed/i.test(detail)) {
    return new SourceError(`${where}: the source was closed`, options);
  }
  if (
    code === "ER_SP_DOES_NOT_EXIST" ||
    /no matching function|function .*(does not exist|not found)|unknown function/i.test(detail)
  ) {
    return new SourceQueryError(`${where}: ${detail}${tag}; ${FUNCTION_HINT[ctx.dialect]}`, options);
  }
  if (code === "ER_NO_SUCH_TABLE" || /unknown table|table .*(doesn't|does not) exist/i.test(detail)) {
    return new SourceQueryError(`${where}: ${detail}${tag}; check BITSYNC_SOURCE_TABLE`, options);
  }
  if (code === "ER_BAD_FIELD_ERROR" || /unknown column/i.test(detail)) {
    return new SourceQueryError(`${where}: ${detail}${tag}; check the BITSYNC_SOURCE_*_COLUMN settings`, options);
  }
  // A fatal error without a known code is a broken connection.
  if (e.fatal === true) {
    return new SourceError(`${where}: ${detail}${tag} (retriable)`, { ...options, retriable: true });
  }
  return new SourceQueryError(`${where}: ${detail}${tag}`, options);
}
