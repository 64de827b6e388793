// A bounds-checked little-endian cursor. Every read checks the bytes exist first, so corrupt
// input becomes a BitmapDecodeError naming the field and offset, never an out-of-bounds read.
import { BitmapDecodeError, type BitmapFormat } from "./types.js";
import { readVarUint } from "./varint.js";

/** Who is decoding what: the format, and the type code once it has been read. */
export class DecodeContext {
  typeCode: number | undefined;
  constructor(readonly format: BitmapFormat) {}

  error(offset: number, reason: string, cause?: unknown): BitmapDecodeError {
    return new BitmapDecodeError(this.format, this.typeCode, offset, reason, cause ? { cause } : undefined);
  }
}

export class ByteReader {
  pos: number;
  readonly #view: DataView;

  /**
   * Reads `bytes` from `pos` up to `end`. Offsets stay absolute in `bytes`, so a nested payload
   * (a ClickHouse roaring body) is read through `within` without renumbering.
   */
  constructor(
    readonly bytes: Uint8Array,
    readonly ctx: DecodeContext,
    pos = 0,
    readonly end = bytes.length,
    /** What `end` is, for messages: "input", "roaring payload". */
    readonly endName = "input",
  ) {
    this.pos = pos;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  /** A reader over the next `length` bytes (checked), named for messages. */
  within(length: number, name: string): ByteReader {
    this.need(length, name);
    return new ByteReader(this.bytes, this.ctx, this.pos, this.pos + length, name);
  }

  need(n: number, what: string): void {
    if (n > this.remaining) {
      const at = this.remaining === 0 ? "" : `, only ${this.remaining} remain`;
      throw this.ctx.error(
        this.pos,
        `${what} needs ${n} B but the ${this.endName} ends at byte ${this.end}${at}: the value is truncated`,
      );
    }
  }

  skip(n: number, what: string): void {
    this.need(n, what);
    this.pos += n;
  }

  u8(what: string): number {
    this.need(1, what);
    return this.bytes[this.pos++]!;
  }

  u32(what: string): number {
    this.need(4, what);
    const v = this.#view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  u64(what: string): bigint {
    this.need(8, what);
    const v = this.#view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** Reads n u64 values (bounds checked once). */
  u64s(n: number, what: string): BigUint64Array {
    this.need(n * 8, what);
    const out = new BigUint64Array(n);
    for (let i = 0; i < n; i++) out[i] = this.#view.getBigUint64(this.pos + i * 8, true);
    this.pos += n * 8;
    return out;
  }

  /** Reads n little-endian unsigned values of `width` bytes each (1, 2 or 4). */
  uints(n: number, width: 1 | 2 | 4, what: string): Uint32Array {
    this.need(n * width, what);
    const out = new Uint32Array(n);
    const v = this.#view;
    for (let i = 0, p = this.pos; i < n; i++, p += width) {
      out[i] = width === 4 ? v.getUint32(p, true) : width === 2 ? v.getUint16(p, true) : v.getUint8(p);
    }
    this.pos += n * width;
    return out;
  }

  varuint(what: string): bigint {
    const r = readVarUint(this.bytes, this.pos, this.end);
    if (!r.ok) {
      const why =
        r.problem === "truncated"
          ? `the ${this.endName} ends inside it: the value is truncated`
          : r.problem === "too long"
            ? "it runs past 10 bytes"
            : "it overflows 64 bits";
      throw this.ctx.error(this.pos, `${what} (a varint) is invalid: ${why}`);
    }
    this.pos = r.next;
    return r.value;
  }

  /** A count that must fit the bytes left, each item taking at least `minItemBytes`. */
  count(raw: bigint | number, minItemBytes: number, what: string, at: number): number {
    const n = BigInt(raw);
    if (n * BigInt(minItemBytes) > BigInt(this.remaining)) {
      throw this.ctx.error(
        at,
        `${what} is ${n}, needing at least ${n * BigInt(minItemBytes)} B, but only ${this.remaining} B remain ` +
          `before the ${this.endName} ends at byte ${this.end}: the value is truncated or corrupt`,
      );
    }
    return Number(n);
  }

  /** Everything was consumed: trailing bytes mean the value is not what we think it is. */
  done(what: string): void {
    if (this.pos !== this.end) {
      throw this.ctx.error(
        this.pos,
        `${this.end - this.pos} unexpected trailing byte(s) after the ${what} (${this.endName} ends at byte ${this.end})`,
      );
    }
  }
}
