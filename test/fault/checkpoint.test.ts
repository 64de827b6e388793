// A stale import checkpoint: `bitsync map import` finished into one mapping, then that mapping is
// lost (Redis restarted empty) or another one is named (another BITSYNC_MAP_NAMESPACE). Re-running
// the import must not answer "already done" for IDs that are not mapped: it exits non-zero saying
// what to run (--restart, or map rebuild).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lastJson } from "../helpers/cli.js";
import { uniqueName } from "../helpers/stack.js";
import { FAST } from "./helpers/daemon.js";
import { cli, exitWithin, stopAll, tempDir } from "./helpers/procs.js";
import { PrivateRedis } from "./helpers/servers.js";

const UIDS = 3000;
let redis: PrivateRedis;
let dir: string;
let file: string;

beforeAll(async () => {
  redis = await PrivateRedis.start();
  dir = tempDir("bsf-import-");
  file = join(dir, "users.ndjson");
  const lines = Array.from({ length: UIDS }, (_, i) => JSON.stringify({ uid: `u${i}`, corpId: `c${i % 7}` }));
  writeFileSync(file, lines.join("\n") + "\n");
});

afterAll(stopAll);

/** The import as an operator runs it: the private Redis, the stack's Kafka (a topic of its own). */
async function runImport(checkpoint: string, namespace: string) {
  const run = cli(["map", "import", "--ndjson", file, "--checkpoint", checkpoint, "--batch", "500", "--json"], {
    ...FAST,
    REDIS_URL: redis.url,
    BITSYNC_MAP_NAMESPACE: namespace,
    BITSYNC_MAPPING_TOPIC: uniqueName("map"),
    BITSYNC_LOG_LEVEL: "silent",
  });
  return exitWithin(run, 60_000, "bitsync map import");
}

/** Imports into `namespace` and checks that, with the mapping intact, a re-run is "already done". */
async function imported(namespace: string): Promise<string> {
  const checkpoint = join(dir, `${namespace}.checkpoint.json`);
  const first = await runImport(checkpoint, namespace);
  expect(first.code, first.stderr).toBe(0);
  expect(lastJson(first)).toMatchObject({ mapped: UIDS });
  const again = await runImport(checkpoint, namespace);
  expect(again.code, again.stderr).toBe(0);
  expect(lastJson(again)).toMatchObject({ done: true, alreadyDone: true });
  return checkpoint;
}

function expectRefused(run: { code: number | null; stdout: string; stderr: string }): void {
  expect(run.stdout, "it answered as if the IDs were mapped").not.toMatch(/"alreadyDone":true/);
  expect(run.code, `exit code; stdout: ${run.stdout}`).not.toBe(0);
  expect(run.stderr, "the message says what to run").toMatch(/--restart|map rebuild/);
}

describe("a stale checkpoint", () => {
  it("of a mapping Redis lost (restarted empty) is refused, naming --restart", async () => {
    const namespace = uniqueName("ns1");
    const checkpoint = await imported(namespace);
    await redis.restartEmpty();
    expectRefused(await runImport(checkpoint, namespace));
  });

  it("of another namespace is refused, naming --restart", async () => {
    const checkpoint = await imported(uniqueName("ns1"));
    expectRefused(await runImport(checkpoint, uniqueName("ns2")));
  });
});
