// Page cursors: opaque to clients, they pin the version and the rank to continue from, so a
// walk stays on one version while new ones are swapped in.
import { BitsyncError } from "../errors.js";

export class BadCursorError extends BitsyncError {}

export function encodeCursor(version: number, rank: number): string {
  return Buffer.from(`${version}.${rank}`).toString("base64url");
}

export function decodeCursor(cursor: string): { version: number; rank: number } {
  const m = /^(\d{1,15})\.(\d{1,15})$/.exec(Buffer.from(cursor, "base64url").toString("latin1"));
  if (!m) throw new BadCursorError(`cursor ${JSON.stringify(cursor.slice(0, 40))} is not one this service issued`);
  return { version: Number(m[1]), rank: Number(m[2]) };
}
