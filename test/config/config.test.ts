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
});

describe("README", () => {
  it("documents every setting", async () => {
    const { readFileSync } = await import("node:fs");
    const { SETTINGS } = await import("../../orchestrator/config/config.js");
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    for (const s of SETTINGS) expect(readme, s.env).toContain(`\`${s.env}\``);
  });
});
