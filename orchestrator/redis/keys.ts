// Every key of one audience shares the hash tag {aud:ID}, so each Lua script touches one slot
// and runs unchanged on Redis Cluster.
import { BitsyncError } from "../errors.js";

export class InvalidAudienceIdError extends BitsyncError {}

const AUDIENCE_ID = /^[A-Za-z0-9_.-]{1,64}$/;

export function checkAudienceId(id: string): string {
  if (!AUDIENCE_ID.test(id)) {
    throw new InvalidAudienceIdError(
      `audience id "${id.slice(0, 80)}" is invalid: use 1-64 characters from A-Z a-z 0-9 _ . -`,
    );
  }
  return id;
}

export interface AudienceKeys {
  /** hash: current, retained, seq, generation, updatedAt */
  head: string;
  /** the sync lock's token */
  lock: string;
  /** set of versions begun and not yet collected */
  versions: string;
  /** set of segment hashes present */
  segs: string;
  info(version: number): string;
  index(version: number): string;
  segment(hash: string): string;
}

export function audienceKeys(id: string): AudienceKeys {
  const tag = `{aud:${checkAudienceId(id)}}`;
  return {
    head: `${tag}:head`,
    lock: `${tag}:lock`,
    versions: `${tag}:versions`,
    segs: `${tag}:segs`,
    info: (v) => `${tag}:v:${v}:info`,
    index: (v) => `${tag}:v:${v}:index`,
    segment: (hash) => `${tag}:s:${hash}`,
  };
}
