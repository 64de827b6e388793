// The local stack's Redis Cluster, through bitsync's cluster client: its slots, where hash-tagged
// keys land, and Lua scripts (defineCommand, as withScripts registers them) on every tag.
import { Redis, type Cluster } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRedisCluster } from "../../orchestrator/redis/cluster.js";
import { withScripts } from "../../orchestrator/redis/scripts.js";
import { stackEnv, uniqueName } from "../helpers/stack.js";

const env = stackEnv();
const TAGS = Array.from({ length: 16 }, (_, g) => `{map:${g}}`);

// One script over three keys of one hash tag: a counter, a hash and a list.
const TOUCH_LUA = `
local n = redis.call("INCRBY", KEYS[1], ARGV[1])
redis.call("HSET", KEYS[2], "tag", ARGV[2], "n", n)
redis.call("RPUSH", KEYS[3], n)
return {n, redis.call("HGET", KEYS[2], "tag"), redis.call("LLEN", KEYS[3])}
`;
type Touch = { touch(ctr: string, hash: string, list: string, by: number, tag: string): Promise<unknown> };

describe("Redis Cluster (BITSYNC_STACK_CLUSTER_NODES)", () => {
  let cluster: Cluster & Touch;
  /** Direct connections to each master, by "host:port". */
  const direct = new Map<string, Redis>();
  /** Owner "host:port" of each slot. */
  const owner: string[] = [];
  const run = uniqueName("t");

  beforeAll(async () => {
    cluster = createRedisCluster(env.redisClusterNodes, undefined, { name: "bitsync-test" }) as Cluster & Touch;
    cluster.defineCommand("touch", { lua: TOUCH_LUA, numberOfKeys: 3 });
    // CLUSTER SLOTS: [start, end, master [host, port, id, ...], ...replicas] per range.
    for (const [start, end, master] of await cluster.cluster("SLOTS")) {
      const [host, port] = master!;
      const addr = `${host}:${port}`;
      if (!direct.has(addr)) direct.set(addr, new Redis({ host, port, maxRetriesPerRequest: 1 }));
      for (let s = start; s <= end; s++) owner[s] = addr;
    }
  });

  afterAll(async () => {
    const keys = TAGS.flatMap((t) => ["ctr", "hash", "list", "lock", "k"].map((k) => `${t}:${run}:${k}`));
    await Promise.all(keys.map((k) => cluster.del(k)));
    await cluster.quit();
    await Promise.all([...direct.values()].map((r) => r.quit()));
  });

  it("has 3 masters, each with one synced replica, covering all 16384 slots", async () => {
    const info = (await cluster.cluster("INFO")) as string;
    expect(info).toMatch(/^cluster_state:ok\r?$/m);
    expect(info).toMatch(/^cluster_slots_assigned:16384\r?$/m);
    expect(info).toMatch(/^cluster_size:3\r?$/m);
    expect(direct.size).toBe(3);
    expect(owner.filter((a) => a !== undefined)).toHaveLength(16384);
    for (const node of direct.values()) {
      expect(((await node.role()) as unknown[])[0]).toBe("master");
    }
    expect(cluster.nodes("master")).toHaveLength(3);
    // CLUSTER SLOTS names one replica per slot range after its master: a failover has somewhere to go.
    for (const [, , , ...replicas] of await cluster.cluster("SLOTS")) expect(replicas).toHaveLength(1);
    expect(cluster.nodes("slave")).toHaveLength(3);
    for (const replica of cluster.nodes("slave")) {
      expect(await replica.info("replication")).toMatch(/^master_link_status:up\r?$/m);
    }
  });

  it("puts every key of a hash tag in its tag's slot, on the master that owns the slot", async () => {
    const used = new Set<string>();
    for (const tag of TAGS) {
      const key = `${tag}:${run}:k`;
      const slot = await cluster.cluster("KEYSLOT", key);
      expect(await cluster.cluster("KEYSLOT", tag.slice(1, -1))).toBe(slot); // only the tag is hashed
      await cluster.set(key, tag, "EX", 120);
      const home = owner[slot]!;
      used.add(home);
      for (const [addr, node] of direct) {
        if (addr === home) {
          expect(await node.get(key)).toBe(tag);
          expect(await node.cluster("COUNTKEYSINSLOT", slot)).toBeGreaterThanOrEqual(1);
        } else {
          // Any other master redirects to the owner rather than answer.
          await expect(node.get(key)).rejects.toThrow(`MOVED ${slot} ${home}`);
        }
      }
    }
    // The 16 tags of the ID mapping spread over every master.
    expect(used.size).toBe(3);
  });

  it("runs a defineCommand script over several keys of one tag, on each of the 16 tags", async () => {
    for (const [g, tag] of TAGS.entries()) {
      const k = (name: string) => `${tag}:${run}:${name}`;
      expect(await cluster.touch(k("ctr"), k("hash"), k("list"), g + 1, tag)).toEqual([g + 1, tag, 1]);
      expect(await cluster.touch(k("ctr"), k("hash"), k("list"), g + 1, tag)).toEqual([2 * (g + 1), tag, 2]);
      // The script ran on the owner of the tag's slot: the keys are there.
      const home = direct.get(owner[await cluster.cluster("KEYSLOT", tag)]!)!;
      expect(await home.get(k("ctr"))).toBe(String(2 * (g + 1)));
      expect(await home.lrange(k("list"), 0, -1)).toEqual([String(g + 1), String(2 * (g + 1))]);
    }
  });

  it("runs the bitsync scripts registered by withScripts on every tag", async () => {
    const scripted = withScripts(cluster);
    expect(withScripts(scripted)).toBe(cluster);
    for (const tag of TAGS) {
      const lock = `${tag}:${run}:lock`;
      await cluster.set(lock, "token-1", "PX", 60_000);
      expect(await scripted.extendLock(lock, "token-2", 90_000)).toBe(0);
      expect(await scripted.extendLock(lock, "token-1", 90_000)).toBe(1);
      expect(await cluster.pttl(lock)).toBeGreaterThan(60_000);
      expect(await scripted.unlock(lock, "token-1")).toBe(1);
      expect(await cluster.exists(lock)).toBe(0);
    }
  });

  it("refuses a script over two tags: CROSSSLOT from the server, whether the slots share a master or not", async () => {
    const home = await Promise.all(TAGS.map(async (t) => owner[await cluster.cluster("KEYSLOT", t)]));
    const pairs: { same?: [string, string]; other?: [string, string] } = {};
    for (const [i, a] of TAGS.entries()) {
      for (const [j, b] of TAGS.entries()) {
        if (i === j) continue;
        if (home[i] === home[j]) pairs.same ??= [a, b];
        else pairs.other ??= [a, b];
      }
    }
    expect(pairs.same).toBeDefined();
    expect(pairs.other).toBeDefined();
    // Without auto-pipelining the script is sent to its first key's node, which refuses it.
    const plain = cluster.duplicate(undefined, { enableAutoPipelining: false }) as unknown as Cluster & Touch;
    plain.on("error", () => {});
    plain.defineCommand("touch", { lua: TOUCH_LUA, numberOfKeys: 3 });
    try {
      for (const [a, b] of [pairs.same!, pairs.other!]) {
        const keys = [`${a}:${run}:cross`, `${b}:${run}:cross`, `${a}:${run}:crosslist`] as const;
        await expect(plain.touch(...keys, 1, a)).rejects.toThrow(
          /^CROSSSLOT Keys in request don't hash to the same slot/,
        );
        // bitsync's client auto-pipelines, and ioredis refuses the same call before sending it.
        await expect(cluster.touch(...keys, 1, a)).rejects.toThrow(
          "All the keys in a pipeline command should belong to the same slot",
        );
        for (const key of keys) expect(await cluster.exists(key)).toBe(0);
      }
    } finally {
      await plain.quit();
    }
  });
});
