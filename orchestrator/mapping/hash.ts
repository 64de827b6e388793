// The uid hash that places a uid in its allocator group and forward bucket: the first 32 bits of
// SHA-1 over its UTF-8 bytes. Lua computes the same (scripts/lua/lib/idhash.lua, with Redis' own
// redis.sha1hex). The client hashes every uid and sends the hash with it; mapAllocate checks each
// uid's group and hashes a sample again (mapAllocate.lua says which), so a client hashing
// differently is refused. A test holds the two equal, and this file's one-block SHA-1 equal to
// node:crypto's.
import { createHash } from "node:crypto";

// One SHA-1 block (64 bytes) as 16 big-endian words, and the 80-word schedule: reused, the hash
// runs on the cold start's hot path (createHash costs about 2 µs a call, most of it set-up).
const W = new Int32Array(80);

const viaCrypto = (uid: string): number => createHash("sha1").update(uid, "utf8").digest().readUInt32BE(0);

/**
 * The first 32 bits of SHA-1 over an ASCII string of at most 55 characters (one block once
 * padded), computed here; anything else through node:crypto.
 */
export function uidHash(uid: string): number {
  const n = uid.length;
  if (n > 55) return viaCrypto(uid);
  W.fill(0, 0, 16);
  for (let i = 0; i < n; i++) {
    const c = uid.charCodeAt(i);
    if (c >= 0x80) return viaCrypto(uid);
    W[i >> 2]! |= c << (24 - 8 * (i & 3));
  }
  W[n >> 2]! |= 0x80 << (24 - 8 * (n & 3));
  W[15] = n * 8;
  for (let t = 16; t < 80; t++) {
    const x = W[t - 3]! ^ W[t - 8]! ^ W[t - 14]! ^ W[t - 16]!;
    W[t] = (x << 1) | (x >>> 31);
  }
  let a = 0x67452301;
  let b = 0xefcdab89 | 0;
  let c = 0x98badcfe | 0;
  let d = 0x10325476;
  let e = 0xc3d2e1f0 | 0;
  for (let t = 0; t < 80; t++) {
    let f: number;
    let k: number;
    if (t < 20) {
      f = (b & c) | (~b & d);
      k = 0x5a827999;
    } else if (t < 40) {
      f = b ^ c ^ d;
      k = 0x6ed9eba1;
    } else if (t < 60) {
      f = (b & c) | (b & d) | (c & d);
      k = 0x8f1bbcdc | 0;
    } else {
      f = b ^ c ^ d;
      k = 0xca62c1d6 | 0;
    }
    const temp = (((a << 5) | (a >>> 27)) + f + e + k + W[t]!) | 0;
    e = d;
    d = c;
    c = (b << 30) | (b >>> 2);
    b = a;
    a = temp;
  }
  // Only the first word of the digest: h0 + a.
  return (0x67452301 + a) >>> 0;
}
