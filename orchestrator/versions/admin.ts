// Operator actions on versions: look, roll back, collect garbage.
import { RollbackError, UnknownAudienceError } from "./errors.js";
import type { VersionStore } from "./store.js";
import type { VersionInfo } from "./format.js";

export interface RetainedVersion {
  version: number;
  current: boolean;
  /** null when the version's keys have expired. */
  cardinality: number | null;
  segments: number | null;
  impDate: number | null;
  createdAt: string | null;
}

export interface AudienceInfo {
  audience: string;
  version: number;
  cardinality: number;
  segments: number;
  retained: RetainedVersion[];
  info: VersionInfo;
}

export async function audienceInfo(store: VersionStore, audience: string): Promise<AudienceInfo> {
  const head = await store.head(audience);
  if (head.current === null) throw new UnknownAudienceError(`audience ${audience} has no synced version`);
  const infos = await Promise.all(head.retained.map((v) => store.info(audience, v)));
  const current = await store.info(audience, head.current);
  if (!current) throw new UnknownAudienceError(`audience ${audience}: current version ${head.current} has expired`);
  return {
    audience,
    version: head.current,
    cardinality: current.cardinality,
    segments: current.segments,
    retained: head.retained.map((v, i) => ({
      version: v,
      current: v === head.current,
      cardinality: infos[i]?.cardinality ?? null,
      segments: infos[i]?.segments ?? null,
      impDate: infos[i]?.source.impDate ?? null,
      createdAt: infos[i]?.createdAt ?? null,
    })),
    info: current,
  };
}

/**
 * Points the head at `to`, or by default at the newest retained version older than the
 * current one.
 */
export async function rollbackAudience(
  store: VersionStore,
  audience: string,
  to?: number,
): Promise<{ audience: string; from: number; to: number; generation: number }> {
  const head = await store.head(audience);
  if (head.current === null) throw new UnknownAudienceError(`audience ${audience} has no synced version`);
  const target = to ?? head.retained.filter((v) => v < head.current!).sort((a, b) => b - a)[0];
  if (target === undefined) {
    throw new RollbackError(`audience ${audience}: no retained version older than ${head.current} to roll back to`);
  }
  if (target === head.current) throw new RollbackError(`audience ${audience}: version ${target} is already current`);
  const generation = await store.rollback(audience, target, head.current);
  return { audience, from: head.current, to: target, generation };
}

export async function collectGarbage(
  store: VersionStore,
  audience: string,
): Promise<{ keys: number; segments: number; versions: number }> {
  const lock = await store.lock(audience);
  try {
    return await store.gc(audience, lock);
  } finally {
    await lock.release();
  }
}
