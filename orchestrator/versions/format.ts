// What a version of an audience is, in Redis: a JSON info record and a binary per-segment
// index. Segments themselves are content-addressed ({aud:ID}:s:HASH), so a version is exactly
// its index: segment number -> content hash, plus cardinality, min and max per segment.
import { createHash } from "node:crypto";
import { BitsyncError } from "../errors.js";

export interface SegmentEntry {
  /** Segment number k: positions [k·2^bits, (k+1)·2^bits). */
  segment: number;
  cardinality: number;
  /** Smallest and largest member, as offsets inside the segment. */
  min: number;
  max: number;
  /** Size of the portable blob. */
  bytes: number;
  /** Content hash (MurmurHash3 x64 128 from the core, base64url): the segment's key suffix. */
  hash: string;
}

export interface VersionSource {
  dialect: string;
  table: string;
  impDate: number;
  hashParts: number[];
}

export interface VersionInfo {
  audience: string;
  /** The head's epoch when the version was made: (epoch, version) is unique for good. */
  epoch?: string;
  version: number;
  segmentBits: number;
  cardinality: number;
  /** Smallest and largest member position; null when the audience is empty. */
  min: number | null;
  max: number | null;
  segments: number;
  bytes: number;
  source: VersionSource;
  /** SHA-256 of the encoded index: identifies the content of the whole version. */
  checksum: string;
  createdAt: string;
  /** Written last: the swap script refuses a version whose info does not say so. */
  complete: true;
}

export class IndexFormatError extends BitsyncError {}

const MAGIC = 0x31495342; // "BSI1"
const HEADER_BYTES = 12;
const RECORD_BYTES = 48;
const HASH_BYTES = 16;

/**
 * Binary index: u32 magic, u8 segmentBits, 3 bytes reserved, u32 count, then per segment
 * u64 segment, u64 cardinality, u32 min, u32 max, u32 bytes, u32 reserved, 16-byte hash.
 * Binary rather than JSON: an audience can have thousands of segments and every reader loads it.
 */
export function encodeIndex(segmentBits: number, entries: readonly SegmentEntry[]): Buffer {
  const buf = Buffer.alloc(HEADER_BYTES + entries.length * RECORD_BYTES);
  buf.writeUInt32LE(MAGIC, 0);
  buf.writeUInt8(segmentBits, 4);
  buf.writeUInt32LE(entries.length, 8);
  let o = HEADER_BYTES;
  for (const e of entries) {
    buf.writeBigUInt64LE(BigInt(e.segment), o);
    buf.writeBigUInt64LE(BigInt(e.cardinality), o + 8);
    buf.writeUInt32LE(e.min, o + 16);
    buf.writeUInt32LE(e.max, o + 20);
    buf.writeUInt32LE(e.bytes, o + 24);
    const hash = Buffer.from(e.hash, "base64url");
    if (hash.length !== HASH_BYTES) throw new IndexFormatError(`segment ${e.segment}: hash is not ${HASH_BYTES} bytes`);
    hash.copy(buf, o + 32);
    o += RECORD_BYTES;
  }
  return buf;
}

export function decodeIndex(buf: Buffer): { segmentBits: number; entries: SegmentEntry[] } {
  if (buf.length < HEADER_BYTES || buf.readUInt32LE(0) !== MAGIC) {
    throw new IndexFormatError("version index is not in bitsync's index format (bad magic)");
  }
  const segmentBits = buf.readUInt8(4);
  const count = buf.readUInt32LE(8);
  if (buf.length !== HEADER_BYTES + count * RECORD_BYTES) {
    throw new IndexFormatError(`version index holds ${buf.length} B, expected ${HEADER_BYTES + count * RECORD_BYTES}`);
  }
  const entries: SegmentEntry[] = [];
  let o = HEADER_BYTES;
  for (let i = 0; i < count; i++) {
    entries.push({
      segment: Number(buf.readBigUInt64LE(o)),
      cardinality: Number(buf.readBigUInt64LE(o + 8)),
      min: buf.readUInt32LE(o + 16),
      max: buf.readUInt32LE(o + 20),
      bytes: buf.readUInt32LE(o + 24),
      hash: buf.subarray(o + 32, o + 32 + HASH_BYTES).toString("base64url"),
    });
    o += RECORD_BYTES;
  }
  return { segmentBits, entries };
}

export function indexChecksum(encoded: Buffer): string {
  return createHash("sha256").update(encoded).digest("hex");
}

export function parseInfo(raw: string, where: string): VersionInfo {
  try {
    const info = JSON.parse(raw) as VersionInfo;
    if (typeof info.version !== "number" || typeof info.segmentBits !== "number") throw new Error("fields missing");
    return info;
  } catch (err) {
    throw new IndexFormatError(`${where} is not a bitsync version info: ${(err as Error).message}`);
  }
}
