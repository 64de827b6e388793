// The CLI's argument parsers take what the HTTP API takes: canonical decimal integers, canonical
// audience ids, uids the mapping would accept. Number() took "0x10", "1e3", " " and "+5".
// The spawned runs need `npm run build:ts` first (npm test builds).
import { InvalidArgumentError } from "commander";
import { describe, expect, it } from "vitest";
import { bitArg, dateArg, positiveInt, uidArg, versionArg } from "../../orchestrator/cli/args.js";
import { runCli } from "../helpers/cli.js";

const LENIENT = [" ", "", "0x10", "0b11", "0o7", ".5e1", "1e3", "+5", "-0", "05", "5.0", "Infinity", " 5", "5 "];

describe("argument parsers", () => {
  it("counts and versions: digits only, no sign, exponent, prefix or leading zero", () => {
    expect(positiveInt("1")).toBe(1);
    expect(positiveInt("20000")).toBe(20000);
    expect(versionArg("3")).toBe(3);
    for (const raw of [...LENIENT, "0", "-1", "9007199254740992"]) {
      expect(() => positiveInt(raw), raw).toThrow(new InvalidArgumentError(`${raw} is not a positive integer`));
      expect(() => versionArg(raw), raw).toThrow(new InvalidArgumentError(`${raw} is not a version number`));
    }
  });

  it("dates: yyyymmdd with a real month and day", () => {
    expect(dateArg("20261122")).toBe(20261122);
    for (const raw of [...LENIENT, "2026", "2026112", "202611220", "20261322", "20261100", "20261132", "2.026112e7"]) {
      expect(() => dateArg(raw), raw).toThrow(new InvalidArgumentError(`${raw} is not a yyyymmdd date`));
    }
  });

  it("bits: 0 to 2^64 - 1, exactly", () => {
    expect(bitArg("0")).toEqual([0n]);
    expect(bitArg("18446744073709551615", [1n])).toEqual([1n, 18446744073709551615n]);
    for (const raw of [...LENIENT, "-1", "18446744073709551616", "007"]) {
      expect(() => bitArg(raw), raw).toThrow(InvalidArgumentError);
    }
  });

  it("uids: the mapping's own rules", () => {
    expect(uidArg("cli-a", ["x"])).toEqual(["x", "cli-a"]);
    for (const [raw, why] of [
      ["", /is empty/],
      ["has space", /does not match/],
      ["a\u0001b", /control character/],
      ["x".repeat(65), /over the limit of 64/],
    ] as const) {
      expect(() => uidArg(raw), raw).toThrow(why);
    }
  });
});

describe("the commands", () => {
  /** The first line of stderr of a run that must fail without output. */
  const failure = async (args: string[]): Promise<string> => {
    const run = await runCli(args);
    expect(run.code, `${args.join(" ")}: ${run.stderr}`).not.toBe(0);
    expect(run.stdout, args.join(" ")).toBe("");
    return run.stderr.split("\n")[0]!;
  };

  it("refuse lenient numbers and second spellings of an audience id, naming them", async () => {
    const lines = await Promise.all([
      failure(["rollback", "5001", "--to", "0x10"]),
      failure(["sync", "5001", "--imp-date", "2.026112e7"]),
      failure(["sync", "05001", "--json"]),
      failure(["info", "05001"]),
      failure(["map", "reverse", "007"]),
      failure(["map", "lookup", "has space"]),
      failure(["map", "stats", "--sample", "1e3"]),
      failure(["inspect", "--format", "clickhouse", "--width", " 4", "--hex", "00"]),
    ]);
    expect(lines).toEqual([
      "error: option '--to <version>' argument '0x10' is invalid. 0x10 is not a version number",
      "error: option '--imp-date <yyyymmdd>' argument '2.026112e7' is invalid. 2.026112e7 is not a yyyymmdd date",
      'bitsync sync: audience id "05001" is not in canonical form: write 5001 (no leading zeros)',
      'bitsync info: audience id "05001" is not in canonical form: write 5001 (no leading zeros)',
      "error: command-argument value '007' is invalid for argument 'bit'. " +
        "007 is not a bit: a decimal integer from 0 to 18446744073709551615, digits only",
      expect.stringMatching(
        /^error: command-argument value 'has space' is invalid for argument 'uid'\. uid "has space" does not match /,
      ),
      "error: option '--sample <n>' argument '1e3' is invalid. 1e3 is not a positive integer",
      "bitsync inspect: --width  4: use 1, 2, 4 or 8 (bytes of the column's T)",
    ]);
  });
});
