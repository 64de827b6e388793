// The HTTP API against the real stack: audiences synced from MariaDB into Redis, uids mapped in
// Redis, every route answered through fastify's inject (the full request pipeline, no socket).
import fc from "fast-check";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { evaluate, parseExpression } from "../../orchestrator/serve/expression.js";
import { createService, type Service } from "../../orchestrator/serve/service.js";
import { syncAudience } from "../../orchestrator/sync/sync.js";
import { SourceTable, newAudienceId } from "../helpers/audience.js";
import { uniqueName } from "../helpers/stack.js";
import { scanUids } from "../../orchestrator/serve/uid-scan.js";
import { disposeService } from "../helpers/service.js";

const TOKEN = "s3cret-token";
let table: SourceTable;
let service: Service;
let app: FastifyInstance;
const users = Array.from({ length: 3000 }, (_, i) => `user${String(i).padStart(6, "0")}`);
let bitOf: Map<string, number>;
const aud = { a: newAudienceId(), b: newAudienceId(), c: newAudienceId(), d: newAudienceId() };
const members: Record<keyof typeof aud, Set<string>> = { a: new Set(), b: new Set(), c: new Set(), d: new Set() };

beforeAll(async () => {
  table = await SourceTable.create();
  const config = table.config({
    BITSYNC_MAP_NAMESPACE: uniqueName("ms"),
    BITSYNC_ADMIN_TOKEN: TOKEN,
    BITSYNC_BATCH_LIMIT: "2000",
    BITSYNC_PAGE_LIMIT: "500",
    BITSYNC_CACHE_POLL_MS: "60000",
  });
  service = await createService(config, undefined, { defaultMetrics: false });
  app = service.app;
  const { mappings } = await service.mapping.mapper.allocate(users.map((uid, i) => ({ uid, corpId: `corp${i % 4}` })));
  bitOf = new Map(mappings.map((m) => [m.uid, m.bit]));
  // a: every 3rd user, b: every 5th, c: the first 1000, d: the last 10 users.
  users.forEach((u, i) => {
    if (i % 3 === 0) members.a.add(u);
    if (i % 5 === 0) members.b.add(u);
    if (i < 1000) members.c.add(u);
    if (i >= users.length - 10) members.d.add(u);
  });
  for (const k of Object.keys(aud) as (keyof typeof aud)[]) {
    await table.put(
      aud[k],
      20261120,
      0,
      [...members[k]].map((u) => bitOf.get(u)!),
    );
    await service.runSync(aud[k]);
  }
});

afterAll(() => disposeService(service, table));

const get = (url: string) => app.inject({ method: "GET", url });
const post = (url: string, payload: unknown, headers: Record<string, string> = {}) =>
  app.inject({ method: "POST", url, payload: payload as object, headers });

describe("membership", () => {
  it("answers one uid or bit, and says when a uid is not mapped", async () => {
    const inA = [...members.a][7]!;
    const notInA = users.find((u) => !members.a.has(u))!;
    let res = await get(`/v1/audiences/${aud.a}/contains?uid=${inA}`);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ audience: aud.a, version: 1, member: true, mapped: true });
    expect((await get(`/v1/audiences/${aud.a}/contains?uid=${notInA}`)).json()).toMatchObject({ member: false });
    expect((await get(`/v1/audiences/${aud.a}/contains?bit=${bitOf.get(inA)}`)).json()).toEqual({
      audience: aud.a,
      version: 1,
      member: true,
    });
    res = await get(`/v1/audiences/${aud.a}/contains?uid=nobody-ever`);
    expect(res.json()).toEqual({ audience: aud.a, version: 1, member: false, mapped: false });
    // A bit far beyond every member lies in an empty segment: answered without loading anything.
    const misses = service.cache.stats().misses;
    expect((await get(`/v1/audiences/${aud.a}/contains?bit=900000000000`)).json()).toMatchObject({ member: false });
    expect(service.cache.stats().misses).toBe(misses);
  });

  it("answers single checks the same on the hot path (all cached) as on the cold one", async () => {
    // A fresh service has nothing cached: the first answer to each uid takes the cold path (Redis
    // lookups, segment loads), the second the synchronous one (LRU, resident segment).
    const cold = await createService(
      table.config({ BITSYNC_MAP_NAMESPACE: service.mapping.mapper.keys.namespace }),
      undefined,
      { defaultMetrics: false },
    );
    try {
      const probe = [...users.filter((_, i) => i % 7 === 0), "ghost-user"];
      for (const pass of ["cold", "hot"]) {
        for (const u of probe) {
          const res = await cold.app.inject({ method: "GET", url: `/v1/audiences/${aud.b}/contains?uid=${u}` });
          const want = bitOf.has(u)
            ? { audience: aud.b, version: 1, member: members.b.has(u), mapped: true }
            : { audience: aud.b, version: 1, member: false, mapped: false };
          expect(res.json(), `${pass} ${u}`).toEqual(want);
          if (!bitOf.has(u)) continue;
          const byBit = await cold.app.inject({
            method: "GET",
            url: `/v1/audiences/${aud.b}/contains?bit=${bitOf.get(u)}`,
          });
          expect(byBit.json(), `${pass} bit of ${u}`).toEqual({
            audience: aud.b,
            version: 1,
            member: members.b.has(u),
          });
        }
      }
      expect(cold.cache.stats().hits).toBeGreaterThan(probe.length);
    } finally {
      await cold.close();
    }
  });

  it("answers a batch in request order, for uids and for bits", async () => {
    const sample = [...users].reverse().slice(0, 1500);
    const res = await post(`/v1/audiences/${aud.b}/contains`, { uids: [...sample, "ghost-user"] });
    expect(res.statusCode).toBe(200);
    const body = res.json<{ members: boolean[]; unmapped: number; version: number }>();
    expect(body.members).toEqual([...sample.map((u) => members.b.has(u)), false]);
    expect(body.unmapped).toBe(1);
    const bits = sample.map((u) => bitOf.get(u)!);
    const byBits = await post(`/v1/audiences/${aud.b}/contains`, { bits });
    expect(byBits.json<{ members: boolean[] }>().members).toEqual(sample.map((u) => members.b.has(u)));
    // Bits far past any mapping (beyond the core's batch range) are answered one at a time, in place.
    const inB = bitOf.get(sample.find((u) => members.b.has(u))!)!;
    const notInB = bitOf.get(sample.find((u) => !members.b.has(u))!)!;
    const far = [2 ** 50, inB, Number.MAX_SAFE_INTEGER, notInB];
    const mixed = await post(`/v1/audiences/${aud.b}/contains`, { bits: far });
    expect(mixed.json<{ members: boolean[] }>().members).toEqual([false, true, false, false]);
  });

  it("answers a batch the same whether its body is read by the core or parsed as JSON, cold or hot", async () => {
    // A fresh service: the first batch misses the uid cache and the segments, the next ones hit.
    const cold = await createService(
      table.config({
        BITSYNC_MAP_NAMESPACE: service.mapping.mapper.keys.namespace,
        BITSYNC_BATCH_LIMIT: "2000",
      }),
      undefined,
      { defaultMetrics: false },
    );
    try {
      // Uids the mapping would refuse ("", over 64 bytes) are a 400 naming their index, whichever way
      // the body is read (test/serve/strict-input.test.ts): here only valid ones, one never mapped.
      const sample = [...users.filter((_, i) => i % 3 === 1), "ghost-user"];
      const want = { audience: aud.b, version: 1, members: sample.map((u) => members.b.has(u)), unmapped: 1 };
      const plain = JSON.stringify({ uids: sample });
      // The same uids in forms only JSON.parse takes: escapes, a non-ASCII spelling of nothing new.
      const escaped = plain.replace(/"user/g, '"\\u0075ser');
      const spaced = `\n { "uids" :\t[ ${sample.map((u) => JSON.stringify(u)).join(" ,\r\n")} ] } `;
      for (const [what, payload, type] of [
        ["cold, read by the core", plain, "application/json"],
        ["hot, read by the core", plain, "application/json"],
        ["escaped, parsed as JSON", escaped, "application/json"],
        ["whitespace, read by the core", spaced, "application/json; charset=utf-8"],
      ] as const) {
        const res = await cold.app.inject({
          method: "POST",
          url: `/v1/audiences/${aud.b}/contains`,
          payload,
          headers: { "content-type": type },
        });
        expect(res.statusCode, what).toBe(200);
        expect(res.headers["content-type"], what).toMatch(/^application\/json/);
        expect(res.json(), what).toEqual(want);
      }
      // The core took the plain bodies: their uids went into its cache from the first batch.
      expect(cold.mapping.mapper.cachedBit(users[1]!)).toBe(bitOf.get(users[1]!));
      expect(scanUids(cold.mapping.mapper, Buffer.from(plain), 10_000)?.length).toBe(sample.length);
      expect(scanUids(cold.mapping.mapper, Buffer.from(escaped), 10_000)).toBeNull();
      // Over the limit, whichever way the body is read: refused with the reason.
      const many = JSON.stringify({ uids: Array.from({ length: 2001 }, (_, i) => `u${i}`) });
      const over = await cold.app.inject({
        method: "POST",
        url: `/v1/audiences/${aud.b}/contains`,
        payload: many,
        headers: { "content-type": "application/json" },
      });
      expect(over.statusCode).toBe(400);
      expect(over.json().message).toMatch(/2000/);
    } finally {
      await cold.close();
    }
  });

  it("evaluates set expressions over audiences, each at one version", async () => {
    const expr = `${aud.a} & (${aud.b} | ${aud.c}) & !${aud.d}`;
    for (const u of users.filter((_, i) => i % 37 === 0).concat(users.slice(-10))) {
      const res = await post("/v1/contains", { uid: u, expr });
      expect(res.statusCode, res.body).toBe(200);
      const want = members.a.has(u) && (members.b.has(u) || members.c.has(u)) && !members.d.has(u);
      expect(res.json()).toMatchObject({ member: want, mapped: true, versions: { [aud.a]: 1, [aud.b]: 1 } });
    }
    expect((await post("/v1/contains", { uid: "nobody", expr: `!${aud.a}` })).json()).toMatchObject({
      member: true,
      mapped: false,
    });
  });
});

describe("expression parser", () => {
  it("binds & tighter than |, negates with !, and names what is wrong", () => {
    const sets: Record<string, boolean> = { "1": true, "2": false, "3": true, "4": false };
    const run = (e: string): boolean => evaluate(parseExpression(e).expr, (id) => sets[id]!);
    expect(run("1 & 2 | 3")).toBe(true); // (1 & 2) | 3
    expect(run("2 | 4 & 1")).toBe(false); // 2 | (4 & 1)
    expect(run("1 & (2 | 3) & !4")).toBe(true);
    expect(run("!1 | !(2 | 4)")).toBe(true);
    expect(run("!!2")).toBe(false);
    expect(run("1&3&!2")).toBe(true);
    expect(parseExpression("1 & (2 | 1)").audiences).toEqual(["1", "2"]);
    expect(() => parseExpression("1 &")).toThrow(/expected an audience id, ! or \( at the end/);
    expect(() => parseExpression("(1 | 2")).toThrow(/expected "\)"/);
    expect(() => parseExpression("1 2")).toThrow(/unexpected token at "2"/);
    expect(() => parseExpression("a & 1")).toThrow(/expected an audience id/);
    expect(() => parseExpression("(".repeat(40) + "1" + ")".repeat(40))).toThrow(/nesting deeper than 32/);
    expect(() => parseExpression(Array.from({ length: 65 }, (_, i) => i + 1).join(" | "))).toThrow(/more than 64/);
  });
});

describe("member pages", () => {
  it("walks the whole audience in order, mapped back to uids, and equals the oracle", async () => {
    const want = [...members.a].map((u) => bitOf.get(u)!).sort((x, y) => x - y);
    const got: { bit: number; uid: string; corpId: string }[] = [];
    let url = `/v1/audiences/${aud.a}/members?limit=137`;
    for (;;) {
      const res = await get(url);
      expect(res.statusCode, res.body).toBe(200);
      const page = res.json<{ items: typeof got; next: string | null; version: number }>();
      got.push(...page.items);
      if (page.next === null) break;
      url = `/v1/audiences/${aud.a}/members?limit=137&cursor=${page.next}`;
    }
    expect(got.map((i) => i.bit)).toEqual(want);
    for (const item of got) expect(members.a.has(item.uid)).toBe(true);
    expect(got[0]!.corpId).toMatch(/^corp\d$/);
    // Start at a depth directly.
    const deep = (await get(`/v1/audiences/${aud.a}/members?limit=5&rank=${want.length - 3}`)).json<{
      items: { bit: number }[];
      next: string | null;
    }>();
    expect(deep.items.map((i) => i.bit)).toEqual(want.slice(-3));
    expect(deep.next).toBeNull();
  });

  it("stays on its version while a new one is swapped in mid-walk; a gone version is 410", async () => {
    const first = (await get(`/v1/audiences/${aud.c}/members?limit=100`)).json<{ next: string; version: number }>();
    // A new version of c: only the first 500 users.
    await table.put(
      aud.c,
      20261121,
      0,
      users.slice(0, 500).map((u) => bitOf.get(u)!),
    );
    await service.runSync(aud.c, { force: true });
    expect((await get(`/v1/audiences/${aud.c}/contains?uid=${users[700]}`)).json()).toMatchObject({
      version: 2,
      member: false,
    });
    const rest: number[] = [];
    let cursor: string | null = first.next;
    type Page = { items: { bit: number }[]; next: string | null; version: number };
    while (cursor) {
      const res = await get(`/v1/audiences/${aud.c}/members?limit=300&cursor=${cursor}`);
      const page: Page = res.json<Page>();
      expect(page.version).toBe(first.version);
      rest.push(...page.items.map((i) => i.bit));
      cursor = page.next;
    }
    expect(rest.length + 100).toBe(1000);
    const never = await get(`/v1/audiences/${aud.c}/members?cursor=${Buffer.from("99.0").toString("base64url")}`);
    expect(never.statusCode).toBe(410);
    expect(never.json().message).toMatch(/version 99 has expired/);
  });

  it("answers 410 to a cursor whose version was collected", async () => {
    // Another process syncs with one retained version: v1 is collected when v2 is swapped in.
    const e = newAudienceId();
    const other = table.context({ BITSYNC_RETAIN_VERSIONS: "1" });
    try {
      await table.put(e, 20261120, 0, [1, 2, 3, 4, 5]);
      await syncAudience(other.deps, e);
      const first = (await get(`/v1/audiences/${e}/members?limit=2`)).json<{ next: string; version: number }>();
      expect(first.version).toBe(1);
      await table.put(e, 20261121, 0, [7, 8, 9, 10, 11]);
      await syncAudience(other.deps, e, { force: true });
      // This server has v1's index cached and its segment pinned: a fresh one has neither.
      const fresh = await createService(table.config({ BITSYNC_MAP_NAMESPACE: uniqueName("ms") }), undefined, {
        defaultMetrics: false,
      });
      try {
        const res = await fresh.app.inject({ method: "GET", url: `/v1/audiences/${e}/members?cursor=${first.next}` });
        expect(res.statusCode).toBe(410);
        expect(res.json()).toMatchObject({
          error: "version_gone",
          message: expect.stringMatching(/version 1 has expired or was collected/),
        });
        const now = await fresh.app.inject({ method: "GET", url: `/v1/audiences/${e}/members?limit=10` });
        expect(now.json()).toMatchObject({
          version: 2,
          items: [{ bit: 7 }, { bit: 8 }, { bit: 9 }, { bit: 10 }, { bit: 11 }],
        });
      } finally {
        await fresh.close();
      }
    } finally {
      await other.close();
    }
  });
});

describe("audience info and admin routes", () => {
  it("shows the info, and guards sync and rollback with the bearer token", async () => {
    const info = (await get(`/v1/audiences/${aud.b}`)).json();
    expect(info).toMatchObject({
      audience: aud.b,
      version: 1,
      cardinality: members.b.size,
      source: { impDate: 20261120 },
    });
    expect(info.syncedAt).toMatch(/^\d{4}-/);
    expect((await post(`/v1/audiences/${aud.b}/sync`, {})).statusCode).toBe(401);
    expect((await post(`/v1/audiences/${aud.b}/sync`, {}, { authorization: "Bearer wrong" })).statusCode).toBe(401);
    const synced = await post(`/v1/audiences/${aud.b}/sync`, { force: true }, { authorization: `Bearer ${TOKEN}` });
    expect(synced.statusCode, synced.body).toBe(200);
    expect(synced.json()).toMatchObject({ version: 2, reused: expect.any(Number) });
    expect((await post(`/v1/audiences/${aud.b}/rollback`, {})).statusCode).toBe(401);
    const back = await post(`/v1/audiences/${aud.b}/rollback`, {}, { authorization: `Bearer ${TOKEN}` });
    expect(back.json()).toMatchObject({ from: 2, to: 1 });
    expect((await get(`/v1/audiences/${aud.b}`)).json()).toMatchObject({ version: 1 });
  });

  it("health, readiness, metrics and the OpenAPI document", async () => {
    expect((await get("/healthz")).json()).toEqual({ status: "ok" });
    expect((await get("/readyz")).json()).toMatchObject({ status: "ready", redis: "up" });
    const metrics = (await get("/metrics")).body;
    expect(metrics).toMatch(/bitsync_http_request_duration_seconds_bucket\{/);
    expect(metrics).toMatch(/bitsync_cache_hits_total \d+/);
    expect(metrics).toMatch(/bitsync_sync_duration_seconds_count\{result="ok"\} \d+/);
    const doc = (await get("/openapi.json")).json<{ openapi: string; paths: Record<string, unknown> }>();
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(["/v1/audiences/{id}/contains", "/v1/audiences/{id}/members", "/v1/contains"]),
    );
  });
});

describe("bad input", () => {
  it("gets a 4xx with a reason", async () => {
    const cases: [string, () => ReturnType<typeof get>, number][] = [
      ["non-numeric bit", () => get(`/v1/audiences/${aud.a}/contains?bit=abc`), 400],
      ["negative bit", () => get(`/v1/audiences/${aud.a}/contains?bit=-1`), 400],
      ["uid and bit", () => get(`/v1/audiences/${aud.a}/contains?bit=1&uid=x`), 400],
      ["neither", () => get(`/v1/audiences/${aud.a}/contains`), 400],
      ["bad audience id", () => get(`/v1/audiences/abc/contains?bit=1`), 400],
      ["unknown audience", () => get(`/v1/audiences/999999999999/contains?bit=1`), 404],
      [
        "oversized batch",
        () => post(`/v1/audiences/${aud.a}/contains`, { bits: Array.from({ length: 2001 }, (_, i) => i) }),
        400,
      ],
      ["batch of strings as bits", () => post(`/v1/audiences/${aud.a}/contains`, { bits: ["x"] }), 400],
      ["batch with another key", () => post(`/v1/audiences/${aud.a}/contains`, { uids: ["a"], more: 1 }), 400],
      ["batch of neither", () => post(`/v1/audiences/${aud.a}/contains`, {}), 400],
      ["batch of both", () => post(`/v1/audiences/${aud.a}/contains`, { uids: ["a"], bits: [1] }), 400],
      ["batch, unknown audience", () => post(`/v1/audiences/999999999999/contains`, { uids: ["a"] }), 404],
      [
        "batch, empty body",
        () =>
          app.inject({
            method: "POST",
            url: `/v1/audiences/${aud.a}/contains`,
            payload: "",
            headers: { "content-type": "application/json" },
          }),
        400,
      ],
      ["malformed expression", () => post("/v1/contains", { uid: "u", expr: `${aud.a} & (` }), 400],
      ["expression with junk", () => post("/v1/contains", { uid: "u", expr: "1 + 2" }), 400],
      ["forged cursor", () => get(`/v1/audiences/${aud.a}/members?cursor=abc`), 400],
      ["page too large", () => get(`/v1/audiences/${aud.a}/members?limit=501`), 400],
      [
        "not JSON",
        () =>
          app.inject({
            method: "POST",
            url: `/v1/audiences/${aud.a}/contains`,
            payload: "{",
            headers: { "content-type": "application/json" },
          }),
        400,
      ],
      ["unknown route", () => get("/v2/nothing"), 404],
    ];
    for (const [what, call, status] of cases) {
      const res = await call();
      expect(res.statusCode, `${what}: ${res.body}`).toBe(status);
      expect(res.json().message, what).toEqual(expect.any(String));
    }
  });

  it("never answers 5xx to thousands of random malformed requests", async () => {
    const segment = fc.oneof(
      fc.constantFrom(aud.a, "0", "-1", "abc", "%00", "..", "1e9", "99999999999999999999"),
      fc.string({ maxLength: 8 }),
    );
    const query = fc.dictionary(
      fc.constantFrom("uid", "bit", "limit", "cursor", "rank", "x"),
      fc.string({ maxLength: 12 }),
    );
    const body = fc.oneof(fc.json(), fc.string(), fc.constant("{"), fc.constant('{"uids":[1,2,null]}'));
    const request = fc.record({
      method: fc.constantFrom("GET", "POST", "PUT", "DELETE"),
      path: fc.constantFrom("contains", "members", "", "sync", "rollback"),
      id: segment,
      query,
      body,
    });
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const qs = new URLSearchParams(r.query).toString();
        const res = await app.inject({
          method: r.method as "GET",
          url: `/v1/audiences/${encodeURIComponent(r.id)}/${r.path}?${qs}`,
          ...(r.method === "GET" || r.method === "DELETE"
            ? {}
            : { payload: r.body, headers: { "content-type": "application/json" } }),
        });
        return res.statusCode < 500;
      }),
      { numRuns: 2000 },
    );
    const exprs = fc.string({ unit: fc.constantFrom("1", "2", "&", "|", "!", "(", ")", " ", "x"), maxLength: 30 });
    await fc.assert(
      fc.asyncProperty(exprs, async (expr) => (await post("/v1/contains", { bit: 1, expr })).statusCode < 500),
      { numRuns: 1000 },
    );
  });
});
