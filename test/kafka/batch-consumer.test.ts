// BatchConsumer against the mock cluster: every message reaches the handler, and a batch is committed
// only once its handler resolved; retriable failures are retried in place with backoff.
import type { KafkaMessage } from "kafkajs";
import { describe, expect, it } from "vitest";
import { BitsyncError } from "../../orchestrator/errors.js";
import { BatchConsumer, type BatchConsumerOptions } from "../../orchestrator/kafka/batch-consumer.js";
import { uniqueName, waitFor } from "../helpers/stack.js";
import { GROUP_TIMING, asRecord, committedOffsets, kafkaFixture, endOffsets, testLog } from "./helpers.js";

/** Redis timed out, say: worth retrying. */
class Transient extends BitsyncError {
  override readonly retriable = true;
}
/** A failure retrying in place does not fix. */
class Broken extends BitsyncError {}

const { kafka, admin, publisher, consumers } = kafkaFixture();

function consumer(options: Pick<BatchConsumerOptions, "groupId" | "topic" | "handle"> & Partial<BatchConsumerOptions>) {
  const c = new BatchConsumer({
    kafka,
    fromBeginning: true,
    retry: { initialMs: 100, maxMs: 1000 },
    log: testLog,
    ...GROUP_TIMING,
    ...options,
  });
  consumers.push(c);
  return c;
}

const text = (m: KafkaMessage): string => `${m.key?.toString()}=${m.value?.toString()}`;

async function committedEqualsEnd(groupId: string, topic: string): Promise<true | undefined> {
  const [committed, end] = await Promise.all([committedOffsets(admin, groupId, topic), endOffsets(admin, topic)]);
  return JSON.stringify(asRecord(committed)) === JSON.stringify(asRecord(end)) ? true : undefined;
}

describe("BatchConsumer", () => {
  it("commits a batch only after its handler resolved", async () => {
    const topic = uniqueName("bc");
    const groupId = uniqueName("g");
    const n = 200;
    const sent = Array.from({ length: n }, (_, i) => `k${i}=v${i}`);
    await publisher.publish(
      topic,
      sent.map((s) => ({ key: s.split("=")[0]!, value: s.split("=")[1]! })),
    );

    // 1. The handler fails (non-retriable) on every batch: kafkajs redelivers, nothing is committed.
    const failed: string[] = [];
    const a = consumer({
      groupId,
      topic,
      kafkaRetry: { retries: 1, initialRetryTime: 100 },
      handle: async (batch) => {
        failed.push(`${batch.partition}@${batch.messages[0]!.offset}`);
        throw new Broken("the mapping store is gone");
      },
    });
    await a.start();
    await waitFor("the same batch delivered twice", () => (new Set(failed).size < failed.length ? true : undefined));
    await a.stop();
    expect(asRecord(await committedOffsets(admin, groupId, topic))).toEqual({});

    // 2. A new member of the same group gets all of them again; its handler resolves and it commits.
    const got: string[] = [];
    const b = consumer({
      groupId,
      topic,
      handle: async (batch) => {
        for (const m of batch.messages) got.push(text(m));
      },
    });
    await b.start();
    await waitFor("every message again", () => (got.length >= n ? true : undefined));
    await waitFor("commits up to the end of every partition", () => committedEqualsEnd(groupId, topic));
    await b.stop();
    expect([...got].sort()).toEqual([...sent].sort());

    // 3. The next member of the group gets nothing old: only what is published after.
    const later: string[] = [];
    const c = consumer({
      groupId,
      topic,
      handle: async (batch) => {
        for (const m of batch.messages) later.push(text(m));
      },
    });
    await c.start();
    await publisher.publish(topic, [{ key: "marker", value: "new" }]);
    await waitFor("the new message", () => (later.includes("marker=new") ? true : undefined));
    await c.stop();
    expect(later).toEqual(["marker=new"]);
  });

  it("retries a batch whose handler failed with a retriable error, with backoff, then commits it", async () => {
    const topic = uniqueName("bc");
    const groupId = uniqueName("g");
    const n = 50;
    // One key: one partition, so one batch.
    await publisher.publish(
      topic,
      Array.from({ length: n }, (_, i) => ({ key: "same", value: `v${i}` })),
    );
    const calls: { at: number; partition: number; first: string; size: number }[] = [];
    const handled: string[] = [];
    const c = consumer({
      groupId,
      topic,
      retry: { initialMs: 200, maxMs: 500 },
      handle: async (batch) => {
        calls.push({
          at: performance.now(),
          partition: batch.partition,
          first: batch.messages[0]!.offset,
          size: batch.messages.length,
        });
        if (calls.length <= 3) throw new Transient("redis timed out");
        for (const m of batch.messages) handled.push(m.value!.toString());
      },
    });
    await c.start();
    await waitFor("every message handled", () => (handled.length >= n ? true : undefined));
    await waitFor("the batch committed", () => committedEqualsEnd(groupId, topic));
    await c.stop();

    // The same batch, four times: three failures, then success.
    expect(calls.length).toBeGreaterThanOrEqual(4);
    const [first, ...retries] = calls.slice(0, 4);
    for (const r of retries)
      expect([r.partition, r.first, r.size]).toEqual([first!.partition, first!.first, first!.size]);
    // Backoff: 200, 400, then capped at 500 ms, each jittered down to no less than half.
    const gaps = calls.slice(1, 4).map((x, i) => x.at - calls[i]!.at);
    expect(gaps[0]).toBeGreaterThanOrEqual(95);
    expect(gaps[1]).toBeGreaterThanOrEqual(195);
    expect(gaps[2]).toBeGreaterThanOrEqual(245);
    for (const g of gaps) expect(g).toBeLessThan(2000);
    expect(handled).toEqual(Array.from({ length: n }, (_, i) => `v${i}`));
  });
});
