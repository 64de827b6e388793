// `bitsync inspect`: decode one serialized bitmap and say what is in it. For checking what a
// warehouse query returns before wiring it into a sync.
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { BitsyncError } from "../errors.js";
import {
  BITMAP_FORMATS,
  CLICKHOUSE_WIDTHS,
  cardinality,
  decodeBitmap,
  minMax,
  smallest,
  typeCodeName,
  type BitmapFormat,
  type ClickHouseWidth,
  type DecodedBitmap,
} from "../source/decode/index.js";
import { BitmapCore } from "../wasm/core.js";

const SAMPLE_SIZE = 20;

interface InspectOptions {
  format?: string;
  base64?: string;
  hex?: string;
  file?: string;
  width?: string;
  json?: boolean;
}

/**
 * The --json shape. Numbers that may exceed 2^53 are decimal strings: cardinality, min, max and
 * every sample entry are strings exactly when `bits64` is true (the form can hold 64-bit
 * positions), JSON numbers otherwise. min and max are null for an empty bitmap.
 */
export interface InspectJson {
  format: BitmapFormat;
  typeCode: number;
  cardinality: number | string;
  min: number | string | null;
  max: number | string | null;
  sample: (number | string)[];
  bits64: boolean;
}

/** Input the operator can fix: bad flags or undecodable text. */
class InspectInputError extends BitsyncError {}

export function registerInspect(program: Command): void {
  program
    .command("inspect")
    .description("decode one serialized bitmap (warehouse bytes) and summarize it")
    .option("--format <format>", `serialized form: ${BITMAP_FORMATS.join(" | ")}`)
    .option("--base64 <b>", "the bytes, base64 (StarRocks/Doris bitmap_to_base64, ClickHouse base64Encode)")
    .option("--hex <h>", "the bytes, hex (StarRocks hex(bitmap_to_binary(..)), ClickHouse hex(state))")
    .option("--file <path>", "a file holding the raw bytes")
    .option("--width <bytes>", "clickhouse: sizeof(T) of groupBitmap's T, 1 | 2 | 4 | 8 (default 4)")
    .option("--json", "print one JSON object")
    .action((opts: InspectOptions) => {
      try {
        const format = parseFormat(opts.format);
        const width = parseWidth(opts.width, format);
        const bytes = readInput(opts);
        const core = sharedCore();
        const decoded = decodeBitmap(core, format, bytes, width === undefined ? {} : { width });
        const lines = opts.json ? [JSON.stringify(toJson(core, decoded))] : describe(core, decoded, bytes.length);
        for (const line of lines) console.log(line);
      } catch (err) {
        if (!(err instanceof BitsyncError)) throw err;
        console.error(`bitsync inspect: ${err.message}`);
        process.exitCode = 1;
      }
    });
}

let core: BitmapCore | undefined;
function sharedCore(): BitmapCore {
  core ??= BitmapCore.create();
  return core;
}

function parseFormat(raw: string | undefined): BitmapFormat {
  const format = BITMAP_FORMATS.find((f) => f === raw);
  if (!format) {
    const got = raw === undefined ? "missing" : `"${raw}"`;
    throw new InspectInputError(`--format is ${got}: use ${BITMAP_FORMATS.join(", ")}`);
  }
  return format;
}

function parseWidth(raw: string | undefined, format: BitmapFormat): ClickHouseWidth | undefined {
  if (raw === undefined) return undefined;
  if (format !== "clickhouse") throw new InspectInputError("--width applies only to --format clickhouse");
  const width = CLICKHOUSE_WIDTHS.find((w) => String(w) === raw);
  if (width === undefined) throw new InspectInputError(`--width ${raw}: use 1, 2, 4 or 8 (bytes of the column's T)`);
  return width;
}

function readInput(opts: InspectOptions): Uint8Array {
  const given = (["base64", "hex", "file"] as const).filter((k) => opts[k] !== undefined);
  if (given.length !== 1) {
    const which = given.length === 0 ? "none was" : `${given.map((k) => `--${k}`).join(" and ")} were`;
    throw new InspectInputError(`give exactly one of --base64, --hex or --file (${which} given)`);
  }
  if (opts.base64 !== undefined) return fromBase64(opts.base64);
  if (opts.hex !== undefined) return fromHex(opts.hex);
  const path = opts.file!;
  try {
    return readFileSync(path);
  } catch (err) {
    throw new InspectInputError(`cannot read --file ${path}: ${(err as Error).message}`);
  }
}

/** Strict: Buffer.from(s, "base64") silently skips junk, which would hide a mangled paste. */
function fromBase64(text: string): Uint8Array {
  const s = text.replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 === 1 || (s.includes("=") && s.length % 4 !== 0)) {
    throw new InspectInputError("--base64 is not valid base64 (RFC 4648 alphabet, + and /, optional = padding)");
  }
  return Buffer.from(s, "base64");
}

function fromHex(text: string): Uint8Array {
  const s = text.replace(/\s+/g, "").replace(/^0x/i, "");
  if (!/^[0-9a-fA-F]*$/.test(s) || s.length % 2 !== 0) {
    throw new InspectInputError("--hex is not valid hex (an even number of 0-9, a-f digits)");
  }
  return Buffer.from(s, "hex");
}

function toJson(core: BitmapCore, d: DecodedBitmap): InspectJson {
  const num = (v: bigint | number): number | string => (d.bits64 ? v.toString() : Number(v));
  const mm = minMax(core, d);
  return {
    format: d.format,
    typeCode: d.typeCode,
    cardinality: num(cardinality(core, d)),
    min: mm ? num(mm.min) : null,
    max: mm ? num(mm.max) : null,
    sample: smallest(core, d, SAMPLE_SIZE).map(num),
    bits64: d.bits64,
  };
}

function describe(core: BitmapCore, d: DecodedBitmap, byteLength: number): string[] {
  const mm = minMax(core, d);
  const sample = smallest(core, d, SAMPLE_SIZE);
  const card = cardinality(core, d);
  const parts = d.parts.map((p) =>
    "portable" in p
      ? `high ${p.high}: portable ${p.portable.length} B`
      : `high ${p.high}: ${p.values.length} value${p.values.length === 1 ? "" : "s"}`,
  );
  return [
    `format       ${d.format}, type code ${d.typeCode} (${typeCodeName(d.format, d.typeCode)}), ${byteLength} B`,
    `positions    ${d.bits64 ? "64-bit" : "32-bit"}`,
    `cardinality  ${card}`,
    `min .. max   ${mm ? `${mm.min} .. ${mm.max}` : "(empty)"}`,
    `smallest     ${sample.join(", ")}${card > sample.length ? ", ..." : ""}`,
    `parts        ${parts.length === 0 ? "(none)" : parts.join("; ")}`,
  ];
}
