// Large audiences built straight as bytes (a Set of 20M numbers would take the test seconds and
// gigabytes): bitset containers of random bits, in StarRocks' BITMAP32 form (type byte 2, then
// the portable bytes), with a way to answer membership for checking the served answers.
import { mulberry32 } from "../../helpers/roaring.js";

export interface DenseBitmap {
  /** StarRocks BITMAP32 bytes: type byte 2, then portable Roaring. */
  bytes: Buffer;
  cardinality: number;
  has(bit: number): boolean;
}

const CONTAINER = 8192;

/**
 * `containers` bitset containers (keys firstKey, firstKey + 1, ...), each bit set with probability
 * 1/2 (about 32,768 members a container, always over 4096 as a bitset container must be).
 * `flips` are bits toggled after the random fill (to make versions that differ in every segment).
 */
export function denseBitmap(
  containers: number,
  seed: number,
  flips: readonly number[] = [],
  firstKey = 0,
): DenseBitmap {
  const rnd = mulberry32(seed);
  const header = 8 + 8 * containers;
  const bytes = Buffer.alloc(1 + header + CONTAINER * containers);
  bytes[0] = 2;
  const p = bytes.subarray(1);
  const body = p.subarray(header);
  for (let i = 0; i < body.length; i += 4) body.writeUInt32LE(Math.floor(rnd() * 2 ** 32), i);
  for (const bit of flips) {
    const at = bit - firstKey * 65536;
    if (at < 0 || at >= containers * 65536) throw new RangeError(`flip ${bit} outside the bitmap`);
    body[at >>> 3]! ^= 1 << (at & 7);
  }
  p.writeUInt32LE(12346, 0);
  p.writeUInt32LE(containers, 4);
  let cardinality = 0;
  for (let c = 0; c < containers; c++) {
    let card = 0;
    for (let i = c * CONTAINER; i < (c + 1) * CONTAINER; i++) card += popcount(body[i]!);
    p.writeUInt16LE(firstKey + c, 8 + 4 * c);
    p.writeUInt16LE(card - 1, 10 + 4 * c);
    p.writeUInt32LE(header + c * CONTAINER, 8 + 4 * containers + 4 * c);
    cardinality += card;
  }
  return {
    bytes,
    cardinality,
    has(bit) {
      const at = bit - firstKey * 65536;
      return at >= 0 && at < containers * 65536 && (body[at >>> 3]! & (1 << (at & 7))) !== 0;
    },
  };
}

function popcount(b: number): number {
  b = b - ((b >> 1) & 0x55);
  b = (b & 0x33) + ((b >> 2) & 0x33);
  return (b + (b >> 4)) & 0x0f;
}

/**
 * `base` with `flips` toggled, as new bytes (the container cardinalities adjusted): a version
 * that differs from the base in the segments the flips fall in, made without a new random fill.
 */
export function flipped(base: DenseBitmap, flips: readonly number[]): DenseBitmap {
  const bytes = Buffer.from(base.bytes);
  const p = bytes.subarray(1);
  const containers = p.readUInt32LE(4);
  const firstKey = p.readUInt16LE(8);
  const body = p.subarray(8 + 8 * containers);
  const set = new Set(flips);
  let cardinality = base.cardinality;
  for (const bit of set) {
    const at = bit - firstKey * 65536;
    if (at < 0 || at >= containers * 65536) throw new RangeError(`flip ${bit} outside the bitmap`);
    const was = (body[at >>> 3]! >> (at & 7)) & 1;
    body[at >>> 3]! ^= 1 << (at & 7);
    const c = Math.floor(at / 65536);
    p.writeUInt16LE(p.readUInt16LE(10 + 4 * c) + (was ? -1 : 1), 10 + 4 * c);
    cardinality += was ? -1 : 1;
  }
  // Answers from its own bytes: a chain of versions does not keep every earlier one alive.
  const limit = containers * 65536;
  return {
    bytes,
    cardinality,
    has(bit) {
      const at = bit - firstKey * 65536;
      return at >= 0 && at < limit && (body[at >>> 3]! & (1 << (at & 7))) !== 0;
    },
  };
}
