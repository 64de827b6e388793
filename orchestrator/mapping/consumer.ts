// The registration consumer's batch handler: parse -> allocate -> publish mappings and dead
// letters -> return (the BatchConsumer commits only then). A message that cannot be mapped goes
// to the dead-letter topic with its reason and original bytes; it never throws, so it never
// blocks its partition. Redis or Kafka failures throw retriable errors: the batch is retried.
import type { KafkaMessage } from "kafkajs";
import type { Logger } from "pino";
import { BitsyncError } from "../errors.js";
import { deadLetterRecord } from "../kafka/dead-letter.js";
import type { RecordPublisher } from "../kafka/producer.js";
import { parseRegistration, type IdRules } from "./ids.js";
import type { IdMapper } from "./mapper.js";
import { KafkaMappingSink } from "./publish.js";

export interface RegistrationHandlerOptions {
  mapper: IdMapper;
  publisher: RecordPublisher;
  mappingTopic: string;
  /** Mappings per message downstream (see publish.ts; default 1). */
  mappingsPerMessage?: number;
  dlqTopic: string;
  rules: IdRules;
  log?: Logger;
  /** Called after each batch is handled (for metrics and tests). */
  onBatch?: (stats: { messages: number; mapped: number; created: number; deadLettered: number }) => void;
}

/** Redis failed while mapping: the batch is retried, nothing is committed. */
export class MappingUnavailableError extends BitsyncError {
  override readonly retriable = true;
}

export function registrationHandler(opts: RegistrationHandlerOptions) {
  const { mapper, publisher, rules, log } = opts;
  const downstream = new KafkaMappingSink(publisher, opts.mappingTopic, opts.mappingsPerMessage);
  return async (batch: { topic: string; partition: number; messages: KafkaMessage[] }): Promise<void> => {
    const good: { uid: string; corpId: string }[] = [];
    const dead: ReturnType<typeof deadLetterRecord>[] = [];
    for (const msg of batch.messages) {
      const reg = parseRegistration(msg.value, rules);
      if ("reason" in reg) {
        log?.warn({ partition: batch.partition, offset: msg.offset, reason: reg.reason }, "registration dead-lettered");
        dead.push(
          deadLetterRecord(
            {
              topic: batch.topic,
              partition: batch.partition,
              offset: msg.offset,
              key: msg.key,
              value: msg.value,
              timestamp: msg.timestamp,
            },
            reg.reason,
          ),
        );
      } else {
        good.push(reg);
      }
    }
    let mapped: Awaited<ReturnType<IdMapper["allocate"]>> = { mappings: [], created: 0 };
    if (good.length > 0) {
      try {
        mapped = await mapper.allocate(good);
      } catch (err) {
        // bitsync's own errors (a wrong group count) need an operator; anything else is Redis
        // being unreachable or failing, which a retry may get past.
        if (err instanceof BitsyncError) throw err;
        throw new MappingUnavailableError(`mapping ${good.length} registrations failed: ${(err as Error).message}`, {
          cause: err,
        });
      }
    }
    // Every consumed registration is published, not only new ones: after a crash between
    // allocation and publishing, the redelivered batch finds its uids mapped, and they must
    // still reach the warehouse.
    await Promise.all([
      downstream.publish(mapped.mappings),
      dead.length > 0 ? publisher.publish(opts.dlqTopic, dead) : null,
    ]);
    opts.onBatch?.({
      messages: batch.messages.length,
      mapped: mapped.mappings.length,
      created: mapped.created,
      deadLettered: dead.length,
    });
  };
}
