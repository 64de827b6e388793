// The key layout of one audience. Every key shares the hash tag {aud:ID}, so each Lua script
// touches one slot and runs unchanged on Redis Cluster.
import { parseAudienceId } from "../input.js";

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
  // The id's one rule (input.ts): a second spelling of one id would be a second audience here.
  const tag = `{aud:${parseAudienceId(id)}}`;
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
