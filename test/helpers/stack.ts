// The suites that talk to real servers read their addresses from the environment that
// scripts/test.sh exports. A missing variable fails the suite: CI must never skip them.
import { randomBytes } from "node:crypto";
import { Cluster, Redis } from "ioredis";
import { serversOf, type RedisLike } from "../../orchestrator/redis/cluster.js";

export function stackEnv(): {
  redisUrl: string;
  mysqlUrl: string;
  kafkaBrokers: string[];
  redisClusterNodes: string[];
} {
  const missing = ["REDIS_URL", "MYSQL_URL", "KAFKA_BROKERS", "BITSYNC_STACK_CLUSTER_NODES"].filter(
    (k) => !process.env[k],
  );
  if (missing.length > 0) {
    throw new Error(
      `${missing.join(", ")} not set: run the tests with \`npm test\`, which starts the local stack, ` +
        `or \`eval "$(bash scripts/stack.sh env)"\` first`,
    );
  }
  return {
    redisUrl: process.env.REDIS_URL!,
    mysqlUrl: process.env.MYSQL_URL!,
    kafkaBrokers: process.env.KAFKA_BROKERS!.split(","),
    redisClusterNodes: process.env.BITSYNC_STACK_CLUSTER_NODES!.split(","),
  };
}

/** A name no other test run uses: topics, groups, tables and keys get one each. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`;
}

/** Polls until `check` returns a value, or fails with `what` after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Which Redis the audience suites run on: "single" (REDIS_URL) or "cluster" (the stack's Redis
 * Cluster), set by the vitest project (BITSYNC_TEST_REDIS): the same suites run on both.
 */
export function redisTarget(): "single" | "cluster" {
  return process.env.BITSYNC_TEST_REDIS === "cluster" ? "cluster" : "single";
}

/** The environment that points bitsync at the suite's Redis (REDIS_CLUSTER_NODES set or cleared). */
export function redisTargetEnv(): Record<string, string> {
  return { REDIS_CLUSTER_NODES: redisTarget() === "cluster" ? stackEnv().redisClusterNodes.join(",") : "" };
}

/** A plain client of the suite's Redis, for the tests' own looks at keys. */
export function testRedis(): RedisLike {
  const env = stackEnv();
  if (redisTarget() === "single") return new Redis(env.redisUrl);
  return new Cluster(
    env.redisClusterNodes.map((n) => ({ host: n.split(":")[0]!, port: Number(n.split(":")[1]) })),
    { scaleReads: "master" },
  );
}

/** SCRIPT FLUSH on every server: the next script call must load its script again. */
export async function flushScripts(redis: RedisLike): Promise<void> {
  await Promise.all(serversOf(redis).map((s) => s.script("FLUSH")));
}

/** Commands processed by every server so far (INFO stats). */
export async function commandsProcessed(redis: RedisLike): Promise<number> {
  let total = 0;
  for (const s of serversOf(redis)) total += Number(/total_commands_processed:(\d+)/.exec(await s.info("stats"))![1]);
  return total;
}
