// The bitsync WASM core. Every export takes and returns numbers only (pointers, lengths,
// counts, codes); orchestrator/wasm/core.ts is the one module that owns this instance.
import { validateBlob } from "./validate";
import { E_TRAILING_BYTES } from "./format";

export { contains, containsMany, containsEach, cardinality, rank, select, extract } from "./query";
export { segmentPortable, segmentSorted, RESULT } from "./segment";

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

/** Size in bytes of the valid portable blob at ptr (more data may follow it), or an error code. */
export function blobSize(ptr: usize, len: usize): i32 {
  return validateBlob(ptr, len, 65536);
}
