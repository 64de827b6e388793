// The bitsync WASM core. Every export takes and returns numbers only (pointers, lengths,
// counts, codes); orchestrator/wasm/core.ts is the one module that owns this instance.
import { validateBlob } from "./validate";
import {
  E_BAD_OFFSET,
  E_TRAILING_BYTES,
  E_TRUNCATED,
  bodySize,
  hBodies,
  hEnd,
  hN,
  hOffsets,
  isRun,
  parseHeader,
} from "./format";

export { contains, containsMany, containsEach, cardinality, rank, select, extract } from "./query";
export { segmentPortable, segmentSorted, RESULT } from "./segment";
export { murmur3x64_128 } from "./hash";
export {
  uidTableCreate,
  uidTableFree,
  uidTableClear,
  uidTableSize,
  uidTableBytes,
  uidTableGet,
  uidTableSet,
  uidScanJson,
} from "./uids";
export { containsBits } from "./batch";
export { boolsJson } from "./json";

/** Allocates `size` bytes; freed space is reused (TLSF), though linear memory never shrinks. */
export function alloc(size: usize): usize {
  return heap.alloc(size > 0 ? size : 1);
}

export function dealloc(ptr: usize): void {
  heap.free(ptr);
}

/**
 * Validates a portable blob that must fill exactly `len` bytes and whose container keys are
 * below `keyLimit`. Returns 0 or an error code.
 */
export function validate(ptr: usize, len: usize, keyLimit: u32): i32 {
  const size = validateBlob(ptr, len, keyLimit);
  if (size < 0) return size;
  return <usize>size == len ? 0 : E_TRAILING_BYTES;
}

/**
 * Size in bytes the portable blob at ptr claims, read from its header alone (the offset header,
 * or the first containers' sizes when it has none): the claim may exceed len. E_TRUNCATED when
 * the header itself does not fit in len. Cheap, so a caller can find where a blob ends before
 * validating exactly that many bytes.
 */
export function blobExtent(ptr: usize, len: usize): f64 {
  const err = parseHeader(ptr, len);
  if (err != 0) return <f64>err;
  const n = hN;
  if (n == 0) return <f64>(hBodies - ptr);
  if (hOffsets != 0) {
    const last = n - 1;
    const p = ptr + <usize>load<u32>(hOffsets + ((<usize>last) << 2));
    if (p < hBodies) return <f64>E_BAD_OFFSET;
    if (isRun(last) && p + 2 > hEnd) return <f64>E_TRUNCATED;
    return <f64>(p - ptr) + <f64>bodySize(last, p);
  }
  // Run cookie and fewer than 4 containers: add up the sizes (each run count read in bounds).
  let p = hBodies;
  for (let i: u32 = 0; i < n; i++) {
    if (isRun(i) && p + 2 > hEnd) return <f64>E_TRUNCATED;
    p += bodySize(i, p);
  }
  return <f64>(p - ptr);
}
