// The shapes the core's public classes take and return (plain JS values: no pointers).
import type { ResidentBlob } from "./resident.js";

/** Shape of batch results: one byte per query (0/1), or a bitset with bit i for query i. */
export type BatchFormat = "bytes" | "bits";

export interface CoreOptions {
  /** `release` (optimized) or `debug` (asserts, source map). Default `release`. */
  variant?: "release" | "debug";
  /** Cap on bytes held by resident blobs. Default 1 GiB. */
  budgetBytes?: number;
}

/** One segment out of segmentation: a standard portable Roaring blob of offsets in the segment. */
export interface Segment {
  /** Segment number k: the segment covers positions [k·2^bits, (k+1)·2^bits). */
  segment: number;
  cardinality: number;
  /** Smallest and largest member, as offsets inside the segment. */
  min: number;
  max: number;
  /** Portable Roaring bytes (JS-owned copy). */
  blob: Uint8Array;
  /** Content hash of the blob: MurmurHash3 x64 128, base64url (22 characters). */
  hash: string;
}

/** What a segment's index record says, before its bytes are taken. */
export interface SegmentInfo {
  segment: number;
  cardinality: number;
  min: number;
  max: number;
  /** Size of the segment's portable blob. */
  bytes: number;
}

export interface SegmentedBitmap {
  bits: number;
  cardinality: number;
  /** Non-empty segments only, ascending by segment number. */
  segments: Segment[];
}

export interface PinOptions {
  /** Also require a valid segment of 2^segmentBits positions. Default 32 (any 32-bit blob). */
  segmentBits?: number;
  /** Where the blob starts inside the bytes given. Default 0. */
  offset?: number;
}

export interface CoreStats {
  memoryBytes: number;
  residentBytes: number;
  residentBlobs: number;
  budgetBytes: number;
}

/** A segment of one version and its pinned bytes, for BitmapCore.containsBits. */
export interface SegmentBlob {
  segment: number;
  blob: ResidentBlob;
}

/** What a batch body scan found: per uid, its cached bit or -1; the uids the cache lacks. */
export interface UidScan {
  bits: Float64Array;
  /** Positions of the uids the cache lacks (bits[i] is -1), and those uids. */
  missing: number[];
  missingUids: string[];
}

/**
 * Below this, a bit takes the batch path of containsBits for any batch of up to 2^20 bits (the
 * bit and its position share one u64 sort key there); above it, one check at a time.
 */
export const BATCH_BIT_LIMIT = 2 ** 44;
