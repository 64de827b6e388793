// Errors of a sync itself (the version model's own are in versions/errors.ts).
import { BitsyncError } from "../errors.js";

/** The decoded bitmap disagrees with the source's own count: the bytes are not what the source holds. */
export class IntegrityError extends BitsyncError {}

/** The new cardinality differs from the served one by more than the allowed ratio. */
export class DriftError extends BitsyncError {}

/** The sync was stopped (SIGTERM, a daemon's stop) before it swapped: nothing changed. */
export class SyncAbortedError extends BitsyncError {}
