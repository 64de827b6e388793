// Rebuilding the mapping from the downstream topic: every mapping {uid, corpId, bit} ever published
// (one per record, or arrays of them: publish.ts) is restored with its own bit. The topic is read
// from the beginning up to the end offsets it had when the rebuild started; bits are never moved,
// so a rebuild into a non-empty mapping only fills in what is missing and reports conflicts.
import type { Kafka } from "kafkajs";
import type { Logger } from "pino";
import { BitsyncError } from "../errors.js";
import { BatchConsumer } from "../kafka/batch-consumer.js";
import { readEntry, type IdRules } from "./ids.js";
import type { IdMapper, Mapping } from "./mapper.js";

export interface RebuildSummary {
  records: number;
  restored: number;
  unchanged: number;
  conflicts: Mapping[];
  /**
   * Mappings (records, or elements of an array record) that are not {uid, corpId, bit}: skipped,
   * with the first few reasons.
   */
  malformed: number;
  reasons: string[];
  seconds: number;
}

export interface RebuildOptions {
  kafka: Kafka;
  topic: string;
  mapper: IdMapper;
  rules: IdRules;
  log?: Logger;
  onProgress?: (done: number, total: number) => void;
}

export class RebuildError extends BitsyncError {}

/** One mapping object of a record, or why it is not one. */
function readMapping(v: unknown, rules: IdRules): Mapping | { reason: string } {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return { reason: "not a JSON object" };
  const o = v as Record<string, unknown>;
  const entry = readEntry(o.uid, o.corpId, rules);
  if ("reason" in entry) return entry;
  if (typeof o.bit !== "number") return { reason: `bit is ${o.bit === null ? "null" : typeof o.bit}, not a number` };
  // Past 2^53 JSON.parse has already rounded the number: saying which it was would print another.
  if (!Number.isSafeInteger(o.bit) || o.bit < 0)
    return { reason: "bit is not an integer in 0 to 2^53 - 1 (a mapping's bits are dense)" };
  return { ...entry, bit: o.bit };
}

/**
 * The mappings of one record, in either downstream form (publish.ts): an object, or an array of
 * objects. Each malformed element is its own reason; the rest of the array is kept.
 */
function parseMappings(value: Buffer | null, rules: IdRules): (Mapping | { reason: string })[] {
  let v: unknown;
  try {
    v = JSON.parse(value?.toString("utf8") ?? "");
  } catch {
    return [{ reason: "not JSON" }];
  }
  if (!Array.isArray(v)) return [readMapping(v, rules)];
  if (v.length === 0) return [{ reason: "an empty array" }];
  return v.map((e, i) => {
    const m = readMapping(e, rules);
    return "reason" in m ? { reason: `element ${i}: ${m.reason}` } : m;
  });
}

export async function rebuildFromTopic(opts: RebuildOptions): Promise<RebuildSummary> {
  const started = performance.now();
  const admin = opts.kafka.admin();
  await admin.connect();
  let ends: Map<number, bigint>;
  try {
    const offsets = await admin.fetchTopicOffsets(opts.topic);
    ends = new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
  } catch (err) {
    throw new RebuildError(`cannot read the offsets of ${opts.topic}: ${(err as Error).message}`, { cause: err });
  } finally {
    await admin.disconnect();
  }
  const total = [...ends.values()].reduce((n, v) => n + Number(v), 0);
  const summary: RebuildSummary = {
    records: 0,
    restored: 0,
    unchanged: 0,
    conflicts: [],
    malformed: 0,
    reasons: [],
    seconds: 0,
  };
  const pending = new Set([...ends].filter(([, high]) => high > 0n).map(([p]) => p));
  if (pending.size === 0) return { ...summary, seconds: (performance.now() - started) / 1000 };

  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const consumer = new BatchConsumer({
    kafka: opts.kafka,
    groupId: `bitsync-rebuild-${Date.now()}-${process.pid}`,
    topic: opts.topic,
    fromBeginning: true,
    retry: { initialMs: 200, maxMs: 10_000 },
    ...(opts.log ? { log: opts.log } : {}),
    handle: async ({ partition, messages }) => {
      const end = ends.get(partition) ?? 0n;
      const mappings: Mapping[] = [];
      for (const msg of messages) {
        if (BigInt(msg.offset) >= end) continue; // published after the rebuild began
        summary.records++;
        for (const m of parseMappings(msg.value, opts.rules)) {
          if ("reason" in m) {
            summary.malformed++;
            if (summary.reasons.length < 10)
              summary.reasons.push(`partition ${partition} offset ${msg.offset}: ${m.reason}`);
          } else {
            mappings.push(m);
          }
        }
      }
      if (mappings.length > 0) {
        const res = await opts.mapper.restore(mappings);
        summary.restored += res.restored;
        summary.unchanged += res.unchanged;
        summary.conflicts.push(...res.conflicts);
      }
      opts.onProgress?.(summary.records, total);
      const last = messages[messages.length - 1];
      if (last && BigInt(last.offset) + 1n >= end) {
        pending.delete(partition);
        if (pending.size === 0) finish();
      }
    },
  });
  await consumer.start();
  try {
    await finished;
  } finally {
    await consumer.stop();
  }
  return { ...summary, seconds: (performance.now() - started) / 1000 };
}
