import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Suites that need the stack get it from scripts/test.sh; they fail, not skip, without it.
    pool: "forks",
  },
});
