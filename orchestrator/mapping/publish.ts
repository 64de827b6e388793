// Mappings downstream, on the mapping topic, in one of two forms:
// - one mapping per message (mappingsPerMessage 1, the default): key uid, value {"uid","corpId","bit"}.
//   The topic may be compacted: the last record of a uid is its mapping.
// - up to N mappings per message: value a JSON array of those objects, key the first uid. Kafka's cost
//   is per message, so a cold start publishes N times fewer; StarRocks and Doris Routine Load split
//   the array into rows with "strip_outer_array" = "true". Such a topic must NOT be compacted (a later
//   message with the same first uid would replace one holding other uids): retention "forever"
//   (retention.ms=-1) for `bitsync map rebuild`, or at least as long as a rebuild may need.
// Either way the warehouse loads the topic into a primary-key table, so a mapping published twice
// (at-least-once) is one row, and `map rebuild` reads both forms.
import type { PublishRecord, RecordPublisher } from "../kafka/producer.js";
import type { MappingSink } from "./import.js";
import type { Mapping } from "./mapper.js";

/** Characters JSON.stringify would escape, or that a string may not hold unescaped. */
// eslint-disable-next-line no-control-regex -- JSON strings may not hold them unescaped
const NEEDS_ESCAPE = /["\\\x00-\x1f\u2028\u2029\ud800-\udfff]/;

/** The record's value; written by hand when no escaping is needed (a cold start writes millions). */
const json = (m: Mapping): string =>
  NEEDS_ESCAPE.test(m.uid) || NEEDS_ESCAPE.test(m.corpId)
    ? JSON.stringify({ uid: m.uid, corpId: m.corpId, bit: m.bit })
    : `{"uid":"${m.uid}","corpId":"${m.corpId}","bit":${m.bit}}`;

/** One mapping's record: key uid, value {"uid","corpId","bit"}. */
export function mappingRecord(m: Mapping): { key: string; value: string } {
  return { key: m.uid, value: json(m) };
}

/** The records of `mappings`: one each, or JSON arrays of up to `perMessage` (keyed by their first uid). */
export function mappingRecords(mappings: readonly Mapping[], perMessage = 1): PublishRecord[] {
  if (perMessage <= 1) return mappings.map(mappingRecord);
  const out: PublishRecord[] = [];
  for (let i = 0; i < mappings.length; i += perMessage) {
    const chunk = mappings.slice(i, i + perMessage);
    out.push({ key: chunk[0]!.uid, value: `[${chunk.map(json).join(",")}]` });
  }
  return out;
}

export class KafkaMappingSink implements MappingSink {
  constructor(
    private readonly publisher: RecordPublisher,
    readonly topic: string,
    /** Mappings per message (BITSYNC_MAPPINGS_PER_MESSAGE). */
    readonly perMessage = 1,
  ) {}

  async publish(mappings: readonly Mapping[]): Promise<void> {
    if (mappings.length > 0) await this.publisher.publish(this.topic, mappingRecords(mappings, this.perMessage));
  }
}
