import { mkdtempSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { configFromEnv, describeConfig, redact } from "../../orchestrator/config/config.js";
import { DEFAULT_SEGMENT_BITS } from "../../orchestrator/config/defaults.js";
import { ConfigError } from "../../orchestrator/errors.js";

describe("configFromEnv", () => {
  it("has a default for every setting", () => {
    const c = configFromEnv({});
    expect(c.segmentBits).toBe(DEFAULT_SEGMENT_BITS);
    expect(c.kafkaBrokers).toEqual(["127.0.0.1:9092"]);
    expect(c.logLevel).toBe("info");
  });

  it("reads the environment", () => {
    const c = configFromEnv({ KAFKA_BROKERS: "a:1, b:2", BITSYNC_SEGMENT_BITS: "18", REDIS_URL: "redis://r:1" });
    expect(c.kafkaBrokers).toEqual(["a:1", "b:2"]);
    expect(c.segmentBits).toBe(18);
    expect(c.redisUrl).toBe("redis://r:1");
  });

  it("takes auto for one HTTP worker per core", () => {
    expect(configFromEnv({}).httpWorkers).toBe(1);
    expect(configFromEnv({ BITSYNC_HTTP_WORKERS: "3" }).httpWorkers).toBe(3);
    expect(configFromEnv({ BITSYNC_HTTP_WORKERS: "auto" }).httpWorkers).toBe(availableParallelism());
    expect(() => configFromEnv({ BITSYNC_HTTP_WORKERS: "many" })).toThrow(/BITSYNC_HTTP_WORKERS=many/);
  });

  it("names the variable when a value cannot work", () => {
    expect(() => configFromEnv({ BITSYNC_SEGMENT_BITS: "15" })).toThrow(/BITSYNC_SEGMENT_BITS=15/);
    expect(() => configFromEnv({ REDIS_URL: "http://x" })).toThrow(ConfigError);
    expect(() => configFromEnv({ KAFKA_BROKERS: "nohost" })).toThrow(/KAFKA_BROKERS/);
    expect(() => configFromEnv({ BITSYNC_LOG_LEVEL: "loud" })).toThrow(/BITSYNC_LOG_LEVEL/);
  });

  it("reads an optional JSON file, with the environment winning", () => {
    const dir = mkdtempSync(join(tmpdir(), "bitsync-config-"));
    const file = join(dir, "c.json");
    writeFileSync(file, JSON.stringify({ BITSYNC_SEGMENT_BITS: 22, REDIS_URL: "redis://f:1" }));
    const c = configFromEnv({ BITSYNC_CONFIG: file, REDIS_URL: "redis://e:1" });
    expect(c.segmentBits).toBe(22);
    expect(c.redisUrl).toBe("redis://e:1");
    writeFileSync(file, JSON.stringify({ NOPE: 1 }));
    expect(() => configFromEnv({ BITSYNC_CONFIG: file })).toThrow(/unknown setting NOPE/);
  });

  it("never prints passwords", () => {
    expect(redact("mysql://bitsync:secret@h:1/db")).toBe("mysql://bitsync:***@h:1/db");
    expect(describeConfig({ MYSQL_URL: "mysql://u:secret@h:1/" }).join("\n")).not.toContain("secret");
  });

  it("never prints a password given as a URL option, or one holding an @", () => {
    expect(redact("mysql://u@h:1/db?password=secret")).toBe("mysql://u@h:1/db?password=***");
    expect(redact("mysql://u@h:1/db?charset=utf8&password=secret&ssl=1")).toBe(
      "mysql://u@h:1/db?charset=utf8&password=***&ssl=1",
    );
    expect(redact("mysql://h/db?PASSWD=s1&pwd=s2;password1=s3&pass%77ord=s4#x")).toBe(
      "mysql://h/db?PASSWD=***&pwd=***;password1=***&pass%77ord=***#x",
    );
    expect(redact("mysql://u:se@cret@h:1/db")).toBe("mysql://u:***@h:1/db");
    expect(redact("mysql://h/db?password=")).toBe("mysql://h/db?password=");
    expect(redact("^[\\x21-\\x7e]+$")).toBe("^[\\x21-\\x7e]+$"); // not a URL: left alone
    const shown = describeConfig({ MYSQL_URL: "mysql://u@h:1/db?ssl=1&password=secret" }).join("\n");
    expect(shown).toContain("MYSQL_URL=mysql://u@h:1/db?ssl=1&password=***\n");
    expect(shown).not.toContain("secret");
  });

  it("names the file and the position of a JSON error, never the file's content", () => {
    const dir = mkdtempSync(join(tmpdir(), "bitsync-config-"));
    const file = join(dir, "c.json");
    const error = (text: string): string => {
      writeFileSync(file, text);
      try {
        configFromEnv({ BITSYNC_CONFIG: file });
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        expect((err as Error).message).not.toMatch(/hunter2|mysql:/);
        return (err as Error).message;
      }
      throw new Error("no error");
    };
    const bad = (where: string): string =>
      `BITSYNC_CONFIG=${file} is not valid JSON: ${where} (the content is not shown)`;
    expect(error('{"MYSQL_URL": mysql://u:hunter2@h/}')).toBe(bad("a syntax error at line 1, column 15"));
    expect(error('{\n  "REDIS_URL": "redis://r:1",\n  "MYSQL_URL": "mysql://u:hunter2@h/" "x"\n}')).toBe(
      bad("a syntax error at line 3, column 39"),
    );
    expect(error('{"MYSQL_URL": "mysql://u:hunter2@h/"')).toBe(bad("it ends too soon, at line 1, column 37"));
    expect(error("hunter2")).toBe(bad("a syntax error at line 1, column 1"));
    expect(error('{"MYSQL_URL": "mysql://hunter2\t"}')).toBe(bad("a syntax error at line 1, column 31"));
    expect(error('{"A": tru, "MYSQL_URL": "mysql://u:hunter2@h/"}')).toBe(bad("a syntax error at line 1, column 10"));
    // A byte order mark is not an error; a missing file is named with the reason.
    writeFileSync(file, '\uFEFF{"BITSYNC_SEGMENT_BITS": 21}');
    expect(configFromEnv({ BITSYNC_CONFIG: file }).segmentBits).toBe(21);
    expect(() => configFromEnv({ BITSYNC_CONFIG: join(dir, "none.json") })).toThrow(
      `BITSYNC_CONFIG=${join(dir, "none.json")} cannot be read: ENOENT`,
    );
  });
});

describe("docs", () => {
  it("docs/configuration.md holds the settings reference generated from the settings table", async () => {
    const { readFileSync } = await import("node:fs");
    const { generatedSection, normalizeTable, renderSettingsReference } =
      await import("../../orchestrator/config/docs.js");
    const doc = readFileSync(new URL("../../docs/configuration.md", import.meta.url), "utf8");
    const section = generatedSection(doc);
    expect(section, "docs/configuration.md lacks the settings markers: run `npm run docs:config`").toBeDefined();
    expect(
      normalizeTable(section ?? ""),
      "docs/configuration.md is out of date with orchestrator/config/settings.ts: run `npm run docs:config`",
    ).toBe(normalizeTable(renderSettingsReference()));
  });

  it("README's table of main settings names only settings that exist, with their defaults", async () => {
    const { readFileSync } = await import("node:fs");
    const { SETTINGS } = await import("../../orchestrator/config/config.js");
    const { codeCell } = await import("../../orchestrator/config/docs.js");
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    const defaults = new Map<string, string>(SETTINGS.map((s) => [s.env, codeCell(s.default)]));
    const rows = [...readme.matchAll(/^\| `([A-Z][A-Z0-9_]*)` +\| ([^|]*?) +\|/gm)];
    expect(rows.length, "README's table of main settings").toBeGreaterThanOrEqual(5);
    for (const [, env, shown] of rows) {
      expect(defaults.has(env!), `README names ${env}, which is not a setting`).toBe(true);
      expect(shown, `README's default of ${env}`).toBe(defaults.get(env!));
    }
  });
});
