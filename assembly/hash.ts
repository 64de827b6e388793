// MurmurHash3 x64 128 (Austin Appleby's public-domain design): the content address of segments.
// Computed here, on bytes already in linear memory, at several GB/s: SHA-256 in Node cost a
// sync ~20 ms per 25 MB. Not cryptographic: it guards against accidental collisions (2^-128),
// which is what content addressing of the warehouse's own audiences needs.

const C1: u64 = 0x87c37b91114253d5;
const C2: u64 = 0x4cf5ad432745937f;

function fmix64(k: u64): u64 {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccd;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53;
  k ^= k >> 33;
  return k;
}

/** Writes the 16-byte hash of [ptr, ptr+len) to out: h1 then h2, little-endian. */
export function murmur3x64_128(ptr: usize, len: usize, seed: u64, out: usize): void {
  let h1 = seed;
  let h2 = seed;
  const blocks = len >> 4;
  for (let i: usize = 0; i < blocks; i++) {
    let k1 = load<u64>(ptr + (i << 4));
    let k2 = load<u64>(ptr + (i << 4), 8);
    k1 *= C1;
    k1 = rotl<u64>(k1, 31);
    k1 *= C2;
    h1 ^= k1;
    h1 = rotl<u64>(h1, 27);
    h1 += h2;
    h1 = h1 * 5 + 0x52dce729;
    k2 *= C2;
    k2 = rotl<u64>(k2, 33);
    k2 *= C1;
    h2 ^= k2;
    h2 = rotl<u64>(h2, 31);
    h2 += h1;
    h2 = h2 * 5 + 0x38495ab5;
  }
  const tail = ptr + (blocks << 4);
  const rest = len & 15;
  let k1: u64 = 0;
  let k2: u64 = 0;
  for (let i: usize = rest; i > 8; i--) k2 = (k2 << 8) | (<u64>load<u8>(tail + i - 1));
  for (let i: usize = rest < 8 ? rest : 8; i > 0; i--) k1 = (k1 << 8) | (<u64>load<u8>(tail + i - 1));
  if (rest > 8) {
    k2 *= C2;
    k2 = rotl<u64>(k2, 33);
    k2 *= C1;
    h2 ^= k2;
  }
  if (rest > 0) {
    k1 *= C1;
    k1 = rotl<u64>(k1, 31);
    k1 *= C2;
    h1 ^= k1;
  }
  h1 ^= <u64>len;
  h2 ^= <u64>len;
  h1 += h2;
  h2 += h1;
  h1 = fmix64(h1);
  h2 = fmix64(h2);
  h1 += h2;
  h2 += h1;
  store<u64>(out, h1);
  store<u64>(out, h2, 8);
}
