// The README's first command, minus the waiting: the whole pipeline demo with --once answers
// every route it prints (it fails on any 4xx/5xx) and stops what it started.
import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { uniqueName } from "../helpers/stack.js";

describe("bitsync demo --once", () => {
  it("maps users, syncs audiences, serves every route and stops", async () => {
    const run = await runCli(["demo", "--once", "--members", "100000", "--users", "20000"], {
      BITSYNC_HTTP_PORT: "0",
      REDIS_CLUSTER_NODES: "",
      // Topics and group of its own: other suites share the mock cluster.
      BITSYNC_REGISTRATION_TOPIC: uniqueName("reg"),
      BITSYNC_MAPPING_TOPIC: uniqueName("map"),
      BITSYNC_CONSUMER_GROUP: uniqueName("grp"),
      BITSYNC_CONSUMER_SESSION_TIMEOUT_MS: "6000",
    });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/mapping: 20000 uids got dense bits/);
    expect(run.stdout).toMatch(/sync 1001 .*version 1/);
    expect(run.stdout).toMatch(/re-sync 1001 at imp_date 20261123: version 2/);
    const answered = run.stdout.split("\n").filter((l) => / -> 200 /.test(l));
    expect(answered.length).toBe(12);
    expect(run.stdout).toMatch(/curl -s 'http:\/\/127\.0\.0\.1:\d+\/v1\/audiences\/1002\/contains\?uid=/);
    expect(run.stdout).toMatch(/daemon stopped/);
  });
});
