// MariaDB killed (SIGKILL) and frozen (SIGSTOP) while a sync reads a large audience (20M members:
// its read through the emulated StarRocks functions takes seconds): `bitsync sync` fails with its
// reason and exits promptly after the error; `bitsync serve` and `bitsync sync` stuck on a frozen
// MariaDB stop within their shutdown deadline on SIGTERM or SIGINT, and at once on a second signal.
import type mysql from "mysql2/promise";
import type { RowDataPacket } from "mysql2/promise";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { SourceTable, newAudienceId } from "../helpers/audience.js";
import { waitFor } from "../helpers/stack.js";
import { denseBitmap } from "./helpers/bitmaps.js";
import { expectStopped, FAST, serve, SHUTDOWN_MS, SLACK_MS } from "./helpers/daemon.js";
import { alive, cli, exitWithin, sleep, stopAll, tail, type Cli } from "./helpers/procs.js";
import { PrivateMariaDb, PrivateRedis } from "./helpers/servers.js";

let db: PrivateMariaDb;
let redis: PrivateRedis;
let table: SourceTable;
const BIG = newAudienceId();
const READ = "bitmap_to_base64"; // in the statement of the read, not in that of the latest date

beforeAll(async () => {
  [db, redis] = await Promise.all([PrivateMariaDb.start(), PrivateRedis.start()]);
  table = await SourceTable.create(db.url);
  const big = denseBitmap(611, 3); // 20.0M members, 5 MB
  expect(big.cardinality).toBeGreaterThan(20_000_000);
  await table.put(BIG, 20260101, 0, big.bytes, big.cardinality);
  table.conn.destroy(); // the server is killed below: nothing to close politely
}, 120_000);

beforeEach(async () => {
  // An empty Redis: no sync lock or version of an earlier test's process is left.
  await Promise.all([db.ensureRunning(), redis.restartEmpty()]);
  // A read whose client is gone still runs in the server (for seconds; a KILL only lands between
  // statements): restart the server, so the next test finds its own read and a server not busy.
  const conn = await db.connect();
  const reads = await readsInServer(conn).finally(() => conn.end());
  if (reads.length > 0) await db.restart();
});

afterAll(stopAll);

/** The starrocks dialect: the source computes bitmap_to_base64 and bitmap_count (emulated, slow). */
const env = (extra: Record<string, string> = {}) =>
  table.env({
    ...FAST,
    REDIS_URL: redis.url,
    BITSYNC_SOURCE_DIALECT: "starrocks",
    BITSYNC_SOURCE_COUNT_COLUMN: "-",
    ...extra,
  });

/** Threads running a read of the audience (or ending one after a KILL). */
async function readsInServer(conn: mysql.Connection): Promise<number[]> {
  const [rows] = await conn.query<RowDataPacket[]>(
    "SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE ? AND ID <> CONNECTION_ID()",
    [`%${READ}%`],
  );
  return rows.map((r) => Number(r.ID));
}

/** Waits until `run`'s read of the large audience runs in MariaDB (beforeEach left none running). */
async function readRunning(run: Cli): Promise<void> {
  const conn = await db.connect();
  try {
    await waitFor(
      "the read of the large audience to run in MariaDB",
      async () => {
        if (!alive(run.child)) throw new Error(`it exited before reading:\n${tail(run.stderr())}`);
        return (await readsInServer(conn)).length > 0 ? true : undefined;
      },
      30_000,
    );
  } finally {
    conn.destroy(); // no round trip: the server may be frozen next
  }
}

const stderrLines = (stderr: string) => stderr.trimEnd().split("\n");

/** A sync of the large audience, once its read runs in MariaDB. */
async function syncReading(extra: Record<string, string> = {}): Promise<Cli> {
  const run = cli(["sync", BIG, "--force"], env(extra));
  await readRunning(run);
  return run;
}

describe("bitsync sync reading a large audience", () => {
  it("MariaDB killed: fails with the reason and exits within seconds (no timer keeps it)", async () => {
    // A query timeout far beyond the deadline: a timer left running would hold the process.
    const run = await syncReading({ BITSYNC_SOURCE_QUERY_TIMEOUT_MS: "60000" });
    await db.kill();
    const exit = await exitWithin(run, 5000, "bitsync sync after its MariaDB was killed");
    expect(exit.code).not.toBe(0);
    expect(stderrLines(exit.stderr), "stderr: one line with the reason").toEqual([
      expect.stringMatching(/^bitsync sync: \S/),
    ]);
  });

  it("MariaDB frozen: fails when BITSYNC_SOURCE_QUERY_TIMEOUT_MS passes, and exits", async () => {
    const run = await syncReading(); // BITSYNC_SOURCE_QUERY_TIMEOUT_MS=5000
    db.freeze();
    const exit = await exitWithin(run, 5000 + SLACK_MS, "bitsync sync reading from a frozen MariaDB");
    expect(exit.code).not.toBe(0);
    expect(stderrLines(exit.stderr), "stderr: one line with the reason").toEqual([
      expect.stringMatching(/^bitsync sync: \S/),
    ]);
  });
});

// The query timeout is far away: only the shutdown (or its deadline) can end these.
const STUCK = { BITSYNC_SOURCE_QUERY_TIMEOUT_MS: "60000", BITSYNC_LOG_LEVEL: "info" };

describe.each(["SIGTERM", "SIGINT"] as const)("%s with MariaDB frozen mid-read", (signal) => {
  it("bitsync serve with a scheduled sync stops within its shutdown deadline", async () => {
    const daemon = await serve(env({ ...STUCK, BITSYNC_AUDIENCES: `${BIG}:3600` }));
    await readRunning(daemon.run);
    db.freeze();
    daemon.run.child.kill(signal);
    const exit = await exitWithin(daemon.run, SHUTDOWN_MS + SLACK_MS, `bitsync serve after ${signal}`);
    expectStopped(exit, "bitsync serve");
  });

  it("bitsync sync stops within its shutdown deadline", async () => {
    const run = await syncReading(STUCK);
    db.freeze();
    run.child.kill(signal);
    const exit = await exitWithin(run, SHUTDOWN_MS + SLACK_MS, `bitsync sync after ${signal}`);
    expectStopped(exit, "bitsync sync");
  });
});

describe("a second signal", () => {
  it("makes bitsync sync, stuck on a frozen MariaDB, exit at once, non-zero", async () => {
    const run = await syncReading(STUCK);
    db.freeze();
    run.child.kill("SIGTERM");
    await sleep(500);
    if (!alive(run.child)) return; // the first signal ended it at once: nothing to cut short
    run.child.kill("SIGINT");
    const exit = await exitWithin(run, 2000, "bitsync sync after a second signal");
    expect(exit.code, "exit code after a second signal").not.toBe(0);
  });
});
