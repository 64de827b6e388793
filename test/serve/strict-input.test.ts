// Strict input on every route, against the real stack: a bit is a canonical decimal integer (or
// a JSON integer in a body), a uid is what the mapping takes, an audience id has one form, and
// every refusal is a 400 whose message names the parameter or the index. Then a fuzz of every
// route with typed generators: never a 5xx, every 4xx has {error, message}, and well-formed
// requests agree with a model of the audiences.
import fc from "fast-check";
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_BIGINT, parseAudienceId, parseBit, parseInteger } from "../../orchestrator/input.js";
import { audienceKeys } from "../../orchestrator/versions/keys.js";
import { createService, type Service } from "../../orchestrator/serve/service.js";
import { checkAudienceId as checkSourceId } from "../../orchestrator/source/validate.js";
import { SourceTable, newAudienceId } from "../helpers/audience.js";
import { uniqueName } from "../helpers/stack.js";
import { scanUids } from "../../orchestrator/serve/uid-scan.js";
import { disposeService } from "../helpers/service.js";

const TOKEN = "strict-input-token";
const BATCH = 50;
const PAGE = 40;
const MAX_BIT = Number.MAX_SAFE_INTEGER;
const U64_MAX = "18446744073709551615";
/** What 2^64 - 1 becomes as a float: it must never be printed. */
const ROUNDED = "18446744073709552000";

let table: SourceTable;
let service: Service;
let app: FastifyInstance;
const users = [...Array.from({ length: 120 }, (_, i) => `su${String(i).padStart(4, "0")}`), "12345"];
const bitOf = new Map<string, number>();
const uidOf = new Map<number, { uid: string; corpId: string }>();
// a and b are only read (version 1 throughout); c takes the admin routes.
const aud = { a: newAudienceId(), b: newAudienceId(), c: newAudienceId() };
const members: Record<"a" | "b", Set<number>> = { a: new Set(), b: new Set() };
const sorted: Record<"a" | "b", number[]> = { a: [], b: [] };
/** Cursors of a's pages of 7, with the rank each continues from. */
const cursors: { cursor: string; rank: number }[] = [];

beforeAll(async () => {
  table = await SourceTable.create();
  service = await createService(
    table.config({
      BITSYNC_MAP_NAMESPACE: uniqueName("strict"),
      BITSYNC_ADMIN_TOKEN: TOKEN,
      BITSYNC_BATCH_LIMIT: String(BATCH),
      BITSYNC_PAGE_LIMIT: String(PAGE),
      BITSYNC_CACHE_POLL_MS: "60000",
      REDIS_CLUSTER_NODES: "",
    }),
    undefined,
    { defaultMetrics: false },
  );
  app = service.app;
  const { mappings } = await service.mapping.mapper.allocate(users.map((uid, i) => ({ uid, corpId: `corp${i % 3}` })));
  for (const m of mappings) {
    bitOf.set(m.uid, m.bit);
    uidOf.set(m.bit, { uid: m.uid, corpId: m.corpId });
  }
  users.forEach((u, i) => {
    if (i % 2 === 0) members.a.add(bitOf.get(u)!);
    if (i % 3 === 0) members.b.add(bitOf.get(u)!);
  });
  for (const k of ["a", "b"] as const) {
    sorted[k] = [...members[k]].sort((x, y) => x - y);
    await table.put(aud[k], 20261120, 0, sorted[k]);
    await service.runSync(aud[k]);
  }
  await table.put(aud.c, 20261120, 0, [1, 2, 3]);
  await service.runSync(aud.c);
  let url = `/v1/audiences/${aud.a}/members?limit=7`;
  for (let rank = 7; ; rank += 7) {
    const next = (await app.inject({ method: "GET", url })).json<{ next: string | null }>().next;
    if (next === null) break;
    cursors.push({ cursor: next, rank });
    url = `/v1/audiences/${aud.a}/members?limit=7&cursor=${next}`;
  }
});

afterAll(() => disposeService(service, table));

const get = (url: string) => app.inject({ method: "GET", url });
/** POSTs `payload` as it is when a string (the exact bytes), else as JSON. */
const post = (url: string, payload: unknown, headers: Record<string, string> = {}) =>
  app.inject({
    method: "POST",
    url,
    payload: typeof payload === "string" ? payload : JSON.stringify(payload),
    headers: { "content-type": "application/json", ...headers },
  });
const admin = { authorization: `Bearer ${TOKEN}` };

/** The 400 every refusal is, with a message that names `name` (a parameter or an index). */
function expectRefused(res: LightMyRequestResponse, name: string, what: string): void {
  expect(res.statusCode, `${what}: ${res.body}`).toBe(400);
  const body = res.json<{ error: string; message: string }>();
  expect(body.error, what).toBe("bad_request");
  expect(body.message, what).toEqual(expect.stringContaining(name));
  expect(res.body, what).not.toContain(ROUNDED);
}

describe("a bit is a decimal integer", () => {
  // Each of these was answered (as bit 0, 16, 1000, 5, ...) or took a path it should not.
  const badText = [
    ["%20", "a space"],
    ["Infinity", "Infinity"],
    ["0x10", "hex"],
    ["0b11", "binary"],
    ["0o7", "octal"],
    [".5e1", "a fraction with an exponent"],
    ["1e3", "an exponent"],
    ["%2B5", "a plus sign"],
    ["+5", "a plus sign that a query string reads as a space"],
    ["-0", "minus zero"],
    ["05", "a leading zero"],
    ["5.0", "a fraction"],
    ["", "nothing"],
    ["%205", "a leading space"],
    ["5%20", "a trailing space"],
    ["1_000", "a separator"],
    ["%D9%A3", "an Arabic-Indic digit"],
    [U64_MAX, "2^64 - 1"],
    ["9007199254740992", "2^53"],
  ] as const;

  it("?bit= takes digits only, within 0..2^53-1", async () => {
    for (const [text, what] of badText) {
      const res = await get(`/v1/audiences/${aud.a}/contains?bit=${text}`);
      expectRefused(res, "bit", what);
      expect(res.json().message, what).toMatch(/^bit /);
    }
    expectRefused(await get(`/v1/audiences/${aud.a}/contains?bit=1&bit=2`), "bit", "given twice");
    const big = await get(`/v1/audiences/${aud.a}/contains?bit=${U64_MAX}`);
    expect(big.json().message).toContain(U64_MAX);
    // The edges still answer.
    const first = sorted.a[0]!;
    expect((await get(`/v1/audiences/${aud.a}/contains?bit=${first}`)).json()).toMatchObject({ member: true });
    expect((await get(`/v1/audiences/${aud.a}/contains?bit=0`)).statusCode).toBe(200);
    expect((await get(`/v1/audiences/${aud.a}/contains?bit=${MAX_BIT}`)).json()).toMatchObject({ member: false });
  });

  it("a bit in a JSON body is a JSON integer: not null, a bool, a string or a float", async () => {
    const cases: [string, string, string][] = [
      ['{"bits":[null]}', "bits[0]", "null"],
      ['{"bits":[false]}', "bits[0]", "false"],
      ['{"bits":[true]}', "bits[0]", "true"],
      ['{"bits":["5"]}', "bits[0]", "a string"],
      ['{"bits":[1.5]}', "bits[0]", "a float"],
      ['{"bits":[-1]}', "bits[0]", "negative"],
      ['{"bits":[{}]}', "bits[0]", "an object"],
      [`{"bits":[${U64_MAX}]}`, "bits[0]", "above 2^53"],
      ['{"bits":[9007199254740992]}', "bits[0]", "2^53"],
      ['{"bits":[0, 1, 2, true]}', "bits[3]", "the index of the bad one"],
      ['{"bits":null}', "bits", "null for the list"],
      ['{"bits":5}', "bits", "a number for the list"],
      ['{"bits":"1,2"}', "bits", "a string for the list"],
    ];
    for (const [body, name, what] of cases) {
      expectRefused(await post(`/v1/audiences/${aud.a}/contains`, body), name, what);
    }
    for (const [body, what] of [
      ['{"bit":null,"expr":"1"}', "null"],
      ['{"bit":true,"expr":"1"}', "true"],
      ['{"bit":"5","expr":"1"}', "a string"],
      ['{"bit":0.5,"expr":"1"}', "a float"],
      [`{"bit":${U64_MAX},"expr":"1"}`, "above 2^53"],
    ] as const) {
      const res = await post("/v1/contains", body.replace('"1"', `"${aud.a}"`));
      expectRefused(res, "bit", what);
    }
    const ok = await post(`/v1/audiences/${aud.a}/contains`, { bits: [sorted.a[0], MAX_BIT, 0] });
    expect(ok.json().members).toEqual([true, false, members.a.has(0)]);
  });
});

describe("a uid is what the mapping takes", () => {
  const long = "x".repeat(65);

  it("?uid= is refused when the mapping would refuse it", async () => {
    for (const [text, what] of [
      ["", "empty"],
      [long, "over BITSYNC_MAP_UID_MAX_BYTES"],
      ["a%01b", "a control character"],
      ["a%7Fb", "DEL"],
      ["has%20space", "a space (not in the pattern)"],
      ["%C3%A9t%C3%A9", "not ASCII (not in the pattern)"],
    ] as const) {
      const res = await get(`/v1/audiences/${aud.a}/contains?uid=${text}`);
      expectRefused(res, "uid", what);
      expect(res.json().message, what).toMatch(/^uid /);
    }
    expectRefused(await get(`/v1/audiences/${aud.a}/contains?uid=su0000&uid=su0001`), "uid", "given twice");
    expect((await get(`/v1/audiences/${aud.a}/contains?uid=12345`)).json()).toMatchObject({ mapped: true });
  });

  it("a batch names the index of a uid the mapping would refuse, parsed as JSON", async () => {
    for (const [body, name, what] of [
      ['{"uids":[null]}', "uids[0]", "null"],
      ['{"uids":["su0000",""]}', "uids[1]", "empty"],
      ['{"uids":[true]}', "uids[0]", "a bool"],
      ['{"uids":[1.5]}', "uids[0]", "a float"],
      ['{"uids":[{}]}', "uids[0]", "an object"],
      ['{"uids":[["su0000"]]}', "uids[0]", "an array"],
      [`{"uids":["su0000","su0001",${JSON.stringify(long)}]}`, "uids[2]", "too long"],
      ['{"uids":["su0000","a\\u0001b"]}', "uids[1]", "a control character (escaped)"],
      ['{"uids":["\\u00e9t\\u00e9"]}', "uids[0]", "not ASCII"],
      [`{"uids":["su0000",${U64_MAX}]}`, "uids[1]", "an integer above 2^53"],
      ['{"uids":null}', "uids", "null for the list"],
      ['{"uids":"x"}', "uids", "a string for the list"],
      ['{"uids":{"0":"su0000"}}', "uids", "an object for the list"],
    ] as const) {
      const res = await post(`/v1/audiences/${aud.a}/contains`, body);
      expectRefused(res, name, what);
    }
  });

  it("a batch read by the core refuses the same uids, by index", async () => {
    const mapper = service.mapping.mapper;
    for (const [uids, name, what] of [
      [["su0000", ""], "uids[1]", "empty"],
      [["su0000", "su0001", long], "uids[2]", "too long"],
      [["su0000", "has space"], "uids[1]", "a space"],
      [["a\u007fb"], "uids[0]", "a raw DEL byte"],
    ] as const) {
      const body = JSON.stringify({ uids });
      // The core takes these bodies itself: the check must not depend on the JSON path.
      expect(scanUids(mapper, Buffer.from(body), BATCH), what).not.toBeNull();
      expectRefused(await post(`/v1/audiences/${aud.a}/contains`, body), name, what);
    }
    // A uid the cache holds (mapped, valid) next to a bad one: still refused.
    await post(`/v1/audiences/${aud.a}/contains`, { uids: ["su0003"] });
    expect(mapper.cachedBit("su0003")).toBe(bitOf.get("su0003"));
    expectRefused(await post(`/v1/audiences/${aud.a}/contains`, '{"uids":["su0003",""]}'), "uids[1]", "hit + bad");
  });

  it("exact integers are uids, in batches and in expressions", async () => {
    const res = await post(`/v1/audiences/${aud.a}/contains`, '{"uids":[12345,"su0002","ghost"]}');
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({
      members: [members.a.has(bitOf.get("12345")!), members.a.has(bitOf.get("su0002")!), false],
      unmapped: 1,
    });
    const expr = await post("/v1/contains", { uid: 12345, expr: `${aud.a} | ${aud.b}` });
    expect(expr.json()).toMatchObject({ mapped: true });
    for (const [uid, what] of [
      ["", "empty"],
      [null, "null"],
      [1.5, "a float"],
      [false, "a bool"],
      ["has space", "a space"],
    ] as const) {
      expectRefused(await post("/v1/contains", { uid, expr: aud.a }), "uid", what);
    }
    expectRefused(await post("/v1/contains", `{"uid":${U64_MAX},"expr":"${aud.a}"}`), "uid", "above 2^53");
  });
});

describe("an audience id has one canonical form", () => {
  it("05001 is not a second copy of audience 5001, on any route", async () => {
    const a0 = `0${aud.a}`;
    const c0 = `00${aud.c}`;
    const calls: [string, () => Promise<LightMyRequestResponse>][] = [
      ["single check", () => get(`/v1/audiences/${a0}/contains?bit=1`)],
      ["single check by uid", () => get(`/v1/audiences/${a0}/contains?uid=su0000`)],
      ["batch read by the core", () => post(`/v1/audiences/${a0}/contains`, '{"uids":["su0000"]}')],
      ["batch parsed as JSON", () => post(`/v1/audiences/${a0}/contains`, '{"uids":[12345]}')],
      ["batch of bits", () => post(`/v1/audiences/${a0}/contains`, '{"bits":[1]}')],
      ["members", () => get(`/v1/audiences/${a0}/members`)],
      ["info", () => get(`/v1/audiences/${a0}`)],
      ["expression", () => post("/v1/contains", { bit: 1, expr: `${aud.b} | ${a0}` })],
    ];
    for (const [what, call] of calls) {
      const res = await call();
      expectRefused(res, a0, what);
      expect(res.json().message, what).toContain(`write ${aud.a}`);
    }
    for (const [path, body] of [
      ["sync", { force: true }],
      ["rollback", {}],
    ] as const) {
      const res = await post(`/v1/audiences/${c0}/${path}`, body, admin);
      expectRefused(res, c0, path);
      expect(res.json().message, path).toContain(`write ${aud.c}`);
    }
    // Nothing was written under the second spelling.
    expect(await service.sync.redis.keys(`{aud:${c0}}*`)).toEqual([]);
  });

  it("within BIGINT, digits only", async () => {
    for (const [id, what] of [
      ["9223372036854775808", "2^63"],
      ["99999999999999999999", "20 digits"],
      ["-1", "a sign"],
      ["1e3", "an exponent"],
      ["abc", "letters"],
      ["%201", "a space"],
    ] as const) {
      const res = await get(`/v1/audiences/${id}/contains?bit=1`);
      expectRefused(res, "audience id", what);
    }
    // The largest BIGINT is an id: one that was never synced.
    expect((await get(`/v1/audiences/${MAX_BIGINT}/contains?bit=1`)).statusCode).toBe(404);
  });

  it("one rule: the keys, the routes and the parser refuse what the source reads as the canonical id", () => {
    expect(parseAudienceId("5001")).toBe("5001");
    expect(parseAudienceId("0")).toBe("0");
    expect(() => parseAudienceId("05001")).toThrow(/not in canonical form: write 5001/);
    expect(() => audienceKeys("05001")).toThrow(/write 5001/);
    expect(() => audienceKeys("aud-1")).toThrow(/not a BIGINT id/);
    // The source binds a BIGINT parameter: any spelling reads the same rows, as its canonical id.
    expect(checkSourceId("05001")).toBe("5001");
  });
});

describe("member pages and admin bodies", () => {
  it("?limit= and ?rank= are decimal integers too", async () => {
    for (const [name, text, what] of [
      ["limit", "1e2", "an exponent"],
      ["limit", "0x10", "hex"],
      ["limit", "%20", "a space"],
      ["limit", "%2B5", "a sign"],
      ["limit", "05", "a leading zero"],
      ["limit", "0", "below 1"],
      ["limit", String(PAGE + 1), "above BITSYNC_PAGE_LIMIT"],
      ["limit", "Infinity", "Infinity"],
      ["rank", "1e3", "an exponent"],
      ["rank", "-0", "minus zero"],
      ["rank", "-1", "negative"],
      ["rank", "0b1", "binary"],
      ["rank", "", "nothing"],
      ["rank", U64_MAX, "2^64 - 1"],
    ] as const) {
      expectRefused(await get(`/v1/audiences/${aud.a}/members?${name}=${text}`), name, what);
    }
    const page = (await get(`/v1/audiences/${aud.a}/members?limit=5&rank=3`)).json<{ items: { bit: number }[] }>();
    expect(page.items.map((i) => i.bit)).toEqual(sorted.a.slice(3, 8));
  });

  it("admin bodies keep their JSON types, and the bearer scheme is case-insensitive", async () => {
    const sync = `/v1/audiences/${aud.c}/sync`;
    const rollback = `/v1/audiences/${aud.c}/rollback`;
    expectRefused(await post(sync, { impDate: "20261120" }, admin), "impDate", "a date as a string");
    expectRefused(await post(sync, { force: "true" }, admin), "force", "a bool as a string");
    expectRefused(await post(sync, { force: 1 }, admin), "force", "a bool as a number");
    expectRefused(await post(sync, { impDate: 20261399 }, admin), "imp_date 20261399", "a month 13");
    expectRefused(await post(rollback, { to: "1" }, admin), "to", "a version as a string");
    expectRefused(await post(rollback, { to: 1.5 }, admin), "to", "a fractional version");
    expectRefused(await post(rollback, { to: 2 ** 64 }, admin), "to", "a version above 2^53");
    const lower = await post(sync, { force: true }, { authorization: `bearer ${TOKEN}` });
    expect(lower.statusCode, lower.body).toBe(200);
    expect(lower.json()).toMatchObject({ audience: aud.c, version: 2 });
    const upper = await post(rollback, {}, { authorization: `BEARER ${TOKEN}` });
    expect(upper.statusCode, upper.body).toBe(200);
    expect(upper.json()).toMatchObject({ from: 2, to: 1 });
    for (const authorization of [`Bearer wrong`, `Basic ${TOKEN}`, `Bearer${TOKEN}`, TOKEN]) {
      expect((await post(rollback, {}, { authorization })).statusCode, authorization).toBe(401);
    }
  });
});

describe("the parsers", () => {
  it("take canonical decimal text only", () => {
    expect(parseBit("0")).toBe(0);
    expect(parseBit(String(MAX_BIT))).toBe(MAX_BIT);
    for (const bad of [
      " ",
      "",
      "0x10",
      "0b11",
      "0o7",
      ".5e1",
      "1e3",
      "+5",
      "-0",
      "05",
      "Infinity",
      "9007199254740992",
    ]) {
      expect(() => parseBit(bad), bad).toThrow(/^bit /);
    }
    expect(parseInteger("40", "limit", 1, 40)).toBe(40);
    expect(() => parseInteger("41", "limit", 1, 40)).toThrow(/limit "41" is out of range: 1 to 40/);
    expect(() => parseInteger(["1", "2"], "limit", 1, 40)).toThrow(/limit/);
  });
});

// ---- the fuzz ---------------------------------------------------------------------------------

type Known = "a" | "b";
/** An audience id in a path or an expression: one of the model's, one never synced, or malformed. */
type AudiencePart =
  { kind: "known"; key: Known; id: string } | { kind: "unknown"; id: string } | { kind: "bad"; id: string };
/** A value of a request: well-formed (with what it means) or not. */
type Part<T> = { ok: true; value: T; raw: unknown } | { ok: false; raw: unknown };

const canonicalId = (s: string) => /^(0|[1-9]\d*)$/.test(s) && BigInt(s) <= MAX_BIGINT;

const audienceArb: fc.Arbitrary<AudiencePart> = fc.oneof(
  fc.constantFrom<Known>("a", "b").map((key) => ({ kind: "known" as const, key, id: aud[key] })),
  fc
    .bigInt({ min: 0n, max: MAX_BIGINT })
    .map(String)
    .filter((id) => id !== aud.a && id !== aud.b && id !== aud.c)
    .map((id) => ({ kind: "unknown" as const, id })),
  fc
    .oneof(
      fc.constantFrom(`0${aud.a}`, `00${aud.b}`, "-1", "+1", "1e3", "0x10", " 1", "1 ", "1.0", "00", "abc"),
      fc.constantFrom("9223372036854775808", "99999999999999999999", U64_MAX),
      fc.string({ unit: fc.constantFrom(..."0123456789ax-+e "), minLength: 1, maxLength: 8 }),
    )
    .filter((id) => !canonicalId(id))
    .map((id) => ({ kind: "bad" as const, id })),
);

const bitValue = fc.oneof(fc.integer({ min: 0, max: 400 }), fc.integer({ min: 0, max: MAX_BIT }));

// The arbitraries below read the model, so they are built inside the tests (after beforeAll).

/** A bit as query text. */
const bitTextArb = (): fc.Arbitrary<Part<number>> =>
  fc.oneof(
    fc
      .oneof(fc.constantFrom(...sorted.a, ...sorted.b), bitValue)
      .map((n) => ({ ok: true as const, value: n, raw: String(n) })),
    fc
      .oneof(
        fc.constantFrom(" ", "Infinity", "NaN", "0x10", "0b11", "0o7", ".5e1", "1e3", "+5", "-0", "5.0", "", U64_MAX),
        fc.nat().map((n) => `0${n}`),
        fc.nat().map((n) => `${n}e0`),
        fc.nat().map((n) => ` ${n}`),
        fc.nat().map((n) => `-${n + 1}`),
        fc.string({ maxLength: 6 }),
      )
      .filter((s) => !(/^(0|[1-9]\d*)$/.test(s) && Number(s) <= MAX_BIT))
      .map((s) => ({ ok: false as const, raw: s })),
  );

/** A bit as a JSON value. */
const bitJsonArb = (): fc.Arbitrary<Part<number>> =>
  fc.oneof(
    fc.oneof(fc.constantFrom(...sorted.a), bitValue).map((n) => ({ ok: true as const, value: n, raw: n })),
    fc
      .constantFrom<unknown>(null, true, false, "5", 1.5, -1, 2 ** 53, 2 ** 64, [], {}, "")
      .map((raw) => ({ ok: false as const, raw })),
  );

const printable = fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)) });
/** A uid as text: mapped, valid but never mapped, or one the mapping refuses. */
const uidTextArb = (): fc.Arbitrary<Part<string>> =>
  fc.oneof(
    fc.constantFrom(...users).map((u) => ({ ok: true as const, value: u, raw: u })),
    fc
      .string({
        unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
        minLength: 1,
        maxLength: 64,
      })
      .map((u) => ({ ok: true as const, value: u, raw: u })),
    fc
      .oneof(
        fc.constant(""),
        printable.filter((s) => s.length > 0).map((s) => s.padEnd(65, "z")),
        fc.tuple(printable, printable).map(([x, y]) => `${x} ${y}`),
        fc.tuple(printable, fc.constantFrom("\u0001", "\u007f", "\t", "\n", "é", "\u2028")).map(([x, c]) => x + c),
      )
      .map((s) => ({ ok: false as const, raw: s })),
  );

/** A uid as a JSON value: the text ones, exact integers, and values of other types. */
const uidJsonArb = (): fc.Arbitrary<Part<string>> =>
  fc.oneof(
    { weight: 3, arbitrary: uidTextArb() },
    fc.oneof(fc.constant(12345), fc.integer()).map((n) => ({ ok: true as const, value: String(n), raw: n })),
    fc
      .constantFrom<unknown>(null, true, false, 1.5, -0.5, 2 ** 64, [], {}, ["su0000"])
      .map((raw) => ({ ok: false as const, raw })),
  );

type Expr = { op: "aud"; part: AudiencePart } | { op: "not"; arg: Expr } | { op: "and" | "or"; args: Expr[] };

// In an expression, " 5" is the token 5: a malformed id there is one whose trimmed text is not canonical.
const exprAudienceArb = audienceArb.filter((p) => p.kind !== "bad" || !canonicalId(p.id.trim()));

const exprArb: fc.Arbitrary<Expr> = fc.letrec<{ e: Expr }>((tie) => ({
  e: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    exprAudienceArb.map((part) => ({ op: "aud" as const, part })),
    tie("e").map((arg) => ({ op: "not" as const, arg })),
    fc.record({
      op: fc.constantFrom("and" as const, "or" as const),
      args: fc.array(tie("e"), { minLength: 2, maxLength: 3 }),
    }),
  ),
})).e;

function exprText(e: Expr): string {
  switch (e.op) {
    case "aud":
      return e.part.id;
    case "not":
      return `!${exprText(e.arg)}`;
    default:
      return `(${e.args.map(exprText).join(e.op === "and" ? " & " : " | ")})`;
  }
}

/** Nesting of ! and parentheses, as the parser counts it. */
function exprDepth(e: Expr): number {
  return e.op === "aud" ? 0 : e.op === "not" ? 1 + exprDepth(e.arg) : 1 + Math.max(...e.args.map(exprDepth));
}

function exprParts(e: Expr): AudiencePart[] {
  return e.op === "aud" ? [e.part] : e.op === "not" ? exprParts(e.arg) : e.args.flatMap(exprParts);
}

function evalExpr(e: Expr, bit: number | null): boolean {
  switch (e.op) {
    case "aud":
      return bit !== null && members[(e.part as { key: Known }).key].has(bit);
    case "not":
      return !evalExpr(e.arg, bit);
    case "and":
      return e.args.every((x) => evalExpr(x, bit));
    case "or":
      return e.args.some((x) => evalExpr(x, bit));
  }
}

/**
 * What the model says: the answer of a well-formed request, 404 for an audience never synced,
 * or 400 naming one of `names` (the request's malformed parts).
 */
type Expected =
  | { status: 200; body: unknown }
  | { status: 400; names: string[] }
  | { status: 404 }
  /** A cursor of a version of another audience: that version is gone (410), or there is no audience (404). */
  | { status: "gone" };

function expectModel(res: LightMyRequestResponse, want: Expected, what: string): void {
  expect(res.statusCode, `${what}\n${res.body}`).toBeLessThan(500);
  if (res.statusCode >= 400) {
    const body = res.json<{ error: unknown; message: unknown }>();
    expect(typeof body.error, what).toBe("string");
    expect(typeof body.message, what).toBe("string");
  }
  if (want.status === "gone") expect([404, 410], `${what}\n${res.body}`).toContain(res.statusCode);
  else expect(res.statusCode, `${what}\n${res.body}`).toBe(want.status);
  if (want.status === 200) expect(res.json(), what).toEqual(want.body);
  if (want.status === 400) {
    const message = res.json<{ message: string }>().message;
    expect(
      want.names.some((n) => message.includes(n)),
      `${what}: "${message}" names none of ${JSON.stringify(want.names)}`,
    ).toBe(true);
  }
  expect(res.body, what).not.toContain(ROUNDED);
}

/** 400 if any part is bad, else 404 if the audience is unknown, else the answer. */
function judge(bad: string[], audience: AudiencePart, answer: () => unknown): Expected {
  if (audience.kind === "bad") bad.push("audience id");
  if (bad.length > 0) return { status: 400, names: bad };
  if (audience.kind === "unknown") return { status: 404 };
  return { status: 200, body: answer() };
}

const qs = (params: Record<string, string>) => new URLSearchParams(params).toString();
const path = (a: AudiencePart) => `/v1/audiences/${encodeURIComponent(a.id)}`;

describe("fuzzing every route with typed generators", () => {
  it("single checks, by bit and by uid", async () => {
    const request = fc.record({
      audience: audienceArb,
      by: fc.oneof(
        bitTextArb().map((bit) => ({ bit })),
        uidTextArb().map((uid) => ({ uid })),
        fc.record({ bit: bitTextArb(), uid: uidTextArb() }),
      ),
    });
    await fc.assert(
      fc.asyncProperty(request, async ({ audience, by }) => {
        const params: Record<string, string> = {};
        if ("bit" in by) params.bit = String(by.bit.raw);
        if ("uid" in by) params.uid = String(by.uid.raw);
        const url = `${path(audience)}/contains?${qs(params)}`;
        const bad: string[] = [];
        let want: Expected;
        if ("bit" in by && "uid" in by) want = { status: 400, names: ["uid", "bit"] };
        else {
          if ("bit" in by && !by.bit.ok) bad.push("bit");
          if ("uid" in by && !by.uid.ok) bad.push("uid");
          want = judge(bad, audience, () => {
            const key = (audience as { key: Known }).key;
            if ("bit" in by)
              return {
                audience: audience.id,
                version: 1,
                member: members[key].has((by.bit as { value: number }).value),
              };
            const bit = bitOf.get((by.uid as { value: string }).value);
            return bit === undefined
              ? { audience: audience.id, version: 1, member: false, mapped: false }
              : { audience: audience.id, version: 1, member: members[key].has(bit), mapped: true };
          });
        }
        expectModel(await get(url), want, url);
      }),
      { numRuns: 300 },
    );
  });

  it("batch checks, read by the core or parsed as JSON", async () => {
    const items = fc.oneof(
      fc.record({ key: fc.constant("uids" as const), items: fc.array(uidJsonArb(), { maxLength: BATCH + 5 }) }),
      fc.record({ key: fc.constant("bits" as const), items: fc.array(bitJsonArb(), { maxLength: BATCH + 5 }) }),
    );
    const request = fc.record({ audience: audienceArb, body: items, spaced: fc.boolean() });
    await fc.assert(
      fc.asyncProperty(request, async ({ audience, body, spaced }) => {
        const payload = JSON.stringify({ [body.key]: body.items.map((p) => p.raw) }, null, spaced ? 1 : undefined);
        const url = `${path(audience)}/contains`;
        const res = await post(url, payload);
        const what = `${url} ${payload.slice(0, 300)}`;
        const badAt = body.items.findIndex((p) => !p.ok);
        const bad: string[] = [];
        if (body.items.length > BATCH) bad.push(`${body.key} must NOT have more than ${BATCH}`);
        else if (badAt >= 0) {
          // The message names an index, and the item there is malformed.
          const named = /(uids|bits)\[(\d+)\]/.exec(res.json<{ message?: string }>().message ?? "");
          const at = named ? Number(named[2]) : -1;
          bad.push(at >= 0 && !body.items[at]!.ok ? named![0] : `${body.key}[${badAt}]`);
        }
        const want = judge(bad, audience, () => {
          const key = (audience as { key: Known }).key;
          if (body.key === "bits") {
            const answers = body.items.map((p) => members[key].has((p as { value: number }).value));
            return { audience: audience.id, version: 1, members: answers };
          }
          const bits = body.items.map((p) => bitOf.get((p as { value: string }).value));
          return {
            audience: audience.id,
            version: 1,
            members: bits.map((b) => b !== undefined && members[key].has(b)),
            unmapped: bits.filter((b) => b === undefined).length,
          };
        });
        expectModel(res, want, what);
      }),
      { numRuns: 250 },
    );
  });

  it("set expressions", async () => {
    const target = fc.oneof(
      bitJsonArb().map((bit) => ({ bit })),
      uidJsonArb().map((uid) => ({ uid })),
    );
    await fc.assert(
      fc.asyncProperty(exprArb, target, async (expr, t) => {
        const text = exprText(expr);
        const body = { expr: text, ...("bit" in t ? { bit: t.bit.raw } : { uid: t.uid.raw }) };
        const res = await post("/v1/contains", body);
        const what = JSON.stringify(body);
        const parts = exprParts(expr);
        const bad: string[] = [];
        if ("bit" in t && !t.bit.ok) bad.push("bit");
        if ("uid" in t && !t.uid.ok) bad.push("uid");
        const badIds = parts.filter((p) => p.kind === "bad").map((p) => p.id);
        if (text.length > 2000 || exprDepth(expr) > 32 || new Set(parts.map((p) => p.id)).size > 64) bad.push("expr");
        let want: Expected;
        if (bad.length > 0 || badIds.length > 0) want = { status: 400, names: [...bad, ...badIds, "expr"] };
        else if (parts.some((p) => p.kind === "unknown")) want = { status: 404 };
        else {
          const bit =
            "bit" in t ? (t.bit as { value: number }).value : (bitOf.get((t.uid as { value: string }).value) ?? null);
          const versions = Object.fromEntries(parts.map((p) => [p.id, 1]));
          want = { status: 200, body: { member: evalExpr(expr, bit), mapped: bit !== null, versions } };
        }
        expectModel(res, want, what);
      }),
      { numRuns: 250 },
    );
  });

  it("member pages: limits, ranks and cursors", async () => {
    const countText = (min: number, max: number, valid = fc.integer({ min, max })): fc.Arbitrary<Part<number>> =>
      fc.oneof(
        valid.map((n) => ({ ok: true as const, value: n, raw: String(n) })),
        fc
          .oneof(
            fc.constantFrom("", " ", "1e2", "0x10", "+5", "-0", "-1", "Infinity", "05", "5.0", U64_MAX),
            fc.integer({ min: max + 1, max: max + 1000 }).map(String),
            fc.string({ maxLength: 5 }),
          )
          .filter((s) => !(/^(0|[1-9]\d*)$/.test(s) && Number(s) >= min && Number(s) <= max))
          .map((s) => ({ ok: false as const, raw: s })),
      );
    const cursorArb: fc.Arbitrary<Part<number>> = fc.oneof(
      fc.constantFrom(...cursors).map((c) => ({ ok: true as const, value: c.rank, raw: c.cursor })),
      fc
        .oneof(
          fc.string({ maxLength: 20 }),
          fc.constantFrom("abc", Buffer.from("1.x").toString("base64url"), Buffer.from("01.5").toString("base64url")),
        )
        .filter((s) => !cursors.some((c) => c.cursor === s))
        .map((s) => ({ ok: false as const, raw: s })),
    );
    const request = fc.record({
      audience: audienceArb.filter((a) => a.kind !== "known" || a.key === "a"),
      limit: fc.option(countText(1, PAGE), { nil: undefined }),
      from: fc.option(
        fc.oneof(
          countText(0, MAX_BIT, fc.oneof(fc.integer({ min: 0, max: 80 }), fc.integer({ min: 0, max: MAX_BIT }))).map(
            (rank) => ({ rank }),
          ),
          cursorArb.map((cursor) => ({ cursor })),
        ),
        { nil: undefined },
      ),
    });
    await fc.assert(
      fc.asyncProperty(request, async ({ audience, limit, from }) => {
        const params: Record<string, string> = {};
        if (limit) params.limit = String(limit.raw);
        if (from && "rank" in from) params.rank = String(from.rank.raw);
        if (from && "cursor" in from) params.cursor = String(from.cursor.raw);
        const url = `${path(audience)}/members?${qs(params)}`;
        const bad: string[] = [];
        if (limit && !limit.ok) bad.push("limit");
        if (from && "rank" in from && !from.rank.ok) bad.push("rank");
        if (from && "cursor" in from && !from.cursor.ok) bad.push("cursor");
        const cursorOfA = from !== undefined && "cursor" in from && from.cursor.ok;
        const want = judge(bad, audience, () => {
          // Without ?limit=: 100, or BITSYNC_PAGE_LIMIT when that is lower.
          const n = limit?.ok ? limit.value : Math.min(100, PAGE);
          const part = from ? ("rank" in from ? from.rank : from.cursor) : undefined;
          const rank = part?.ok ? part.value : 0;
          const bits = sorted.a.slice(rank, rank + n);
          return {
            audience: audience.id,
            version: 1,
            items: bits.map((bit) => ({ bit, ...uidOf.get(bit)! })),
            next: rank + n < sorted.a.length ? expect.any(String) : null,
          };
        });
        const gone = want.status === 404 && cursorOfA;
        expectModel(await get(url), gone ? { status: "gone" } : want, url);
      }),
      { numRuns: 200 },
    );
  });
});
