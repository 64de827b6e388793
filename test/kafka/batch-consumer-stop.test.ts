// BatchConsumer's graceful stop: the batch in flight finishes and is committed (its handler may outlast
// the session timeout: the consumer heartbeats meanwhile); a batch waiting between retries is dropped
// uncommitted at once. And the backoff's arithmetic.
import { describe, expect, it } from "vitest";
import { BitsyncError } from "../../orchestrator/errors.js";
import { BatchConsumer } from "../../orchestrator/kafka/batch-consumer.js";
import { backoffDelay } from "../../orchestrator/util/backoff.js";
import { uniqueName, waitFor } from "../helpers/stack.js";
import { GROUP_TIMING, asRecord, committedOffsets, kafkaFixture, testLog } from "./helpers.js";

class Transient extends BitsyncError {
  override readonly retriable = true;
}

const { kafka, admin, publisher, consumers } = kafkaFixture();

describe("BatchConsumer.stop", () => {
  it("waits for a slow handler, then commits its batch", async () => {
    const topic = uniqueName("stop");
    const groupId = uniqueName("g");
    // One key: one partition, one batch.
    await publisher.publish(
      topic,
      Array.from({ length: 10 }, (_, i) => ({ key: "one", value: `v${i}` })),
    );
    const sessionTimeout = 4500;
    const events: string[] = [];
    let entered: { partition: number; last: string } | undefined;
    const c = new BatchConsumer({
      kafka,
      groupId,
      topic,
      fromBeginning: true,
      retry: { initialMs: 100, maxMs: 1000 },
      log: testLog,
      ...GROUP_TIMING,
      sessionTimeout,
      handle: async (batch) => {
        entered = { partition: batch.partition, last: batch.messages.at(-1)!.offset };
        events.push(`handling ${batch.messages.length}`);
        // Longer than the session: without heartbeats during the handler the group would drop this
        // member and the commit would fail (UNKNOWN_MEMBER_ID).
        await new Promise((r) => setTimeout(r, sessionTimeout + 1500));
        events.push("handled");
      },
    });
    consumers.push(c);
    await c.start();
    const batch = await waitFor("the handler to start", () => entered);
    await c.stop();
    events.push("stopped");

    expect(events).toEqual(["handling 10", "handled", "stopped"]);
    expect(batch.last).toBe("9");
    expect(asRecord(await committedOffsets(admin, groupId, topic))).toEqual({ [batch.partition]: "10" });
  });

  it("drops a batch waiting between retries at once, uncommitted", async () => {
    const topic = uniqueName("stop");
    const groupId = uniqueName("g");
    await publisher.publish(
      topic,
      Array.from({ length: 5 }, (_, i) => ({ key: "one", value: `v${i}` })),
    );
    let calls = 0;
    const c = new BatchConsumer({
      kafka,
      groupId,
      topic,
      fromBeginning: true,
      retry: { initialMs: 30_000, maxMs: 30_000 },
      log: testLog,
      ...GROUP_TIMING,
      handle: async () => {
        calls++;
        throw new Transient("redis timed out");
      },
    });
    consumers.push(c);
    await c.start();
    await waitFor("the first failure", () => (calls > 0 ? true : undefined));
    const t0 = performance.now();
    await c.stop();
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(calls).toBe(1);
    expect(asRecord(await committedOffsets(admin, groupId, topic))).toEqual({});
  });

  it("can be called before start and more than once", async () => {
    const c = new BatchConsumer({
      kafka,
      groupId: uniqueName("g"),
      topic: uniqueName("t"),
      retry: { initialMs: 1, maxMs: 1 },
      log: testLog,
      handle: async () => undefined,
    });
    await Promise.all([c.stop(), c.stop()]);
    await expect(c.start()).rejects.toThrow(/start\(\) can be called once/);
  });
});

describe("backoffDelay", () => {
  it("doubles from initialMs up to maxMs, jittered within [d/2, d]", () => {
    const retry = { initialMs: 100, maxMs: 1000 };
    expect([1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, retry, () => 1))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect([1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, retry, () => 0))).toEqual([50, 100, 200, 400, 500, 500]);
    expect(backoffDelay(60, retry, () => 0.5)).toBe(750);
  });

  it("rejects impossible retry settings", () => {
    const base = { kafka, groupId: "g", topic: "t", handle: async () => undefined, log: testLog };
    expect(() => new BatchConsumer({ ...base, retry: { initialMs: 0, maxMs: 10 } })).toThrow(RangeError);
    expect(() => new BatchConsumer({ ...base, retry: { initialMs: 10, maxMs: 5 } })).toThrow(RangeError);
    expect(() => new BatchConsumer({ ...base, retry: { initialMs: 1, maxMs: 5, maxAttempts: 0 } })).toThrow(RangeError);
  });
});
