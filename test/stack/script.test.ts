// scripts/stack.sh: preset variables mean "external": nothing is started, env passes them on.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const script = new URL("../../scripts/stack.sh", import.meta.url).pathname;

describe("scripts/stack.sh", () => {
  it("with REDIS_URL, MYSQL_URL, KAFKA_BROKERS and BITSYNC_STACK_CLUSTER_NODES preset, starts nothing and prints them for eval", () => {
    const dir = mkdtempSync(join(tmpdir(), "bitsync-stack-"));
    const env = {
      ...process.env,
      BITSYNC_STACK_DIR: dir,
      REDIS_URL: "redis://10.0.0.1:6379",
      MYSQL_URL: "mysql://u:p@10.0.0.2:9030/db",
      KAFKA_BROKERS: "10.0.0.3:9092,10.0.0.4:9092",
      BITSYNC_STACK_CLUSTER_NODES: "10.0.0.5:7000,10.0.0.6:7000,10.0.0.7:7000",
    };
    try {
      execFileSync("bash", [script, "up"], { env, stdio: "pipe" });
      const status = execFileSync("bash", [script, "status"], { env, encoding: "utf8" });
      expect(status.match(/external/g)).toHaveLength(4);
      expect(status).toContain(
        `redis_cluster: external (BITSYNC_STACK_CLUSTER_NODES=${env.BITSYNC_STACK_CLUSTER_NODES})`,
      );
      expect(readdirSync(dir).filter((f) => f.endsWith(".pid"))).toEqual([]);
      const out = execFileSync("bash", [script, "env"], { env, encoding: "utf8" });
      const vars = execFileSync(
        "bash",
        ["-c", `${out}\necho "$REDIS_URL|$MYSQL_URL|$KAFKA_BROKERS|$BITSYNC_STACK_CLUSTER_NODES"`],
        { encoding: "utf8" },
      );
      expect(vars.trim()).toBe(
        `${env.REDIS_URL}|${env.MYSQL_URL}|${env.KAFKA_BROKERS}|${env.BITSYNC_STACK_CLUSTER_NODES}`,
      );
      expect(out.trim().split("\n")).toHaveLength(4);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("reports the running stack of this run: env names the servers the other suites use", () => {
    const out = execFileSync("bash", [script, "env"], { encoding: "utf8" });
    expect(out).toMatch(/^export REDIS_URL=/m);
    expect(out).toMatch(/^export MYSQL_URL=/m);
    expect(out).toMatch(/^export KAFKA_BROKERS=/m);
    expect(out).toMatch(/^export BITSYNC_STACK_CLUSTER_NODES=/m);
  });
});
