// Constants shared by two languages have one meaning: each side is read here and compared, so a
// change on one side alone fails the suite (AssemblyScript <-> TypeScript, Lua <-> TypeScript).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { REVERSE_BUCKET_SEQS } from "../orchestrator/mapping/keys.js";
import { AudienceScriptCode, MappingScriptCode } from "../orchestrator/redis/scripts.js";
import { WORK_BYTES_PER_BIT } from "../orchestrator/wasm/batch.js";
import { BlobErrorCode } from "../orchestrator/wasm/errors.js";
import { RECORD_BYTES } from "../orchestrator/wasm/segmenting.js";
import { SCAN_META_BYTES } from "../orchestrator/wasm/uid-table.js";

const source = (path: string): string => readFileSync(new URL(`../${path}`, import.meta.url), "utf8");

/** `export const NAME: type = value;` of an AssemblyScript file. */
function asConst(path: string, name: string): number {
  const m = new RegExp(`export const ${name}: \\w+ = (-?\\d+);`).exec(source(path));
  if (!m) throw new Error(`${path}: no \`export const ${name}\``);
  return Number(m[1]);
}

/** The integers a Lua script returns alone on error (`return -N`). */
function luaErrorCodes(name: string): number[] {
  return [...source(`scripts/lua/${name}.lua`).matchAll(/return (-\d+)\b/g)].map((m) => Number(m[1]));
}

describe("AssemblyScript and TypeScript", () => {
  it("name every error code alike", () => {
    const asCodes = Object.fromEntries(
      [...source("assembly/format.ts").matchAll(/export const E_(\w+): i32 = (-\d+);/g)].map((m) => [
        m[1],
        Number(m[2]),
      ]),
    );
    expect(asCodes).toEqual({ ...BlobErrorCode });
  });

  it("agree on the layouts the wrapper reads", () => {
    expect(RECORD_BYTES, "segmentation index record").toBe(asConst("assembly/segment.ts", "RECORD_BYTES"));
    expect(SCAN_META_BYTES, "uid scan record").toBe(asConst("assembly/uids.ts", "META"));
    expect(WORK_BYTES_PER_BIT, "containsBits work area").toBe(asConst("assembly/batch.ts", "WORK_BYTES_PER_BIT"));
  });
});

describe("Lua and TypeScript", () => {
  it("agree on the reverse bucket width", () => {
    const m = /^local REVERSE_BUCKET_SEQS = (\d+)$/m.exec(source("scripts/lua/lib/reverse.lua"));
    expect(Number(m?.[1])).toBe(REVERSE_BUCKET_SEQS);
    for (const script of ["mapAllocate", "mapReverse"]) {
      expect(source(`scripts/lua/${script}.lua`), script).toContain("-- #include reverse");
      expect(source(`scripts/lua/${script}.lua`), `${script}: no bare 128 left`).not.toMatch(/[/%] 128\b/);
    }
  });

  it("return only the codes of their family, each mapped to a typed error", () => {
    const audience = new Set<number>(Object.values(AudienceScriptCode));
    for (const script of ["beginVersion", "swap", "rollback", "gc"]) {
      for (const code of luaErrorCodes(script)) expect(audience, `${script} returns ${code}`).toContain(code);
    }
    const mapping = new Set<number>(Object.values(MappingScriptCode));
    for (const script of ["mapAllocate", "mapLookup", "mapIdentity"]) {
      for (const code of luaErrorCodes(script)) expect(mapping, `${script} returns ${code}`).toContain(code);
    }
  });
});
