// Half-open sockets against `bitsync serve`: clients that never finish their request line, headers
// or declared body are cut off by BITSYNC_HTTP_HEADERS_TIMEOUT_MS / BITSYNC_HTTP_REQUEST_TIMEOUT_MS
// while normal checks keep being answered; past BITSYNC_HTTP_MAX_CONNECTIONS a connection is closed
// at once, and the daemon serves again once the crowd is gone.
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SourceTable, newAudienceId } from "../helpers/audience.js";
import { FAST, http, serve, settle, stopServe, type Served } from "./helpers/daemon.js";
import { cli, exitWithin, sleep, stopAll } from "./helpers/procs.js";
import { PrivateRedis } from "./helpers/servers.js";

let table: SourceTable;
let redis: PrivateRedis;
const AUD = newAudienceId();
const MEMBERS = [1, 2, 3, 100, 5000];

beforeAll(async () => {
  [table, redis] = await Promise.all([SourceTable.create(), PrivateRedis.start()]);
  await table.put(AUD, 20260101, 0, MEMBERS);
  const run = await exitWithin(cli(["sync", AUD], env()), 60_000, "bitsync sync");
  expect(run.code, run.stderr).toBe(0);
});

afterAll(async () => {
  await stopAll();
  await table?.drop();
});

const env = (extra: Record<string, string> = {}) => table.env({ ...FAST, REDIS_URL: redis.url, ...extra });

interface Client {
  socket: Socket;
  connected: boolean;
  /** ms after the start when the socket closed (undefined: still open). */
  closedAt?: number;
}

/** A raw TCP connection that sends `bytes` and then nothing more. */
function open(url: string, bytes: string, started: number): Promise<Client> {
  const { port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port: Number(port) });
    const client: Client = { socket, connected: false };
    socket.on("error", () => undefined); // a reset counts as closed
    socket.on("close", () => {
      client.closedAt = Date.now() - started;
      resolve(client);
    });
    socket.on("data", () => undefined); // a 408 or 503 before the close is fine
    socket.on("connect", () => {
      client.connected = true;
      if (bytes) socket.write(bytes);
      resolve(client);
    });
  });
}

/** Normal checks, one after another, until `stop()`; returns the ones that were not right. */
function checking(d: Served): { stop(): Promise<unknown[]>; count(): number } {
  const wrong: unknown[] = [];
  let n = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const bit = MEMBERS[n % MEMBERS.length]! + (n % 2);
      try {
        const a = await http<{ member: boolean }>(`${d.url}/v1/audiences/${AUD}/contains?bit=${bit}`, {
          timeoutMs: 2000,
        });
        if (a.status !== 200 || a.body.member !== MEMBERS.includes(bit)) wrong.push({ bit, ...a });
      } catch (err) {
        wrong.push({ bit, error: String(err) });
      }
      n++;
      await sleep(20);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return wrong;
    },
    count: () => n,
  };
}

const path = `/v1/audiences/${AUD}/contains`;
/** 200 requests that never end: a partial request line, partial headers, a partial declared body. */
const HALF_OPEN = [
  ...Array.from({ length: 50 }, () => "GET /v1/audi"),
  ...Array.from({ length: 50 }, () => `GET ${path}?bit=1 HTTP/1.1\r\nHost: x\r\n`),
  ...Array.from({ length: 50 }, () => ""),
  ...Array.from(
    { length: 50 },
    () =>
      `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"bits":[1,`,
  ),
];

describe("half-open sockets", () => {
  it("are all closed within seconds of the HTTP timeouts, while checks keep being answered", async () => {
    const daemon = await serve(
      env({ BITSYNC_HTTP_HEADERS_TIMEOUT_MS: "1000", BITSYNC_HTTP_REQUEST_TIMEOUT_MS: "2000" }),
    );
    const checks = checking(daemon);
    const started = Date.now();
    const clients = await Promise.all(HALF_OPEN.map((bytes) => open(daemon.url, bytes, started)));
    expect(clients.filter((c) => c.connected).length, "connections accepted").toBe(HALF_OPEN.length);
    // Headers within 1 s, the whole request within 2 s: a few seconds more at most, not minutes.
    await settle(
      8000,
      async () => clients.filter((c) => c.closedAt === undefined).length,
      (open) => open === 0,
    );
    const wrong = await checks.stop();
    const still = clients.flatMap((c, i) => (c.closedAt === undefined ? [JSON.stringify(HALF_OPEN[i])] : []));
    for (const c of clients) c.socket.destroy();
    expect(still, `half-open connections still open 8 s later (${still.length})`).toEqual([]);
    expect(wrong, "checks during the attack").toEqual([]);
    expect(checks.count(), "checks answered during the attack").toBeGreaterThan(10);
    await stopServe(daemon);
  });

  it("past BITSYNC_HTTP_MAX_CONNECTIONS a connection is closed at once; serving resumes after", async () => {
    const daemon = await serve(
      env({
        BITSYNC_HTTP_MAX_CONNECTIONS: "50",
        BITSYNC_HTTP_HEADERS_TIMEOUT_MS: "30000",
        BITSYNC_HTTP_REQUEST_TIMEOUT_MS: "60000",
      }),
    );
    // No fetch has run against this daemon yet (serve() waits on its log): these are all its connections.
    const started = Date.now();
    const first = await Promise.all(Array.from({ length: 50 }, () => open(daemon.url, "", started)));
    await sleep(300);
    expect(first.filter((c) => c.closedAt !== undefined).length, "of the first 50 closed").toBe(0);
    const extra = await Promise.all(Array.from({ length: 10 }, () => open(daemon.url, "GET /", Date.now())));
    await settle(
      1000,
      async () => extra.filter((c) => c.closedAt === undefined).length,
      (open) => open === 0,
    );
    const extraOpen = extra.filter((c) => c.closedAt === undefined).length;
    const firstClosed = first.filter((c) => c.closedAt !== undefined).length;
    for (const c of [...first, ...extra]) c.socket.destroy();
    expect(extraOpen, "connections 51..60 still open 1 s after connecting").toBe(0);
    expect(firstClosed, "of the first 50 closed meanwhile").toBe(0);
    const after = await settle(
      5000,
      () => http(`${daemon.url}/v1/audiences/${AUD}/contains?bit=100`, { timeoutMs: 2000 }),
      (a) => a.status === 200,
    );
    expect(after).toMatchObject({ status: 200, body: { member: true } });
    await stopServe(daemon);
  });
});
