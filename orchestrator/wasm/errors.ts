import { BitsyncError } from "../errors.js";

/** Error codes returned by the WASM core; mirrors assembly/format.ts. */
export const BlobErrorCode = {
  NONE: -1,
  TRUNCATED: -2,
  BAD_COOKIE: -3,
  TOO_MANY_CONTAINERS: -4,
  UNSORTED_KEYS: -5,
  BAD_OFFSET: -6,
  BAD_CARDINALITY: -7,
  UNSORTED_VALUES: -8,
  BAD_RUN: -9,
  TRAILING_BYTES: -10,
  OUT_OF_MEMORY: -11,
  UNSORTED_INPUT: -12,
  BAD_ARGUMENT: -13,
  VALUE_OUT_OF_SEGMENT: -14,
} as const;

export type BlobErrorName = keyof typeof BlobErrorCode;

const NAMES = new Map<number, BlobErrorName>(
  Object.entries(BlobErrorCode).map(([name, code]) => [code, name as BlobErrorName]),
);

const EXPLAIN: Record<BlobErrorName, string> = {
  NONE: "no member at that rank",
  TRUNCATED: "the blob ends before its header or a container does",
  BAD_COOKIE: "the first 4 bytes are not a Roaring portable cookie (12346 or 12347)",
  TOO_MANY_CONTAINERS: "the header declares more than 65536 containers",
  UNSORTED_KEYS: "container keys are not strictly ascending",
  BAD_OFFSET: "a container offset does not point where the previous container ends",
  BAD_CARDINALITY: "a container's cardinality disagrees with its contents",
  UNSORTED_VALUES: "an array container's values are not strictly ascending",
  BAD_RUN: "a run container has no runs, overlapping runs or a run past 65535",
  TRAILING_BYTES: "bytes follow the end of the blob",
  OUT_OF_MEMORY: "the WASM core could not allocate memory",
  UNSORTED_INPUT: "positions are not in ascending order",
  BAD_ARGUMENT: "an argument is out of range",
  VALUE_OUT_OF_SEGMENT: "a container key lies outside the segment",
};

/** A blob (or positions list) the core rejected. `code` says why; nothing was read out of bounds. */
export class BlobFormatError extends BitsyncError {
  readonly code: BlobErrorName;
  constructor(
    code: number,
    readonly operation: string,
  ) {
    const name = NAMES.get(code) ?? "BAD_ARGUMENT";
    super(`${operation}: invalid Roaring data (${name}): ${EXPLAIN[name]}`);
    this.code = name;
  }
}

/** Loading another resident blob would exceed the core's memory budget; evict first. */
export class WasmBudgetError extends BitsyncError {
  constructor(
    readonly requested: number,
    readonly residentBytes: number,
    readonly budgetBytes: number,
  ) {
    super(
      `WASM core budget exceeded: ${requested} B requested, ${residentBytes} B resident, budget ${budgetBytes} B; ` +
        `evict resident blobs or raise the budget`,
    );
  }
}

/** The WASM core trapped or was misused (a disposed handle, memory exhausted). */
export class WasmCoreError extends BitsyncError {}
