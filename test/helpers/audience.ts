// Audiences in a real MariaDB source table (mysql dialect: BLOBs in StarRocks' serialized format),
// and a sync context on the real Redis, each test with its own table and audience ids.
import { randomInt } from "node:crypto";
import mysql from "mysql2/promise";
import { afterAll, beforeAll } from "vitest";
import { configFromEnv, type Config } from "../../orchestrator/config/config.js";
import { createSyncContext, type SyncContext } from "../../orchestrator/sync/context.js";
import { mulberry32, portable } from "./roaring.js";
import { scanKeys, type RedisLike } from "../../orchestrator/redis/cluster.js";
import { redisTargetEnv, stackEnv, testRedis, uniqueName } from "./stack.js";

export function newAudienceId(): string {
  return String(randomInt(1, 2 ** 47));
}

/** StarRocks BITMAP32: type byte 2, then the run-optimized portable bytes. */
export function starrocksBytes(members: Iterable<number>): Buffer {
  return Buffer.concat([Buffer.from([2]), Buffer.from(portable(members, true))]);
}

export class SourceTable {
  private constructor(
    readonly conn: mysql.Connection,
    readonly name: string,
    /** The server the table is on, when not the stack's MYSQL_URL. */
    readonly mysqlUrl?: string,
  ) {}

  /** A new table on the stack's MariaDB, or on the server of `mysqlUrl` (e.g. a private one). */
  static async create(mysqlUrl?: string): Promise<SourceTable> {
    const conn = await mysql.createConnection(mysqlUrl ?? stackEnv().mysqlUrl);
    const name = uniqueName("ugb");
    await conn.query(
      `CREATE TABLE ${name} (user_group_id BIGINT NOT NULL, imp_date INT NOT NULL, hash_part INT NOT NULL, ` +
        `bmp LONGBLOB, cnt BIGINT NULL, PRIMARY KEY (user_group_id, imp_date, hash_part))`,
    );
    return new SourceTable(conn, name, mysqlUrl);
  }

  /** Stores members (or raw bytes) as one hash part; `count` defaults to the true cardinality. */
  async put(
    audience: string,
    impDate: number,
    hashPart: number,
    members: readonly number[] | Buffer,
    count?: number | null,
  ): Promise<void> {
    const bytes = Buffer.isBuffer(members) ? members : starrocksBytes(members);
    const cnt = count !== undefined ? count : Buffer.isBuffer(members) ? null : new Set(members).size;
    await this.conn.execute(`REPLACE INTO ${this.name} VALUES (?, ?, ?, ?, ?)`, [
      audience,
      impDate,
      hashPart,
      bytes,
      cnt,
    ]);
  }

  async drop(): Promise<void> {
    await this.conn.query(`DROP TABLE IF EXISTS ${this.name}`);
    await this.conn.end();
  }

  /** Environment for a sync (or a CLI child process) reading this table. */
  env(extra: Record<string, string> = {}): Record<string, string> {
    return {
      BITSYNC_SOURCE_DIALECT: "mysql",
      BITSYNC_SOURCE_TABLE: this.name,
      BITSYNC_SOURCE_COUNT_COLUMN: "cnt",
      BITSYNC_VERSION_TTL_SECONDS: "3600",
      BITSYNC_LOG_LEVEL: "silent",
      ...redisTargetEnv(),
      ...(this.mysqlUrl !== undefined ? { MYSQL_URL: this.mysqlUrl } : {}),
      ...extra,
    };
  }

  config(extra: Record<string, string> = {}): Config {
    return configFromEnv({ ...process.env, ...this.env(extra) });
  }

  context(extra: Record<string, string> = {}): SyncContext {
    return createSyncContext(this.config(extra));
  }
}

/** Deterministic pseudo-random members in [0, space). */
export function members(count: number, space: number, seed: number): number[] {
  const rnd = mulberry32(seed);
  const set = new Set<number>();
  while (set.size < count) set.add(Math.floor(rnd() * space));
  return [...set].sort((x, y) => x - y);
}

/**
 * A source table and a client of the suite's Redis (redisTarget) for one test file: the table is
 * made before the file's tests and dropped after them, the client closed.
 */
export function sourceFixture(): { readonly table: SourceTable; readonly redis: RedisLike } {
  const redis = testRedis();
  let table: SourceTable | undefined;
  beforeAll(async () => {
    table = await SourceTable.create();
  });
  afterAll(async () => {
    await table?.drop();
    redis.disconnect();
  });
  return {
    get table(): SourceTable {
      if (!table) throw new Error("sourceFixture: the table is made in beforeAll; use it inside tests");
      return table;
    },
    redis,
  };
}

/** Every Redis key of an audience (its {aud:ID} hash tag), sorted. */
export async function audienceKeyNames(redis: RedisLike, aud: string): Promise<string[]> {
  return (await scanKeys(redis, `{aud:${aud}}:*`)).sort();
}
