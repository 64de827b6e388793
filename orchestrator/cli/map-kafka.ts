// `bitsync map consume | rebuild`: the ID mapping's Kafka side from the command line.
import type { Command } from "commander";
import { configFromEnv } from "../config/config.js";
import { BatchConsumer } from "../kafka/batch-consumer.js";
import { createKafka } from "../kafka/client.js";
import { RecordPublisher } from "../kafka/producer.js";
import { logger, rootLogger } from "../log.js";
import { registrationHandler } from "../mapping/consumer.js";
import { createMappingContext } from "../mapping/context.js";
import { rebuildFromTopic } from "../mapping/rebuild.js";
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
      const kafka = createKafka({ brokers: config.kafkaBrokers, clientId: config.kafkaClientId });
      const publisher = new RecordPublisher(kafka);
      const session = config.consumerSessionTimeoutMs;
      let totals = { messages: 0, mapped: 0, created: 0, deadLettered: 0 };
      const consumer = new BatchConsumer({
        kafka,
        groupId: config.consumerGroup,
        topic: config.registrationTopic,
        // A new group starts at the earliest registration: none published before it is missed.
        fromBeginning: true,
        sessionTimeout: session,
        rebalanceTimeout: Math.max(session, 10_000),
        heartbeatInterval: Math.max(300, Math.floor(session / 10)),
        retry: { initialMs: 200, maxMs: 30_000 },
        log,
        onFatalError: (err) => {
          log.fatal({ err }, "the consumer stopped for good; exiting so that it is restarted");
          process.exit(1);
        },
        handle: registrationHandler({
          mapper: ctx.mapper,
          publisher,
          mappingTopic: config.mappingTopic,
          dlqTopic: config.dlqTopic,
          rules: { maxBytes: config.mapUidMaxBytes, pattern: config.mapUidPattern },
          log,
          onBatch: (b) => {
            totals = {
              messages: totals.messages + b.messages,
              mapped: totals.mapped + b.mapped,
              created: totals.created + b.created,
              deadLettered: totals.deadLettered + b.deadLettered,
            };
            log.debug(b, "batch mapped");
          },
        }),
      });
      await publisher.connect();
      await consumer.start();
      log.info({ topic: config.registrationTopic, group: config.consumerGroup }, "consuming registrations");
      const report = setInterval(() => log.info(totals, "mapping totals"), 60_000);
      report.unref();
      const signal = await new Promise<NodeJS.Signals>((resolve) => {
        process.once("SIGTERM", () => resolve("SIGTERM"));
        process.once("SIGINT", () => resolve("SIGINT"));
      });
      log.info({ signal }, "stopping: finishing the batch in flight");
      clearInterval(report);
      await consumer.stop();
      await publisher.disconnect();
      await ctx.close();
      log.info(totals, "stopped");
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
