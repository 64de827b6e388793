// The suites that talk to real servers read their addresses from the environment that
// scripts/test.sh exports. A missing variable fails the suite: CI must never skip them.
import { randomBytes } from "node:crypto";

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
