// The ID mapping on a real Redis Cluster (3 masters from the local stack): every group's keys
// share one hash tag, so allocation, lookups, reverse lookups and restore run per slot.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Cluster } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IdMapper } from "../../orchestrator/mapping/mapper.js";
import { createRedisCluster } from "../../orchestrator/redis/cluster.js";
import { lastJson, runCli } from "../helpers/cli.js";
import { stackEnv, uniqueName } from "../helpers/stack.js";

let cluster: Cluster;
const namespace = uniqueName("mc");

beforeAll(async () => {
  cluster = createRedisCluster(stackEnv().redisClusterNodes);
  await cluster.ping();
});

afterAll(async () => {
  for (const node of cluster.nodes("master")) {
    let cursor = "0";
    do {
      const [next, keys] = await node.scan(cursor, "MATCH", `{${namespace}*}:*`, "COUNT", 1000);
      for (const k of keys) await node.del(k);
      cursor = next;
    } while (cursor !== "0");
  }
  cluster.disconnect();
});

describe("ID mapping on Redis Cluster", () => {
  it("allocates, looks up and reverses with groups spread over every master", async () => {
    const rules = { maxBytes: 64, pattern: /^[\x21-\x7e]+$/u };
    const mapper = new IdMapper(cluster, { groups: 16, rules, batchSize: 300, cacheEntries: 0, namespace });
    const uids = Array.from({ length: 8000 }, (_, i) => `cu${i.toString(36).padStart(8, "0")}`);
    const { mappings, created } = await mapper.allocate(uids.map((uid) => ({ uid, corpId: `corp${uid.length % 3}` })));
    expect(created).toBe(uids.length);
    expect(new Set(mappings.map((m) => m.bit)).size).toBe(uids.length);
    expect(await mapper.lookup(uids)).toEqual(mappings.map((m) => m.bit));
    expect(await mapper.reverse(mappings.map((m) => m.bit))).toEqual(
      mappings.map(({ uid, corpId }) => ({ uid, corpId })),
    );
    expect((await mapper.allocate(uids.map((uid) => ({ uid, corpId: "x" })))).created).toBe(0);
    // The 16 groups' meta keys live on all three masters: the work really is spread.
    const owners = new Set<string>();
    for (let g = 0; g < 16; g++) {
      for (const node of cluster.nodes("master")) {
        // A node that does not own the slot answers MOVED.
        const has = await node.exists(mapper.keys.meta(g)).catch(() => 0);
        if (has === 1) owners.add(`${node.options.host}:${node.options.port}`);
      }
    }
    expect(owners.size).toBe(3);
    const stats = await mapper.stats();
    expect(stats.ids).toBe(uids.length);
    // Restore into a second namespace on the same cluster gives the same bits.
    const copy = new IdMapper(cluster, {
      groups: 16,
      rules,
      batchSize: 300,
      cacheEntries: 0,
      namespace: `${namespace}b`,
    });
    try {
      expect((await copy.restore(mappings)).restored).toBe(uids.length);
      expect(await copy.lookup(uids)).toEqual(mappings.map((m) => m.bit));
    } finally {
      for (const node of cluster.nodes("master")) {
        const keys = await node.keys(`{${namespace}b:*}:*`);
        for (const k of keys) await node.del(k);
      }
    }
  });

  it("takes a cold start from `bitsync map import`, presized, with forward buckets on every master", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bitsync-cluster-import-"));
    try {
      const ns = `${namespace}i`;
      const uids = Array.from({ length: 20_000 }, (_, i) => `ci${i.toString(36).padStart(8, "0")}`);
      const file = join(dir, "users.ndjson");
      writeFileSync(file, uids.map((uid) => JSON.stringify({ uid, corpId: `c${uid.length}` })).join("\n") + "\n");
      const env = {
        REDIS_CLUSTER_NODES: stackEnv().redisClusterNodes.join(","),
        BITSYNC_MAP_NAMESPACE: ns,
        BITSYNC_MAPPING_TOPIC: uniqueName("mapping"),
        BITSYNC_MAPPINGS_PER_MESSAGE: "100",
      };
      const run = await runCli(["map", "import", "--ndjson", file, "--json"], env);
      expect(run.code, run.stderr).toBe(0);
      expect(lastJson<{ created: number; done: boolean }>(run)).toMatchObject({ created: uids.length, done: true });
      const rules = { maxBytes: 64, pattern: /^[\x21-\x7e]+$/u };
      const mapper = new IdMapper(cluster, { groups: 16, rules, batchSize: 300, cacheEntries: 0, namespace: ns });
      const bits = (await mapper.lookup(uids)) as number[];
      expect(new Set(bits).size).toBe(uids.length);
      expect((await mapper.stats()).perGroup.reduce((n, g) => n + g.nextSeq, 0)).toBe(uids.length);
      // Presized for the file (20,000 + 10% / 16 groups / 40 a bucket: 35), so no group split a bucket.
      for (let g = 0; g < 16; g++)
        expect(await cluster.hmget(mapper.keys.meta(g), "b0", "level", "split")).toEqual(["35", "0", "0"]);
      // Each master holds forward buckets of the mapping.
      for (const node of cluster.nodes("master")) {
        const [, keys] = await node.scan("0", "MATCH", `{${ns}:*}:f:*`, "COUNT", 10_000);
        expect(keys.length, `${node.options.host}:${node.options.port}`).toBeGreaterThan(0);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
