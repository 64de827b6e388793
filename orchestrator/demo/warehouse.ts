// What the warehouse writes, for the demo and the benchmarks that stand in for it: an audience's
// bits as a StarRocks BITMAP value, and the user_group_bmp table that holds them.
import type { Connection } from "mysql2/promise";
import type { BitmapCore } from "../wasm/core.js";

const EMPTY_PORTABLE = Uint8Array.of(0x3a, 0x30, 0, 0, 0, 0, 0, 0);

/** StarRocks BITMAP32: type byte 2, then the portable bitmap of the (32-bit) bits. */
export function starrocksValue(core: BitmapCore, bits: Iterable<number>): Buffer {
  const whole = core.segment(Uint32Array.from(bits).sort(), 32).segments[0];
  return Buffer.concat([Buffer.from([2]), Buffer.from(whole?.blob ?? EMPTY_PORTABLE)]);
}

/** (Re)creates a table of the layout StarRocks audience jobs write (mysql dialect). */
export async function createAudienceTable(conn: Connection, table: string): Promise<void> {
  await conn.query(`DROP TABLE IF EXISTS ${table}`);
  await conn.query(
    `CREATE TABLE ${table} (user_group_id BIGINT NOT NULL, imp_date INT NOT NULL, hash_part INT NOT NULL, ` +
      "bmp LONGBLOB, cnt BIGINT, PRIMARY KEY (user_group_id, imp_date, hash_part))",
  );
}
