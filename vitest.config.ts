import { configDefaults, defineConfig } from "vitest/config";

/** Audience suites that also run against the Redis Cluster (test/helpers/stack.ts redisTarget). */
const CLUSTER_SUITES = [
  "test/sync/sync.test.ts",
  "test/sync/crash.test.ts",
  "test/sync/cli.test.ts",
  "test/cache/versions.test.ts",
  "test/serve/api.test.ts",
];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Suites that need the stack get it from scripts/test.sh; they fail, not skip, without it.
    pool: "forks",
    // `npx vitest run` runs every project; `--project unit`, `cluster` or `fault` one of them.
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["test/**/*.test.ts"],
          exclude: [...configDefaults.exclude, "test/fault/**"],
          sequence: { groupOrder: 0 },
        },
      },
      {
        // The audience suites again, on the stack's Redis Cluster (REDIS_CLUSTER_NODES): REDIS_URL
        // points at a port nothing listens on, so anything still using it fails.
        extends: true,
        test: {
          name: "cluster",
          include: CLUSTER_SUITES,
          env: { BITSYNC_TEST_REDIS: "cluster", REDIS_URL: "redis://127.0.0.1:1" },
          sequence: { groupOrder: 0 },
        },
      },
      {
        // Real processes killed, frozen and signalled, with private servers (test/fault/helpers).
        // They measure process behaviour on a small machine: one file at a time, after the unit
        // project is done, so nothing else competes for the cores.
        extends: true,
        test: {
          name: "fault",
          include: ["test/fault/**/*.test.ts"],
          fileParallelism: false,
          sequence: { groupOrder: 1 },
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
