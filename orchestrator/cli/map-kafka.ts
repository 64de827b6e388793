// `bitsync map consume | rebuild`: the ID mapping's Kafka side from the command line.
import type { Command } from "commander";
import { configFromEnv } from "../config/config.js";
import { logger, rootLogger } from "../log.js";
import { createMappingContext } from "../mapping/context.js";
import { rebuildFromTopic } from "../mapping/rebuild.js";
import { createRegistrationConsumer } from "../mapping/registrations.js";
import { exitNow, Shutdown } from "../runtime/shutdown.js";
import { withMapping } from "./map.js";

export function registerMapKafkaCommands(map: Command): void {
  map
    .command("consume")
    .description(
      "map new registrations from BITSYNC_REGISTRATION_TOPIC and publish them to BITSYNC_MAPPING_TOPIC " +
        "(runs until SIGTERM or SIGINT, then finishes its batch, commits and leaves the group)",
    )
    .action(async () => {
      const config = configFromEnv();
      rootLogger(config.logLevel);
      const log = logger("mapper");
      const shutdown = new Shutdown({ log, timeoutMs: config.shutdownTimeoutMs });
      const ctx = createMappingContext(config, log);
      let gaveUp = false;
      const consumer = createRegistrationConsumer(config, ctx, log, {
        // Exit non-zero, so that a supervisor restarts it (and alerts) rather than it idling.
        onGiveUp: () => {
          gaveUp = true;
          shutdown.trigger();
        },
      });
      const starting = consumer.start();
      await Promise.race([starting, shutdown.signalled()]);
      const report = setInterval(() => log.info(consumer.totals, "mapping totals"), 60_000);
      report.unref();
      await shutdown.signalled();
      clearInterval(report);
      await shutdown.run(async (step) => {
        await step(
          "starting up",
          starting.catch(() => undefined),
        );
        await step("the consumer (its batch, commit, leaving the group)", consumer.stop());
        await step("closing Redis", ctx.close());
      });
      log.info(consumer.totals, "stopped");
      exitNow(gaveUp ? 1 : 0);
    });

  map
    .command("rebuild")
    .description("restore the mapping from BITSYNC_MAPPING_TOPIC, every uid with the bit it was published with")
    .option("--topic <name>", "the topic to read (default BITSYNC_MAPPING_TOPIC)")
    .option("--json", "print the summary as JSON", false)
    .action(async (opts: { topic?: string; json: boolean }) => {
      await withMapping("rebuild", async ({ mapper, kafka }, config) => {
        const summary = await rebuildFromTopic({
          kafka,
          topic: opts.topic ?? config.mappingTopic,
          mapper,
          rules: { maxBytes: config.mapUidMaxBytes, pattern: config.mapUidPattern },
          log: logger("cli.map.rebuild"),
        });
        if (opts.json) {
          console.log(
            JSON.stringify({
              ...summary,
              conflicts: summary.conflicts.length,
              conflictSample: summary.conflicts.slice(0, 10),
            }),
          );
        } else {
          console.log(
            `read ${summary.records} records in ${summary.seconds.toFixed(1)} s: ${summary.restored} restored, ` +
              `${summary.unchanged} already there, ${summary.conflicts.length} conflicts, ${summary.malformed} malformed`,
          );
          for (const c of summary.conflicts.slice(0, 10)) console.log(`conflict: uid ${c.uid} bit ${c.bit}`);
          for (const r of summary.reasons) console.log(`malformed: ${r}`);
        }
        if (summary.conflicts.length > 0) process.exitCode = 1;
      });
    });
}
