import { BitsyncError } from "../errors.js";

/** Another sync of the same audience holds the lock. */
export class SyncConflictError extends BitsyncError {
  constructor(
    readonly audience: string,
    readonly holder: string,
  ) {
    super(`audience ${audience} is already being synced (lock held by ${holder}); retry when it finishes`);
  }
}

/** The decoded bitmap disagrees with the source's own count: the bytes are not what the source holds. */
export class IntegrityError extends BitsyncError {}

/** The new cardinality differs from the served one by more than the allowed ratio. */
export class DriftError extends BitsyncError {}

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

/** The sync was stopped (SIGTERM, a daemon's stop) before it swapped: nothing changed. */
export class SyncAbortedError extends BitsyncError {}
