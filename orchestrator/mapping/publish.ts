// Mappings downstream: one record per mapping on the mapping topic, key uid, value
// {"uid","corpId","bit"}. The warehouse loads the topic into a primary-key table, so a mapping
// published twice (at-least-once) is one row.
import type { RecordPublisher } from "../kafka/producer.js";
import type { MappingSink } from "./import.js";
import type { Mapping } from "./mapper.js";

export function mappingRecord(m: Mapping): { key: string; value: string } {
  return { key: m.uid, value: JSON.stringify({ uid: m.uid, corpId: m.corpId, bit: m.bit }) };
}

export class KafkaMappingSink implements MappingSink {
  constructor(
    private readonly publisher: RecordPublisher,
    readonly topic: string,
  ) {}

  async publish(mappings: readonly Mapping[]): Promise<void> {
    if (mappings.length > 0) await this.publisher.publish(this.topic, mappings.map(mappingRecord));
  }
}
