// The uid hash that places a uid in its allocator group and forward bucket: the first 32 bits of
// SHA-1 over its UTF-8 bytes. Lua computes the same (scripts/lua/lib/idhash.lua, with Redis' own
// redis.sha1hex: the scripts hash for themselves, so no client can put a uid in a wrong bucket);
// here it picks the group a uid is sent to. A test holds the two equal.
import { createHash } from "node:crypto";

export function uidHash(uid: string): number {
  return createHash("sha1").update(uid, "utf8").digest().readUInt32BE(0);
}

/** The allocator group of a uid: hash mod G. */
export function groupOf(uid: string, groups: number): number {
  return uidHash(uid) % groups;
}
