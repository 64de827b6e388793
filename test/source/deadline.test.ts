// A read that the server does not answer (its table locked by another session) ends at the
// query deadline or at close(), whichever comes first, and leaves no timer behind to hold the
// process: the deadline is the source's own, cleared with the query.
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SourceClosedError, SourceError } from "../../orchestrator/source/errors.js";
import { createBitmapSource } from "../../orchestrator/source/reader.js";
import { SourceTable } from "../helpers/audience.js";

const silent = pino({ level: "silent" });
let table: SourceTable;

beforeAll(async () => {
  table = await SourceTable.create();
  await table.put("7", 20261201, 0, [1, 2, 3]);
});
afterAll(async () => {
  await table.drop();
});

function source(queryTimeoutMs: number) {
  const env = table.env();
  return createBitmapSource(
    {
      url: process.env.MYSQL_URL!,
      dialect: "mysql",
      table: env.BITSYNC_SOURCE_TABLE!,
      countColumn: "cnt",
      queryTimeoutMs,
    },
    silent,
  );
}

const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;

/** Runs `fn` while another session holds a write lock on the table: reads of it wait. */
async function whileLocked<T>(fn: () => Promise<T>): Promise<T> {
  await table.conn.query(`LOCK TABLES ${table.name} WRITE`);
  try {
    return await fn();
  } finally {
    await table.conn.query("UNLOCK TABLES");
  }
}

describe("the source's query deadline", () => {
  it("fails a read the server does not answer, names the setting, and leaves no timer", async () => {
    const s = source(400);
    try {
      expect((await s.read("7", 20261201)).rows).toHaveLength(1); // the pool's first connection is made
      const before = timers();
      const err = await whileLocked(() => s.read("7", 20261201).catch((e: unknown) => e));
      expect(err).toBeInstanceOf(SourceError);
      expect((err as SourceError).retriable).toBe(true);
      expect((err as Error).message).toMatch(/no answer within BITSYNC_SOURCE_QUERY_TIMEOUT_MS=400 ms/);
      expect(timers()).toBeLessThanOrEqual(before);
      // The dropped connection is replaced: the next read works.
      expect((await s.read("7", 20261201)).rows).toHaveLength(1);
    } finally {
      await s.close();
    }
  });

  it("close() ends a read in flight at once, with a reason of its own", async () => {
    const s = source(300_000);
    const before = timers();
    try {
      const err = await whileLocked(async () => {
        const reading = s.read("7", 20261201).catch((e: unknown) => e);
        await new Promise((r) => setTimeout(r, 200));
        await s.close();
        return reading;
      });
      expect(err).toBeInstanceOf(SourceClosedError);
      expect((err as Error).message).toMatch(/source was closed/);
      // Nothing of the 300 s deadline is left running.
      expect(timers()).toBeLessThanOrEqual(before);
    } finally {
      await s.close();
    }
  });
});
