#!/usr/bin/env node
// The bitsync command line. Subcommands stay thin: each one calls into a module that does the work.
import { spawnSync } from "node:child_process";
import cluster from "node:cluster";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Command, InvalidArgumentError } from "commander";
import { configFromEnv, describeConfig } from "../config/config.js";
import { runCoreDemo } from "../demo/core-demo.js";
import { runPipelineDemo } from "../demo/pipeline-demo.js";
import { positiveInt } from "./args.js";
import { registerAudienceCommands } from "./audience.js";
import { registerInspect } from "./inspect.js";
import { registerMapCommands } from "./map.js";
import { registerMapKafkaCommands } from "./map-kafka.js";
import { BitsyncError } from "../errors.js";
import { logger, rootLogger } from "../log.js";
import { runPrimary, WORKER_READY, workerId } from "../serve/cluster.js";
import { startDaemon } from "../serve/daemon.js";
import { exitNow, Shutdown } from "../runtime/shutdown.js";

// Compiled (dist/orchestrator/cli) and source (orchestrator/cli) sit at different depths.
const STACK_SCRIPT = ["../../../scripts/stack.sh", "../../scripts/stack.sh"]
  .map((rel) => fileURLToPath(new URL(rel, import.meta.url)))
  .find((path) => existsSync(path));

const program = new Command()
  .name("bitsync")
  .description("Audience bitmaps from StarRocks, synced to Redis, served as membership checks")
  // Failures are one line (the reason); `--help` shows usage.
  .showHelpAfterError(false);

program
  .command("stack")
  .description("manage the local stack of real servers (Redis, MariaDB, Kafka mock) for tests and demos")
  .argument("<action>", "up | down | env | status")
  .action((action: string) => {
    if (!["up", "down", "env", "status"].includes(action)) {
      throw new InvalidArgumentError(`unknown stack action "${action}": use up, down, env or status`);
    }
    if (!STACK_SCRIPT) throw new BitsyncError("scripts/stack.sh not found: run bitsync from its source tree");
    const res = spawnSync("bash", [STACK_SCRIPT, action], { stdio: "inherit" });
    process.exitCode = res.status ?? 1;
  });

program
  .command("config")
  .description("print every setting with its effective value and help")
  .action(() => {
    configFromEnv(); // validate first: a bad value fails here with the variable's name
    for (const line of describeConfig()) console.log(line);
  });

program
  .command("demo")
  .description(
    "demo: the WASM core, then the whole pipeline on the local stack (users -> mapping -> audiences -> sync -> daemon)",
  )
  .option("--members <n>", "audience size of the core demo", positiveInt, 1_000_000)
  .option("--space <n>", "bit space of the core demo", positiveInt, 100_000_000)
  .option("--seed <n>", "generator seed", positiveInt, 2026)
  .option("--users <n>", "users of the pipeline demo", positiveInt, 200_000)
  .option("--once", "answer each route once and stop, instead of serving until Ctrl-C", false)
  .option("--core-only", "only the WASM core demo (no stack needed)", false)
  .action(
    async (opts: { members: number; space: number; seed: number; users: number; once: boolean; coreOnly: boolean }) => {
      const config = configFromEnv();
      const print = (l: string): void => console.log(l);
      print("== WASM core");
      runCoreDemo({
        members: opts.members,
        space: opts.space,
        seed: opts.seed,
        segmentBits: config.segmentBits,
        print,
      });
      if (!opts.coreOnly) {
        print("\n== the pipeline: users -> ID mapping -> audiences -> sync -> serving");
        rootLogger(process.env.BITSYNC_LOG_LEVEL ?? "warn");
        await runPipelineDemo({ users: opts.users, once: opts.once, print, log: logger("demo") });
      }
    },
  );

program
  .command("serve")
  .description("the daemon: HTTP API, registration consumer and scheduled syncs (SIGTERM: drain, commit, close)")
  .option("--no-consumer", "do not run the registration consumer")
  .action(async (opts: { consumer: boolean }) => {
    const config = configFromEnv();
    rootLogger(config.logLevel);
    const log = logger("serve");
    if (config.httpWorkers > 1 && cluster.isPrimary) {
      await runPrimary(config, log);
      return;
    }
    const worker = workerId();
    // A worker hears its primary's SIGTERM; Ctrl-C's SIGINT reaches the worker and the primary
    // both, so the worker ignores it and lets the primary decide (a second one forwarded means now).
    if (worker) process.on("SIGINT", () => undefined);
    const shutdown = new Shutdown({
      log,
      timeoutMs: config.shutdownTimeoutMs,
      signals: worker ? ["SIGTERM"] : ["SIGTERM", "SIGINT"],
    });
    const starting = startDaemon(config, log, { consumer: opts.consumer, ...(worker ? { worker } : {}) });
    const first = await Promise.race([starting, shutdown.signalled()]);
    if (typeof first !== "string" && worker) process.send!({ type: WORKER_READY });
    await shutdown.signalled();
    // A stop during startup waits for it too, under the same deadline.
    await shutdown.run(async (step) => (await step("starting up", starting)).stop(step));
    // A worker's IPC channel to the primary would keep it alive.
    if (worker) process.disconnect();
    // What a dead broker's client left running (reconnect timers) must not hold the exit.
    exitNow(0);
  });

registerAudienceCommands(program);
registerInspect(program);
const map = program.command("map").description("the ID mapping: uid <-> bit");
registerMapCommands(map);
registerMapKafkaCommands(map);

try {
  await program.parseAsync();
} catch (err) {
  if (err instanceof BitsyncError || err instanceof InvalidArgumentError) {
    console.error(`bitsync: ${err.message}`);
    process.exitCode = 2;
    // A serve worker's IPC channel would keep it alive (and a disconnect exits with 0).
    if (cluster.isWorker) process.exit(2);
  } else {
    throw err;
  }
}
