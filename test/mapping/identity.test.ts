// The identity of an ID mapping on a real Redis and a real Redis Cluster: created once by
// racing callers, stored in every group, kept by groups that lose theirs, and refused when the
// groups disagree or the group count differs.
import { Redis, type Cluster } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureIdentity, IdentityConflictError, readIdentity } from "../../orchestrator/mapping/identity.js";
import { GroupCountError, IdMapper } from "../../orchestrator/mapping/mapper.js";
import { createRedisCluster } from "../../orchestrator/redis/cluster.js";
import { clearNamespaces } from "../helpers/mapping.js";
import { stackEnv, uniqueName } from "../helpers/stack.js";

const rules = { maxBytes: 64, pattern: /^[\x21-\x7e]+$/u };
const clients: Redis[] = [];
const namespaces: string[] = [];
let cluster: Cluster;

beforeAll(async () => {
  for (let i = 0; i < 4; i++) clients.push(new Redis(stackEnv().redisUrl));
  cluster = createRedisCluster(stackEnv().redisClusterNodes);
  await cluster.ping();
});

afterAll(async () => {
  await clearNamespaces(clients[0]!, namespaces);
  for (const c of clients) c.disconnect();
  cluster?.disconnect();
});

function mapper(redis: Redis | Cluster, namespace: string, groups = 16): IdMapper {
  if (!namespaces.includes(namespace)) namespaces.push(namespace);
  return new IdMapper(redis, { groups, rules, batchSize: 100, cacheEntries: 0, namespace });
}

describe("mapping identity", () => {
  it("is created once by callers racing on four connections, and stored in every group", async () => {
    for (let round = 0; round < 5; round++) {
      const ns = uniqueName("mid");
      const ids = await Promise.all(clients.map((c) => ensureIdentity(mapper(c, ns))));
      expect(new Set(ids).size).toBe(1);
      expect(await readIdentity(mapper(clients[0]!, ns))).toEqual({ id: ids[0], missing: [], ids: 0 });
      expect(await ensureIdentity(mapper(clients[1]!, ns))).toBe(ids[0]);
    }
  });

  it("lives with the allocator's meta: allocation keeps it, and a group that lost it gets it back", async () => {
    const ns = uniqueName("mid");
    const m = mapper(clients[0]!, ns);
    expect(await readIdentity(m)).toEqual({ id: null, missing: [...Array(16).keys()], ids: 0 });
    const id = await ensureIdentity(m);
    await m.allocate(Array.from({ length: 500 }, (_, i) => ({ uid: `id-${i}`, corpId: "c" })));
    expect(await readIdentity(m)).toEqual({ id, missing: [], ids: 500 });
    // Group 0 (asked first) lost its data: the identity of the other groups is kept, not a new one.
    await clients[0]!.del(m.keys.meta(0));
    expect((await readIdentity(m)).missing).toEqual([0]);
    expect(await ensureIdentity(m)).toBe(id);
    expect((await readIdentity(m)).missing).toEqual([]);
  });

  it("refuses groups that disagree, and another group count", async () => {
    const ns = uniqueName("mid");
    const m = mapper(clients[0]!, ns);
    const id = await ensureIdentity(m);
    await clients[0]!.hset(m.keys.meta(3), "id", "other");
    const err = (await readIdentity(m).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(IdentityConflictError);
    expect(err.message).toBe(
      `the groups of the ID mapping in namespace ${ns} hold different identities (${id} in groups ` +
        `0,1,2,4,5,6,7,8,9,10,11,12,13,14,15; other in groups 3): they come from different mappings ` +
        "(a group restored from another mapping's backup?). Restore the whole mapping from one backup, " +
        "or clear it and run `bitsync map rebuild`",
    );
    await expect(ensureIdentity(m)).rejects.toThrow(IdentityConflictError);

    const ns2 = uniqueName("mid");
    await mapper(clients[0]!, ns2, 16).allocate([{ uid: "g-1", corpId: "c" }]);
    await expect(ensureIdentity(mapper(clients[0]!, ns2, 8))).rejects.toThrow(GroupCountError);
    await expect(ensureIdentity(mapper(clients[0]!, ns2, 8))).rejects.toThrow(
      /made with 16 allocator groups, and BITSYNC_MAP_GROUPS is 8: set it back to 16/,
    );
  });

  it("runs on Redis Cluster, one group per slot, with racing callers", async () => {
    const ns = uniqueName("midc");
    const a = mapper(cluster, ns);
    const b = mapper(createRedisCluster(stackEnv().redisClusterNodes), ns);
    try {
      const [x, y] = await Promise.all([ensureIdentity(a), ensureIdentity(b)]);
      expect(x).toBe(y);
      await a.allocate(Array.from({ length: 300 }, (_, i) => ({ uid: `cl-${i}`, corpId: "c" })));
      expect(await readIdentity(b)).toEqual({ id: x, missing: [], ids: 300 });
    } finally {
      await a.clear();
      b.redis.disconnect();
    }
  });
});
