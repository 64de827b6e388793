// Page cursors: opaque to clients, they pin the version and the rank to continue from, so a
// walk stays on one version while new ones are swapped in. The version is named with its head's
// epoch: a number reused after Redis lost the audience's head is another version (410).
import { BitsyncError } from "../errors.js";

export class BadCursorError extends BitsyncError {}

export interface CursorPosition {
  /** "" in cursors of heads that predate epochs. */
  epoch: string;
  version: number;
  rank: number;
}

export function encodeCursor({ epoch, version, rank }: CursorPosition): string {
  return Buffer.from(epoch === "" ? `${version}.${rank}` : `${epoch}.${version}.${rank}`).toString("base64url");
}

const CURSOR = /^(?:([A-Za-z0-9_-]{1,16})\.)?(0|[1-9]\d{0,14})\.(0|[1-9]\d{0,14})$/;

export function decodeCursor(cursor: string): CursorPosition {
  const m = CURSOR.exec(Buffer.from(cursor, "base64url").toString("latin1"));
  if (!m) throw new BadCursorError(`cursor ${JSON.stringify(cursor.slice(0, 40))} is not one this service issued`);
  return { epoch: m[1] ?? "", version: Number(m[2]), rank: Number(m[3]) };
}
