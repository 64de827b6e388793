// Key names of the ID mapping. Every key of allocator group g carries the hash tag {NS:g}, so each
// script touches one slot and runs unchanged on Redis Cluster. Names are short on purpose: there
// are millions of bucket keys. NS is the mapping's namespace ("map" unless configured).

/** Seqs per reverse bucket: scripts/lua/lib/reverse.lua has the same (test/contracts ties them). */
export const REVERSE_BUCKET_SEQS = 128;

export class MapKeys {
  constructor(readonly namespace: string) {
    if (!/^[A-Za-z0-9_.-]{1,32}$/.test(namespace)) {
      throw new RangeError(`mapping namespace ${JSON.stringify(namespace)}: use 1-32 letters, digits, _ . -`);
    }
  }

  /** The group's meta hash: groups, b0, load, level, split, seq, n, corps, and id (the mapping's identity). */
  meta(group: number): string {
    return `{${this.namespace}:${group}}:m`;
  }

  /** Forward bucket b of a group (uid -> seq), placed by linear hashing in the scripts. */
  forward(group: number, bucket: number): string {
    return `{${this.namespace}:${group}}:f:${bucket}`;
  }

  /** The reverse bucket of a seq; its field is seq % REVERSE_BUCKET_SEQS, its value "cid:uid" (mapReverse.lua). */
  reverse(group: number, seq: number): string {
    return `{${this.namespace}:${group}}:r:${Math.floor(seq / REVERSE_BUCKET_SEQS)}`;
  }

  /** corpId -> cid of a group. */
  corps(group: number): string {
    return `{${this.namespace}:${group}}:c`;
  }

  /** cid -> corpId of a group. */
  corpIds(group: number): string {
    return `{${this.namespace}:${group}}:ci`;
  }

  /** SCAN pattern matching every key of the mapping. */
  get pattern(): string {
    return `{${this.namespace}:*}:*`;
  }
}
