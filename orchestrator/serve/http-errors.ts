// Typed errors to HTTP answers: what the client can fix is a 4xx with the reason; what the
// server lacks (Redis away and the segment not cached) is a 503; nothing else is expected.
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { BitsyncError } from "../errors.js";
import { VersionGoneError } from "../cache/segment-cache.js";
import { InputError } from "../input.js";
import { InvalidIdError } from "../mapping/ids.js";
import { isRedisUnreachable } from "../redis/client.js";
import { AudienceNotFoundError, SourceInputError } from "../source/errors.js";
import { DriftError, IntegrityError } from "../sync/errors.js";
import { RollbackError, SyncConflictError, UnknownAudienceError } from "../versions/errors.js";
import { BadCursorError } from "./cursor.js";
import { BadExpressionError } from "./expression.js";

/** An error of the request itself, with the status and the reason to send. */
export class HttpError extends BitsyncError {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function statusOf(err: unknown): { status: number; code: string } {
  if (err instanceof HttpError) return { status: err.statusCode, code: err.code };
  if (
    err instanceof InputError ||
    // An impDate that is no date (20261399): the source refuses it before any query.
    err instanceof SourceInputError ||
    err instanceof BadCursorError ||
    err instanceof InvalidIdError ||
    err instanceof BadExpressionError
  ) {
    return { status: 400, code: "bad_request" };
  }
  if (err instanceof UnknownAudienceError || err instanceof AudienceNotFoundError)
    return { status: 404, code: "not_found" };
  if (err instanceof VersionGoneError) return { status: 410, code: "version_gone" };
  if (err instanceof SyncConflictError) return { status: 409, code: "conflict" };
  if (err instanceof DriftError || err instanceof IntegrityError || err instanceof RollbackError) {
    return { status: 422, code: "refused" };
  }
  const e = err as FastifyError;
  if (e?.validation || e?.code === "FST_ERR_VALIDATION") return { status: 400, code: "bad_request" };
  if (typeof e?.statusCode === "number" && e.statusCode >= 400 && e.statusCode < 500) {
    return { status: e.statusCode, code: "bad_request" };
  }
  return { status: 503, code: "unavailable" };
}

/** What a client is told when Redis is away: the client library's own words stay in the log. */
export const REDIS_UNREACHABLE_MESSAGE =
  "Redis is unreachable and this answer needs data this instance has not cached; retry shortly " +
  "(cached audiences still answer)";

/** While Redis is away every uncached request fails the same way: one log line per interval says so. */
const UNREACHABLE_LOG_INTERVAL_MS = 5000;

/** The app's error handler: the status and reason of each error, and a log line for 5xx. */
export function createErrorHandler(): (err: unknown, req: FastifyRequest, reply: FastifyReply) => void {
  let lastUnreachableLog = -Infinity;
  let suppressed = 0;
  return (err, req, reply) => {
    const { status, code } = statusOf(err);
    const unreachable = status === 503 && isRedisUnreachable(err);
    const message = unreachable ? REDIS_UNREACHABLE_MESSAGE : err instanceof Error ? err.message : String(err);
    if (unreachable) {
      const now = Date.now();
      if (now - lastUnreachableLog >= UNREACHABLE_LOG_INTERVAL_MS) {
        req.log.warn(
          { err, reqId: req.id, url: req.url, suppressedSinceLast: suppressed },
          "request failed: Redis is unreachable (one line per 5 s while it lasts)",
        );
        lastUnreachableLog = now;
        suppressed = 0;
      } else {
        suppressed++;
      }
    } else if (status >= 500) {
      req.log.error({ err, reqId: req.id, url: req.url }, "request failed");
    }
    void reply.status(status).send({ error: code, message });
  };
}
