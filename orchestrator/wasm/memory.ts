// The core's instance and its linear memory: INTERNAL to orchestrator/wasm/ (eslint refuses an
// import of it from anywhere else). Everything here takes and returns raw pointers; the public
// classes (BitmapCore, ResidentBlob, SegmentCut, UidTable) keep their pointers private.
//
// - Allocation goes through the core's allocator (TLSF); freed blocks are reused, and linear
//   memory never shrinks, so resident bytes are capped by a budget.
// - Growth detaches ArrayBuffer views: every call that may grow memory refreshes them.
// - One scratch area, reused across calls, holds one-shot inputs and outputs; it is invalidated
//   by the next call that uses it.
import { readFileSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { BlobFormatError, WasmBudgetError, WasmCoreError } from "./errors.js";

export interface CoreExports {
  memory: WebAssembly.Memory;
  RESULT: WebAssembly.Global;
  alloc(size: number): number;
  dealloc(ptr: number): void;
  validate(ptr: number, len: number, keyLimit: number): number;
  blobExtent(ptr: number, len: number): number;
  contains(ptr: number, len: number, x: number): number;
  containsMany(ptr: number, len: number, q: number, n: number, out: number, mode: number): number;
  containsEach(table: number, n: number, out: number, mode: number): number;
  cardinality(ptr: number, len: number): number;
  rank(ptr: number, len: number, x: number): number;
  select(ptr: number, len: number, r: number): number;
  extract(ptr: number, len: number, from: number, count: number, out: number): number;
  segmentPortable(ptr: number, len: number, bits: number): number;
  segmentSorted(ptr: number, count: number, wide: number, bits: number): number;
  murmur3x64_128(ptr: number, len: number, seed: bigint, out: number): void;
  uidTableCreate(maxEntries: number, bytesPerKey: number): number;
  uidTableFree(t: number): void;
  uidTableClear(t: number): void;
  uidTableSize(t: number): number;
  uidTableBytes(t: number): number;
  uidTableGet(t: number, key: number, len: number): number;
  uidTableSet(t: number, key: number, len: number, bit: number): void;
  uidScanJson(t: number, body: number, len: number, maxItems: number, bits: number, meta: number): number;
  containsBits(
    bits: number,
    n: number,
    segmentBits: number,
    table: number,
    segs: number,
    work: number,
    out: number,
  ): number;
  boolsJson(src: number, n: number, dst: number): number;
}

export const MIN_BITS = 16;
export const MAX_BITS = 32;

function locateWasm(variant: string): string {
  const name = `core.${variant}.wasm`;
  // Source (orchestrator/wasm) and compiled (dist/orchestrator/wasm) sit at different depths.
  for (const rel of ["../../build/", "../../../build/"]) {
    const path = fileURLToPath(new URL(rel + name, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new WasmCoreError(`WASM core ${name} not found next to ${import.meta.url}: run \`npm run build:wasm\``);
}

/** Reads an AssemblyScript string (UTF-16, byte length at ptr-4) for abort messages. */
function readAsString(memory: WebAssembly.Memory, ptr: number): string {
  if (ptr === 0) return "";
  const view = new DataView(memory.buffer);
  const bytes = view.getUint32(ptr - 4, true);
  return Buffer.from(memory.buffer, ptr, bytes).toString("utf16le");
}

/** Instantiates the module (synchronous: it is small); an abort inside becomes a WasmCoreError. */
export function instantiate(variant: "release" | "debug"): CoreExports {
  const module = new WebAssembly.Module(readFileSync(locateWasm(variant)));
  const ref: { memory?: WebAssembly.Memory } = {};
  const imports = {
    env: {
      abort(msg: number, file: number, line: number, col: number): never {
        const m = ref.memory;
        const text = m ? `${readAsString(m, msg)} at ${readAsString(m, file)}:${line}:${col}` : "";
        throw new WasmCoreError(`WASM core aborted: ${text}`);
      },
    },
  };
  const x = new WebAssembly.Instance(module, imports).exports as unknown as CoreExports;
  ref.memory = x.memory;
  return x;
}

/** The instance, views of its memory, the scratch area and the budget of resident bytes. */
export class CoreMemory {
  #buffer: ArrayBuffer;
  #u8: Uint8Array;
  #u32: Uint32Array;
  #view: DataView;
  #scratch = 0;
  #scratchBytes = 0;
  #resident = 0;
  #residentCount = 0;

  constructor(
    readonly x: CoreExports,
    readonly budgetBytes: number,
  ) {
    this.#buffer = x.memory.buffer;
    this.#u8 = new Uint8Array(this.#buffer);
    this.#u32 = new Uint32Array(this.#buffer);
    this.#view = new DataView(this.#buffer);
  }

  get buffer(): ArrayBuffer {
    return this.#buffer;
  }
  get u8(): Uint8Array {
    return this.#u8;
  }
  get u32(): Uint32Array {
    return this.#u32;
  }
  get view(): DataView {
    return this.#view;
  }
  /** The scratch area's address (valid until the next scratch() that grows it). */
  get scratchAt(): number {
    return this.#scratch;
  }
  get resident(): number {
    return this.#resident;
  }
  get residentCount(): number {
    return this.#residentCount;
  }

  /** Re-creates the views after the memory grew (a call into the core may grow it). */
  refresh(): void {
    if (this.x.memory.buffer !== this.#buffer) {
      this.#buffer = this.x.memory.buffer;
      this.#u8 = new Uint8Array(this.#buffer);
      this.#u32 = new Uint32Array(this.#buffer);
      this.#view = new DataView(this.#buffer);
    }
  }

  alloc(size: number): number {
    let ptr: number;
    try {
      ptr = this.x.alloc(size) >>> 0;
    } catch (err) {
      throw new WasmCoreError(`WASM core could not allocate ${size} B`, { cause: err });
    }
    this.refresh();
    return ptr;
  }

  free(ptr: number): void {
    this.x.dealloc(ptr);
  }

  /** A scratch area of at least `size` bytes, reused across calls. Invalidated by the next call. */
  scratch(size: number): number {
    if (size > this.#scratchBytes) {
      if (this.#scratch !== 0) this.x.dealloc(this.#scratch);
      this.#scratch = 0;
      const bytes = Math.max(size, 4096, this.#scratchBytes * 2);
      this.#scratch = this.alloc(bytes);
      this.#scratchBytes = bytes;
    }
    return this.#scratch;
  }

  /** Copies bytes to scratch, keeping their alignment mod 8 so odd source offsets stay odd. */
  copyIn(bytes: Uint8Array): number {
    const ptr = this.scratch(bytes.length + 8) + (bytes.byteOffset & 7);
    this.#u8.set(bytes, ptr);
    return ptr;
  }

  /** Throws WasmBudgetError when `bytes` more resident bytes would pass the budget. */
  checkBudget(bytes: number): void {
    if (this.#resident + bytes > this.budgetBytes) throw new WasmBudgetError(bytes, this.#resident, this.budgetBytes);
  }

  /** Counts a block of `bytes` as resident (after checkBudget). */
  countResident(bytes: number): void {
    this.#resident += bytes;
    this.#residentCount++;
  }

  /** Frees a resident block and takes its bytes off the budget. */
  releaseResident(block: number, bytes: number): void {
    this.x.dealloc(block);
    this.#resident -= bytes;
    this.#residentCount--;
  }
}

/** The key limit a validation enforces for segments of 2^segmentBits (RangeError outside 16..32). */
export function keyLimitFor(segmentBits: number): number {
  if (!Number.isInteger(segmentBits) || segmentBits < MIN_BITS || segmentBits > MAX_BITS) {
    throw new RangeError(`segment bits must be an integer in [${MIN_BITS}, ${MAX_BITS}], got ${segmentBits}`);
  }
  return 2 ** (segmentBits - 16);
}

export function checkU32(x: number, op: string): void {
  if (!Number.isInteger(x) || x < 0 || x > 0xffffffff) throw new RangeError(`${op}: ${x} is not a u32 offset`);
}

/** A core reply, or the BlobFormatError of its negative code. */
export function checked(v: number, op: string): number {
  if (v < 0) throw new BlobFormatError(v, op);
  return v;
}
