// Half-open sockets against a real daemon: past BITSYNC_HTTP_MAX_CONNECTIONS a connection is closed
// at once, and the daemon serves on after. (The header and request deadlines against 200 half-open
// sockets are still to come: with the daemon, half of them were not closed; see the session note.)
import { connect, type Socket } from "node:net";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDaemon, type Daemon } from "../../orchestrator/serve/daemon.js";
import { SourceTable } from "../helpers/audience.js";
import { uniqueName, waitFor } from "../helpers/stack.js";

let table: SourceTable;
beforeAll(async () => {
  table = await SourceTable.create();
});
afterAll(async () => {
  await table.drop();
});

async function daemon(extra: Record<string, string>): Promise<Daemon> {
  const config = table.config({
    BITSYNC_HTTP_HOST: "127.0.0.1",
    BITSYNC_HTTP_PORT: "0",
    BITSYNC_MAP_NAMESPACE: uniqueName("slow"),
    REDIS_CLUSTER_NODES: "",
    ...extra,
  });
  return startDaemon(config, pino({ level: "silent" }), { consumer: false, defaultMetrics: false });
}

/** Opens a socket that sends `first` and then nothing; counts it closed when the server ends it. */
function halfOpen(url: string, first: string, closed: { n: number }): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(port), hostname, () => {
      s.write(first);
      resolve(s);
    });
    s.on("error", () => undefined); // a reset is a close too
    s.on("close", () => closed.n++);
    s.once("error", reject);
  });
}

describe("slow clients", () => {
  it("connections past BITSYNC_HTTP_MAX_CONNECTIONS are closed at once; serving goes on after", async () => {
    const d = await daemon({ BITSYNC_HTTP_MAX_CONNECTIONS: "50", BITSYNC_HTTP_HEADERS_TIMEOUT_MS: "60000" });
    const closed = { n: 0 };
    const sockets: Socket[] = [];
    try {
      for (let i = 0; i < 80; i++) sockets.push(await halfOpen(d.url, "GET /healthz HTTP/1.1\r\n", closed));
      await waitFor("the 30 past the cap to be closed", () => (closed.n >= 30 ? true : undefined), 10_000);
      await new Promise((r) => setTimeout(r, 300));
      expect(closed.n).toBe(30); // the 50 within the cap are held (their deadline is a minute away)
      for (const s of sockets) s.destroy();
      await waitFor("a request once the sockets are gone", async () =>
        (await fetch(`${d.url}/healthz`).catch(() => undefined))?.status === 200 ? true : undefined,
      );
    } finally {
      for (const s of sockets) s.destroy();
      await d.stop();
    }
  });
});
