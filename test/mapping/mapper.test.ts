// The ID mapping against a real Redis: the Lua hash equals the TypeScript one, allocation is
// one-to-one, idempotent and dense, buckets stay listpacks as they split, lookups and reverse
// lookups agree, restore keeps bits, and a wrong group count is refused.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { uidHash } from "../../orchestrator/mapping/hash.js";
import { InvalidIdError, parseRegistration, type IdRules } from "../../orchestrator/mapping/ids.js";
import { GroupCountError, IdMapper, type MapperOptions } from "../../orchestrator/mapping/mapper.js";
import { MappingScriptCode } from "../../orchestrator/redis/scripts.js";
import { clearNamespaces } from "../helpers/mapping.js";
import { stackEnv, uniqueName } from "../helpers/stack.js";
import { BitmapCore } from "../../orchestrator/wasm/core.js";

const rules: IdRules = { maxBytes: 64, pattern: /^[\x21-\x7e]+$/u };
let redis: Redis;
const namespaces: string[] = [];
/** The forward cache's core, as the process's resources would lend it. */
const core = BitmapCore.create({ budgetBytes: 1 << 20 });

function mapper(overrides: Partial<MapperOptions> = {}, client: Redis = redis): IdMapper {
  const namespace = overrides.namespace ?? uniqueName("m");
  namespaces.push(namespace);
  return new IdMapper(client, { groups: 4, rules, batchSize: 500, cacheEntries: 1000, namespace, core, ...overrides });
}

const uids = (n: number, prefix = "u"): string[] =>
  Array.from({ length: n }, (_, i) => `${prefix}${String(i * 7919).padStart(12, "0")}`);

beforeAll(() => {
  redis = new Redis(stackEnv().redisUrl);
});

afterAll(async () => {
  await clearNamespaces(redis, namespaces);
  redis.disconnect();
});

describe("uid hash", () => {
  it("is the same in Lua and in TypeScript, for any UTF-8 string", async () => {
    const lib = readFileSync(new URL("../../scripts/lua/lib/idhash.lua", import.meta.url), "utf8");
    const script = `${lib}\nlocal out = {}\nfor i = 1, #ARGV do out[i] = hash(ARGV[i]) end\nreturn out`;
    const fixed = ["", "a", "u000000000001", "corp:42", "日本語のユーザー", "\u{1F600}", "x".repeat(64)];
    const strings = [...fixed, ...fc.sample(fc.string({ unit: "binary", maxLength: 40 }), 300)];
    const lua = (await redis.eval(script, 0, ...strings)) as number[];
    expect(lua).toEqual(strings.map(uidHash));
    // SHA-1("abc") = a9993e36...: its first 32 bits.
    expect(uidHash("abc")).toBe(0xa9993e36);
  });

  it("computes one-block ASCII uids itself exactly as node:crypto's SHA-1 does", () => {
    const crypto = (s: string): number => createHash("sha1").update(s, "utf8").digest().readUInt32BE(0);
    // Every length around the one-block limit (55 bytes), and the characters at the ASCII edges.
    for (let n = 0; n <= 70; n++) {
      for (const ch of ["\u0000", "\u007f", "z", "~"])
        expect(uidHash(ch.repeat(n)), `${n} x ${ch}`).toBe(crypto(ch.repeat(n)));
    }
    fc.assert(
      fc.property(
        fc.string({ unit: fc.integer({ min: 0, max: 127 }).map((c) => String.fromCharCode(c)), maxLength: 80 }),
        (s) => uidHash(s) === crypto(s),
      ),
      { numRuns: 2000 },
    );
  });
});

describe("allocation", () => {
  it("is one-to-one, dense per group, idempotent, and agrees with lookup and reverse", async () => {
    const m = mapper();
    const ids = uids(20_000);
    const first = await m.allocate(ids.map((uid, i) => ({ uid, corpId: `corp${i % 3}` })));
    expect(first.created).toBe(ids.length);
    const bits = first.mappings.map((x) => x.bit);
    expect(new Set(bits).size).toBe(ids.length);
    // Per group g, the seqs (bit div G) are exactly 0..n_g-1: no hole, no reuse.
    const seqs = new Map<number, number[]>();
    for (const b of bits) seqs.set(b % 4, [...(seqs.get(b % 4) ?? []), Math.floor(b / 4)]);
    for (const list of seqs.values()) {
      expect([...list].sort((a, b) => a - b)).toEqual(Array.from({ length: list.length }, (_, i) => i));
    }
    // Again, in another order, through a second client: same bits, nothing created.
    const other = new Redis(stackEnv().redisUrl);
    try {
      const again = await mapper({ namespace: m.keys.namespace, cacheEntries: 0 }, other).allocate(
        [...ids].reverse().map((uid) => ({ uid, corpId: "elsewhere" })),
      );
      expect(again.created).toBe(0);
      expect(again.mappings.map((x) => x.bit).reverse()).toEqual(bits);
    } finally {
      other.disconnect();
    }
    const fresh = mapper({ namespace: m.keys.namespace, cacheEntries: 0 });
    expect(await fresh.lookup(ids)).toEqual(bits);
    expect(await fresh.lookup(["never-mapped", ""])).toEqual([null, null]);
    const back = await fresh.reverse(bits);
    expect(back).toEqual(ids.map((uid, i) => ({ uid, corpId: `corp${i % 3}` })));
    expect(await fresh.reverse([ids.length * 10, -1, 1.5])).toEqual([null, null, null]);
    // Descending, with repeats and bits never handed out between them: every answer in its place.
    const mixed = [bits[9]!, ids.length * 10 + 3, bits[9]!, bits[0]!, -1, bits[4]!];
    expect(await fresh.reverse(mixed)).toEqual(
      mixed.map((b) => {
        const i = bits.indexOf(b);
        return i < 0 ? null : { uid: ids[i], corpId: `corp${i % 3}` };
      }),
    );
    const stats = await fresh.stats();
    expect(stats.ids).toBe(ids.length);
    expect(stats.perGroup.reduce((n, g) => n + g.nextSeq, 0)).toBe(ids.length);
    expect(stats.bitSpan).toBe(Math.max(...bits) + 1);
  });

  it("splits forward buckets as it grows, and every bucket stays a small listpack", async () => {
    const m = mapper({ groups: 2, initialBuckets: 2, bucketLoad: 40 });
    const ids = uids(30_000, "s");
    for (let o = 0; o < ids.length; o += 3000) {
      await m.allocate(ids.slice(o, o + 3000).map((uid) => ({ uid, corpId: "c" })));
    }
    const stats = await m.stats();
    let entries = 0;
    for (const g of stats.perGroup) {
      expect(g.forwardBuckets).toBeGreaterThan(2 * 100); // split from 2 buckets to hundreds
      for (let b = 0; b < g.forwardBuckets; b++) {
        const key = m.keys.forward(g.group, b);
        const n = await redis.hlen(key);
        entries += n;
        expect(n).toBeLessThanOrEqual(128);
        if (n > 0) expect(await redis.object("ENCODING", key)).toBe("listpack");
      }
    }
    expect(entries).toBe(ids.length);
    // After all the moves, every uid is still found with its first bit.
    const bits = (await m.allocate(ids.map((uid) => ({ uid, corpId: "c" })))).mappings.map((x) => x.bit);
    expect(await mapper({ namespace: m.keys.namespace, groups: 2, cacheEntries: 0 }).lookup(ids)).toEqual(bits);
  });

  it("splits from any initial bucket count (presizing does not round to a power of two), each uid in its bucket", async () => {
    const G = 3;
    const m = mapper({ groups: G, initialBuckets: 5, bucketLoad: 4 });
    const ids = uids(6000, "n");
    const first = new Map<string, number>();
    for (let o = 0; o < ids.length; o += 700) {
      for (const x of (await m.allocate(ids.slice(o, o + 700).map((uid) => ({ uid, corpId: "c" })))).mappings) {
        first.set(x.uid, x.bit);
      }
    }
    expect(await mapper({ namespace: m.keys.namespace, groups: G, cacheEntries: 0 }).lookup(ids)).toEqual(
      ids.map((u) => first.get(u)),
    );
    // Every forward bucket holds exactly the uids the layout (b0 5, some levels, a split point) puts there.
    for (let g = 0; g < G; g++) {
      const [b0, level, split] = (await redis.hmget(m.keys.meta(g), "b0", "level", "split")).map(Number) as [
        number,
        number,
        number,
      ];
      expect(b0).toBe(5);
      expect(level).toBeGreaterThanOrEqual(3); // grown through several rounds of splits
      const width = b0 * 2 ** level;
      for (let b = 0; b < width + split; b++) {
        for (const uid of await redis.hkeys(m.keys.forward(g, b))) {
          const hb = Math.floor(uidHash(uid) / G);
          const want = hb % width < split ? hb % (2 * width) : hb % width;
          expect(want, uid).toBe(b);
        }
      }
    }
  });

  it("rejects invalid IDs with a reason, before writing anything", async () => {
    const m = mapper();
    await expect(
      m.allocate([
        { uid: "ok1", corpId: "c" },
        { uid: "bad uid", corpId: "c" },
      ]),
    ).rejects.toThrow(InvalidIdError);
    await expect(m.allocate([{ uid: "x".repeat(65), corpId: "c" }])).rejects.toThrow(/65 bytes, over the limit of 64/);
    await expect(m.allocate([{ uid: "a\u0001b", corpId: "c" }])).rejects.toThrow(/control character/);
    await expect(m.allocate([{ uid: "", corpId: "c" }])).rejects.toThrow(/empty/);
    expect((await m.stats()).ids).toBe(0);
  });

  it("refuses a call whose hashes or groups the script does not agree with, writing nothing", async () => {
    // The client sends each uid's hash; the script checks every uid's group and re-hashes every
    // 64th, so a client hashing differently is refused on its first call.
    const m = mapper({ groups: 4 });
    const all = uids(300);
    const mine = all.filter((u) => uidHash(u) % 4 === 1).slice(0, 130);
    const call = (entries: (string | number)[]) =>
      m.redis.mapAllocate(m.keys.meta(1), 4, 1, 16, 40, "alloc", "c", entries.length / 2, ...entries);
    const right = mine.flatMap((u) => [u, uidHash(u)]);
    // Entry 64 (the second one re-hashed) lies by a multiple of 4: same group, other hash.
    const lied = right.map((v, k) => (k === 129 ? (v as number) + 4 : v));
    expect(await call(lied)).toBe(MappingScriptCode.BAD_HASH);
    // A call of up to 64 entries has every hash checked; a hash that is not a u32 is refused too.
    expect(await call(right.slice(0, 20).map((v, k) => (k === 11 ? (v as number) + 4 : v)))).toBe(
      MappingScriptCode.BAD_HASH,
    );
    expect(await call([mine[0]!, uidHash(mine[0]!) + 4 * 2 ** 32])).toBe(MappingScriptCode.BAD_HASH);
    // A uid over 55 bytes (where the client's one-block SHA-1 gives way) is always checked.
    const long = all.map((u) => u.padEnd(60, "x")).find((u) => uidHash(u) % 4 === 1)!;
    const bigLie = [...right, long, uidHash(long) + 4];
    expect(await call(bigLie)).toBe(MappingScriptCode.BAD_HASH);
    const other = all.find((u) => uidHash(u) % 4 === 2)!;
    expect(await call([...right.slice(0, 10), other, uidHash(other)])).toBe(MappingScriptCode.WRONG_GROUP);
    expect(await redis.exists(m.keys.meta(1))).toBe(0);
    const made = await call(right);
    expect(made).toEqual(mine.map((_, k) => -(k + 1)));
    await expect(m.lookup(mine)).resolves.toEqual(mine.map((_, k) => k * 4 + 1));
  });

  it("refuses to run with another group count than the mapping was made with", async () => {
    const m = mapper({ groups: 4 });
    await m.allocate(uids(100).map((uid) => ({ uid, corpId: "c" })));
    const wrong = mapper({ groups: 8, namespace: m.keys.namespace });
    await expect(wrong.allocate(uids(100).map((uid) => ({ uid, corpId: "c" })))).rejects.toThrow(GroupCountError);
    await expect(wrong.lookup(uids(10))).rejects.toThrow(/made with 4 allocator groups/);
  });
});

describe("lookups", () => {
  it("share the Redis calls of concurrent misses on the same uids, and their answers", async () => {
    const m = mapper({ cacheEntries: 100_000 });
    const ids = uids(2000, "c");
    const { mappings } = await m.allocate(ids.map((uid) => ({ uid, corpId: "c" })));
    const cold = mapper({ namespace: m.keys.namespace, cacheEntries: 100_000 }, new Redis(stackEnv().redisUrl));
    // Count the script calls this mapper sends (the calls themselves go to the real Redis).
    let calls = 0;
    const client = cold.redis as unknown as { mapLookup: (...a: unknown[]) => Promise<unknown> };
    const real = client.mapLookup.bind(client);
    client.mapLookup = (...a: unknown[]) => {
      calls++;
      return real(...a);
    };
    try {
      const asked = [...ids, "never-mapped"];
      const answers = await Promise.all(Array.from({ length: 20 }, () => cold.lookup(asked)));
      const want = [...mappings.map((x) => x.bit), null];
      for (const a of answers) expect(a).toEqual(want);
      // One call's worth (per group and chunk of 500): not twenty.
      expect(calls).toBeLessThanOrEqual(8);
      // The unmapped uid is not cached, and asked again on its own.
      calls = 0;
      expect(await cold.lookup(["never-mapped", ids[0]!])).toEqual([null, mappings[0]!.bit]);
      expect(calls).toBe(1);
    } finally {
      (cold.redis as unknown as Redis).disconnect();
    }
  });
});

describe("lookups when Redis fails", () => {
  it("reject every call that shares the failed lookup, and leave nothing in flight", async () => {
    const down = new Redis("redis://127.0.0.1:1", {
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      lazyConnect: true,
    });
    down.on("error", () => undefined);
    const m = mapper({ cacheEntries: 100 }, down);
    try {
      const ids = uids(50, "f");
      // The first call sends the lookups; the others wait for them; all fail alike.
      const all = await Promise.allSettled([m.lookup(ids), m.lookup(ids), m.lookup(ids.slice(0, 5))]);
      expect(all.map((r) => r.status)).toEqual(["rejected", "rejected", "rejected"]);
      // Nothing stays in flight: a later call asks again (and fails again, not hangs).
      await expect(m.lookup(ids.slice(0, 1))).rejects.toThrow();
    } finally {
      down.disconnect();
    }
  });
});

describe("restore", () => {
  it("rebuilds the same bits elsewhere, is idempotent, and never moves a bit", async () => {
    const source = mapper();
    const ids = uids(5000, "r");
    const { mappings } = await source.allocate(ids.map((uid, i) => ({ uid, corpId: `c${i % 5}` })));
    const target = mapper();
    // Shuffled, as a topic replay with several partitions delivers them.
    const shuffled = [...mappings].sort((a, b) => uidHash(a.uid + "x") - uidHash(b.uid + "x"));
    expect(await target.restore(shuffled)).toEqual({ restored: 5000, unchanged: 0, conflicts: [] });
    expect(await target.restore(shuffled.slice(0, 100))).toEqual({ restored: 0, unchanged: 100, conflicts: [] });
    expect(await target.lookup(ids)).toEqual(mappings.map((m) => m.bit));
    expect(await target.reverse(mappings.map((m) => m.bit))).toEqual(
      mappings.map(({ uid, corpId }) => ({ uid, corpId })),
    );
    // New uids continue after the highest restored seq: no bit is handed out twice.
    const more = await target.allocate(uids(1000, "n").map((uid) => ({ uid, corpId: "c" })));
    const all = new Set([...mappings.map((m) => m.bit), ...more.mappings.map((m) => m.bit)]);
    expect(all.size).toBe(6000);
    // A uid with another bit, or a bit held by another uid, is a conflict and changes nothing.
    const a = mappings[0]!;
    const b = mappings[1]!;
    const res = await target.restore([
      { ...a, bit: a.bit + 4 * 10_000 },
      { uid: "intruder1", corpId: "c", bit: b.bit },
    ]);
    expect(res.restored).toBe(0);
    expect(res.conflicts).toHaveLength(2);
    expect(await target.lookup([a.uid, "intruder1"])).toEqual([a.bit, null]);
    expect((await target.reverse([b.bit]))[0]!.uid).toBe(b.uid);
  });
});

describe("registration messages", () => {
  const parse = (s: string | null) => parseRegistration(s === null ? null : Buffer.from(s), rules);
  it("takes {uid, corpId} and names what is wrong otherwise", () => {
    expect(parse('{"uid":"u1","corpId":"c1","extra":true}')).toEqual({ uid: "u1", corpId: "c1" });
    expect(parse('{"uid":12345,"corpId":7}')).toEqual({ uid: "12345", corpId: "7" });
    expect(parse("{bad")).toHaveProperty("reason", expect.stringMatching(/^not JSON/));
    expect(parse(null)).toEqual({ reason: "empty message" });
    expect(parse("[1]")).toEqual({ reason: "not a JSON object {uid, corpId}" });
    expect(parse('{"corpId":"c"}')).toEqual({ reason: "uid is missing" });
    expect(parse('{"uid":"u"}')).toEqual({ reason: "corpId is missing" });
    expect(parse('{"uid":12345678901234567890,"corpId":"c"}')).toHaveProperty(
      "reason",
      expect.stringMatching(/not an exact integer/),
    );
    expect(parse('{"uid":"a b","corpId":"c"}')).toHaveProperty("reason", expect.stringMatching(/does not match/));
    expect(parse('{"uid":{"x":1},"corpId":"c"}')).toEqual({ reason: "uid must be a string, not object" });
  });
});
