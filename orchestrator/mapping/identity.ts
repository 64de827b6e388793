// The identity of an ID mapping: a random id stored in every group's meta hash ({NS:g}:m, field
// id), next to the group count. An import checkpoint records it with the namespace, so that a
// resume can tell the mapping it was made for from one that was lost since (Redis flushed, a
// failover to an empty replica), rebuilt, or made elsewhere: a checkpoint's counters mean
// nothing for another mapping.
//
// The identity is created by the first import into a mapping (ensureIdentity), through
// mapIdentity.lua: group 0 keeps the first identity any caller proposes (HSETNX), and every other
// group is given group 0's. Callers racing to create it all read back the same one. A rebuild
// (`bitsync map rebuild`) restores IDs but no identity: the next import made with --restart
// gives the rebuilt mapping a new one.
import { randomBytes } from "node:crypto";
import { BitsyncError } from "../errors.js";
import { mappingScriptError } from "./errors.js";
import type { IdMapper } from "./mapper.js";

/** What the groups of a mapping hold. */
export interface IdentityState {
  /** The identity of every group that has one; null when no group has one. */
  id: string | null;
  /** Groups without an identity (all of them when id is null). */
  missing: number[];
  /** IDs mapped, in all groups. */
  ids: number;
}

/** The groups of one mapping hold different identities: data of two mappings got mixed. */
export class IdentityConflictError extends BitsyncError {}

function conflict(mapper: IdMapper, byId: Map<string, number[]>): IdentityConflictError {
  const parts = [...byId].map(([id, groups]) => `${id} in groups ${groups.join(",")}`);
  return new IdentityConflictError(
    `the groups of the ID mapping in namespace ${mapper.keys.namespace} hold different identities ` +
      `(${parts.join("; ")}): they come from different mappings (a group restored from another ` +
      `mapping's backup?). Restore the whole mapping from one backup, or clear it and run ` +
      `\`bitsync map rebuild\``,
  );
}

/** Reads the identity and the ID count of every group (one HMGET per group). */
export async function readIdentity(mapper: IdMapper): Promise<IdentityState> {
  const metas = await Promise.all(
    Array.from({ length: mapper.groups }, (_, g) => mapper.redis.hmget(mapper.keys.meta(g), "id", "n")),
  );
  const byId = new Map<string, number[]>();
  const missing: number[] = [];
  let ids = 0;
  metas.forEach(([id, n], g) => {
    ids += Number(n ?? 0);
    if (id === null || id === undefined) missing.push(g);
    else byId.set(id, [...(byId.get(id) ?? []), g]);
  });
  if (byId.size > 1) throw conflict(mapper, byId);
  return { id: byId.keys().next().value ?? null, missing, ids };
}

/** Stores `id` in the group unless it has one; returns the group's identity. */
async function storeIdentity(mapper: IdMapper, group: number, id: string): Promise<string> {
  const res = await mapper.redis.mapIdentity(mapper.keys.meta(group), mapper.groups, id);
  if (typeof res === "number") {
    throw await mappingScriptError(res, mapper, group);
  }
  if (typeof res !== "string") throw new BitsyncError(`mapping group ${group}: unexpected reply ${String(res)}`);
  return res;
}

/**
 * The mapping's identity, created when it has none (an empty mapping, a rebuilt one, or one
 * made before identities existed). Groups that lack it get it; groups that disagree throw.
 */
export async function ensureIdentity(mapper: IdMapper): Promise<string> {
  const state = await readIdentity(mapper);
  if (state.id !== null && state.missing.length === 0) return state.id;
  // Propose the identity the other groups have, if any: a group that lost its data (or a crash
  // between the groups' writes) must not split the mapping in two identities.
  const id = await storeIdentity(mapper, 0, state.id ?? randomBytes(12).toString("base64url"));
  const held = await Promise.all(Array.from({ length: mapper.groups - 1 }, (_, k) => storeIdentity(mapper, k + 1, id)));
  if (held.some((h) => h !== id)) {
    const byId = new Map<string, number[]>([[id, [0]]]);
    held.forEach((h, k) => byId.set(h, [...(byId.get(h) ?? []), k + 1]));
    throw conflict(mapper, byId);
  }
  return id;
}
