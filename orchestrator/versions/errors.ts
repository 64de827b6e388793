// Errors of the version model, and the one place where the audience scripts' negative replies
// (scripts/lua: beginVersion, swap, rollback, gc) become them.
import { BitsyncError } from "../errors.js";
import { AudienceScriptCode as Code } from "../redis/scripts.js";

/** Another sync of the same audience holds the lock. */
export class SyncConflictError extends BitsyncError {
  constructor(
    readonly audience: string,
    readonly holder: string,
  ) {
    super(`audience ${audience} is already being synced (lock held by ${holder}); retry when it finishes`);
  }
}

/** The head moved (a swap or rollback happened) since this operation read it. */
export class HeadMovedError extends BitsyncError {
  override readonly retriable = true;
}

/** The lock expired and was taken over during the sync: its version is not swapped in. */
export class LockLostError extends BitsyncError {}

/** The version to swap in is missing keys (an expired segment, a crash mid-write). */
export class IncompleteVersionError extends BitsyncError {
  override readonly retriable = true;
}

/** Rollback target is not retained, or its keys expired. */
export class RollbackError extends BitsyncError {}

/** No version of this audience exists in Redis. */
export class UnknownAudienceError extends BitsyncError {}

/** What the script was doing, for the message: the operator reads it to know what to run next. */
export interface ScriptCall {
  audience: string;
  op: "begin" | "swap" | "rollback" | "gc";
  /** The version the call was about (swap, rollback). */
  version?: number;
}

/** The typed error of an audience script's negative reply; a code the scripts never return is a bug. */
export function audienceScriptError(code: number, call: ScriptCall): BitsyncError {
  const { audience, op, version } = call;
  switch (code) {
    case Code.LOCK_LOST:
      return new LockLostError(
        `audience ${audience}: the sync lock expired and was taken over; this sync's version was not swapped in`,
      );
    case Code.HEAD_MOVED:
      return new HeadMovedError(
        op === "gc"
          ? `audience ${audience}: the head changed during gc; run it again`
          : op === "rollback"
            ? `audience ${audience}: the current version changed meanwhile; look again and retry`
            : `audience ${audience}: the current version changed during the sync; sync again`,
      );
    case Code.INCOMPLETE:
      return new IncompleteVersionError(
        `audience ${audience}: version ${version} is not completely written (a key is missing); sync again`,
      );
    case Code.NOT_RETAINED:
      return new RollbackError(`audience ${audience}: version ${version} is not retained; see \`bitsync info\``);
    case Code.EXPIRED:
      return new RollbackError(`audience ${audience}: version ${version} has expired or was collected`);
    default:
      return new BitsyncError(`audience ${audience}: unexpected ${op} script reply ${code}`);
  }
}
