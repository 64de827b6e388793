// `bitsync map consume | rebuild`: the ID mapping's Kafka side from the command line.
import type { Command } from "commander";
import { configFromEnv } from "../config/config.js";
import { createKafka } from "../kafka/client.js";
import { logger, rootLogger } from "../log.js";
import { createMappingContext } from "../mapping/context.js";
import { rebuildFromTopic } from "../mapping/rebuild.js";
import { createRegistrationConsumer } from "../mapping/registrations.js";
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
      const ctx = createMappingContext(config, log);
      const consumer = createRegistrationConsumer(config, ctx.mapper, log);
      await consumer.start();
      const report = setInterval(() => log.info(consumer.totals, "mapping totals"), 60_000);
      report.unref();
      const signal = await new Promise<NodeJS.Signals>((resolve) => {
        process.once("SIGTERM", () => resolve("SIGTERM"));
        process.once("SIGINT", () => resolve("SIGINT"));
      });
      log.info({ signal }, "stopping: finishing the batch in flight");
      clearInterval(report);
      await consumer.stop();
      await ctx.close();
      log.info(consumer.totals, "stopped");
    });

  map
    .command("rebuild")
    .description("restore the mapping from BITSYNC_MAPPING_TOPIC, every uid with the bit it was published with")
    .option("--topic <name>", "the topic to read (default BITSYNC_MAPPING_TOPIC)")
    .option("--json", "print the summary as JSON", false)
    .action(async (opts: { topic?: string; json: boolean }) => {
      await withMapping("rebuild", async ({ mapper }, config) => {
        const kafka = createKafka({ brokers: config.kafkaBrokers, clientId: config.kafkaClientId });
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
