import { configDefaults, defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Suites that need the stack get it from scripts/test.sh; they fail, not skip, without it.
    pool: "forks",
    // `npx vitest run` runs both projects; `--project unit` or `--project fault` one of them.
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
