// Test namespaces of the ID mapping: each test maps into a namespace of its own, removed after.
import type { Redis } from "ioredis";
import { IdMapper } from "../../orchestrator/mapping/mapper.js";

const RULES = { maxBytes: 64, pattern: /^[\x21-\x7e]+$/u };

/** Deletes every key of each namespace. */
export async function clearNamespaces(redis: Redis, namespaces: readonly string[]): Promise<void> {
  for (const namespace of namespaces) {
    await new IdMapper(redis, { groups: 1, rules: RULES, batchSize: 1, cacheEntries: 0, namespace }).clear();
  }
}
