// A soak (issue 10, section 7): a few hundred swaps of a 3 MB audience through a running
// `bitsync serve` while checks run against it. Every version is synced by the daemon itself (the
// admin route), so the sync's segmenting and the serving cache share one WASM core and one heap.
// What is bounded is memory, never time: the daemon's RSS and its WASM memory after the warm-up
// grow by less than a bound over the remaining swaps, and the cache holds only what the retained
// versions use. Every answer checked is the one the version that served it should give.
import { afterAll, beforeAll, expect, it } from "vitest";
import { SourceTable, newAudienceId } from "../helpers/audience.js";
import { denseBitmap, flipped, type DenseBitmap } from "./helpers/bitmaps.js";
import { adminSync, http, serve, stopServe, type Served } from "./helpers/daemon.js";
import { stopAll } from "./helpers/procs.js";
import { PrivateRedis } from "./helpers/servers.js";
import { readFileSync } from "node:fs";

const SWAPS = Number(process.env.BITSYNC_SOAK_SWAPS ?? 300);
const WARMUP = 30;
/** 360 bitset containers: 2.9 MB, about 11.8M members, in 6 segments of 2^22 bits. */
const CONTAINERS = 360;
const SEGMENT_BITS = 22;
const SEGMENTS = Math.ceil((CONTAINERS * 65536) / 2 ** SEGMENT_BITS);
const RETAIN = 2;
/** Growth allowed after the warm-up, over every later swap (the leak found grew 854 MB over 300). */
const RSS_GROWTH_BOUND = 64 * 2 ** 20;

let table: SourceTable;
let redis: PrivateRedis;

beforeAll(async () => {
  [table, redis] = await Promise.all([SourceTable.create(), PrivateRedis.start()]);
});

afterAll(async () => {
  await stopAll();
  await table?.drop();
});

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m![1]) * 1024;
}

interface Readyz {
  cache: { residentBytes: number; residentSegments: number; coreMemoryBytes: number };
}

it(`${SWAPS} swaps of a 3 MB audience under checks: RSS and WASM memory stay bounded`, async () => {
  const aud = newAudienceId();
  const base = denseBitmap(CONTAINERS, 7);
  await table.put(aud, 20260101, 0, base.bytes);
  const daemon: Served = await serve(
    table.env({
      REDIS_URL: redis.url,
      BITSYNC_RETAIN_VERSIONS: String(RETAIN),
      BITSYNC_SEGMENT_BITS: String(SEGMENT_BITS),
    }),
  );
  const pid = daemon.run.child.pid!;
  let current: DenseBitmap = base;
  const versions = new Map<number, DenseBitmap>();
  versions.set((await adminSync(daemon.url, aud)).body.version, base);

  // Checks against the daemon for the whole soak, each answer checked against its version's bits.
  let stop = false;
  const wrong: unknown[] = [];
  let checks = 0;
  const check = async (bit: number) => {
    const a = await http<{ version: number; member: boolean }>(`${daemon.url}/v1/audiences/${aud}/contains?bit=${bit}`);
    checks++;
    const expected = versions.get(a.body.version);
    if (a.status !== 200 || !expected || expected.has(bit) !== a.body.member) {
      if (wrong.length < 5) wrong.push({ bit, status: a.status, body: a.body });
    }
  };
  const loaders = Array.from({ length: 3 }, async (_, n) => {
    for (let i = n; !stop; i += 3) await check((i * 2654435761) % (CONTAINERS * 65536));
  });

  const samples: { swap: number; rss: number; core: number; resident: number }[] = [];
  const sample = async (swap: number) => {
    const r = await http<Readyz>(`${daemon.url}/readyz`);
    samples.push({
      swap,
      rss: rssBytes(pid),
      core: r.body.cache.coreMemoryBytes,
      resident: r.body.cache.residentBytes,
    });
  };
  for (let swap = 1; swap <= SWAPS; swap++) {
    // Flips in every container: every segment of the new version differs from the last.
    const flips = Array.from({ length: CONTAINERS }, (_, c) => c * 65536 + ((swap * 7919) % 65536));
    current = flipped(current, flips);
    await table.put(aud, 20260101 + swap, 0, current.bytes);
    // Known before the swap: checks may be answered from it before the sync's answer arrives.
    versions.set(swap + 1, current);
    const res = await adminSync(daemon.url, aud);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.version).toBe(swap + 1);
    versions.delete(swap - RETAIN - 1);
    // One check in every segment: each version is loaded whole, so without the cache's pruning
    // the resident bytes would grow with the swaps up to the budget.
    await Promise.all(Array.from({ length: SEGMENTS }, (_, seg) => check(seg * 2 ** SEGMENT_BITS + swap)));
    if (swap % 10 === 0) await sample(swap);
  }
  stop = true;
  await Promise.all(loaders);
  await stopServe(daemon);

  const mb = (b: number) => Math.round(b / 2 ** 20);
  console.log(
    `soak: ${SWAPS} swaps, ${checks} checks; MB (swap rss core resident): ` +
      samples.map((s) => `${s.swap} ${mb(s.rss)} ${mb(s.core)} ${mb(s.resident)}`).join(" | "),
  );
  expect(wrong, "answers that do not match their version").toEqual([]);
  const warm = samples.find((s) => s.swap >= WARMUP)!;
  const last = samples.at(-1)!;
  expect(last.rss - warm.rss, `RSS growth after swap ${warm.swap}, bytes`).toBeLessThan(RSS_GROWTH_BOUND);
  expect(last.core - warm.core, `WASM memory growth after swap ${warm.swap}, bytes`).toBeLessThan(RSS_GROWTH_BOUND);
  // The retained versions share most segments with nothing: at most RETAIN + 1 versions resident.
  expect(last.resident, "resident bytes").toBeLessThanOrEqual((RETAIN + 1) * base.bytes.length * 1.1);
});
