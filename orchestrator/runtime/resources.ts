// The one owner of a process's shared resources: the WASM core, the Redis clients, the bitmap
// source, the Kafka client and the version store. Each is created on first use, once, and close() closes what was
// created in reverse order of creation (a client outlives what was built on it). close() is
// idempotent, and reports each step to a caller that keeps a shutdown deadline (Shutdown.step).
import type { Logger } from "pino";
import type { Kafka } from "kafkajs";
import { redact, type Config } from "../config/config.js";
import { createKafka } from "../kafka/client.js";
import { closeRedis, createRedis, duplicateRedis } from "../redis/client.js";
import { createRedisCluster, type RedisLike } from "../redis/cluster.js";
import { createBitmapSource } from "../source/reader.js";
import type { BitmapSource } from "../source/types.js";
import { VersionStore } from "../versions/store.js";
import { BitmapCore } from "../wasm/core.js";

/** Runs one step of a stop (Shutdown.step names it in `waitingFor` if the deadline passes). */
export type StopStep = <T>(what: string, work: Promise<T>) => Promise<T>;

const justAwait: StopStep = (_what, work) => work;

/** Where a process of `config` finds Redis, for messages: the URL (redacted) or the cluster's seeds. */
export function redisWhere(config: Config): string {
  return config.redisClusterNodes.length > 0
    ? `the Redis Cluster of ${config.redisClusterNodes.join(",")}`
    : redact(config.redisUrl);
}

export class Resources {
  readonly #closers: { name: string; close: () => Promise<unknown> | void }[] = [];
  readonly #made = new Map<string, unknown>();
  #closing: Promise<void> | undefined;
  #source: BitmapSource | undefined;

  constructor(
    readonly config: Config,
    readonly log?: Logger,
  ) {}

  /** The resource `name`, made by `make` on first use; `close` is run by close(). */
  #once<T>(name: string, make: () => T, close: (v: T) => Promise<unknown> | void): T {
    if (this.#made.has(name)) return this.#made.get(name) as T;
    if (this.#closing) throw new Error(`${name} requested after the process's resources were closed`);
    const value = make();
    this.#made.set(name, value);
    this.#closers.push({ name, close: () => close(value) });
    return value;
  }

  /** The process's one WASM core: serving's segment cache, the sync's segmenting, the uid table. */
  get core(): BitmapCore {
    return this.#once(
      "the WASM core",
      () => BitmapCore.create({ budgetBytes: this.config.wasmBudgetBytes }),
      () => undefined, // its memory goes with the process; every blob is disposed by its owner
    );
  }

  /**
   * The Redis of audiences: the Redis Cluster of REDIS_CLUSTER_NODES when set (REDIS_URL is then
   * not used), else REDIS_URL. Every key of one audience shares its {aud:ID} tag, so each script
   * and pipeline runs on the one master of that slot.
   */
  get redis(): RedisLike {
    return this.#once(
      "the Redis connection",
      () => this.#client("bitsync"),
      (r) => closeRedis(r),
    );
  }

  #client(name: string): RedisLike {
    const c = this.config;
    const opts = { name, commandTimeoutMs: c.redisCommandTimeoutMs };
    return c.redisClusterNodes.length > 0
      ? createRedisCluster(c.redisClusterNodes, this.log, opts)
      : createRedis(c.redisUrl, this.log, opts);
  }

  /**
   * A connection of its own for the swap notifications (a subscribed connection does nothing
   * else). On a cluster it subscribes on one node; a PUBLISH on any master (the scripts' swap
   * and rollback notices) reaches every node's subscribers over the cluster bus, and the client
   * subscribes again elsewhere when its node fails.
   */
  get subscriber(): RedisLike {
    return this.#once(
      "the swap subscriber",
      () => {
        // No command deadline: a subscribed connection only waits for messages.
        const sub = duplicateRedis(this.redis, "bitsync-swaps", { commandTimeout: undefined });
        // Reconnects on its own (and resubscribes); the head poll covers what it misses meanwhile.
        sub.on("error", (err: Error) => this.log?.warn({ err }, "swap subscriber connection error"));
        return sub;
      },
      (r) => r.disconnect(),
    );
  }

  /** The ID mapping's client, on the same Redis or cluster as the audiences' (its own connections). */
  get mappingRedis(): RedisLike {
    return this.#once(
      "the mapping's Redis connection",
      () => this.#client("bitsync-mapping"),
      (r) => closeRedis(r),
    );
  }

  /**
   * The Kafka client (a factory: its consumers, producers and admins connect and disconnect
   * themselves, each closed by its user).
   */
  get kafka(): Kafka {
    return this.#once(
      "the Kafka client",
      () => createKafka({ brokers: this.config.kafkaBrokers, clientId: this.config.kafkaClientId }),
      () => undefined,
    );
  }

  /** Versions of audiences in Redis (its bulk-write connection is its own to close). */
  get store(): VersionStore {
    const c = this.config;
    return this.#once(
      "the version store",
      () =>
        new VersionStore(this.redis, {
          ttlSeconds: c.versionTtlSeconds,
          retain: c.retainVersions,
          channel: c.swapChannel,
          lockTtlMs: c.syncLockTtlMs,
          writeChunkBytes: c.syncWriteChunkBytes,
          writeBytesPerSecond: c.syncWriteBytesPerSecond,
        }),
      (s) => s.close(),
    );
  }

  /** The bitmap source (StarRocks, Doris or MySQL over the MySQL protocol). */
  get source(): BitmapSource {
    const c = this.config;
    return (this.#source = this.#once(
      "the bitmap source",
      () =>
        createBitmapSource(
          {
            url: c.mysqlUrl,
            dialect: c.sourceDialect,
            table: c.sourceTable,
            columns: c.sourceColumns,
            chunkBits: c.segmentBits,
            queryTimeoutMs: c.sourceQueryTimeoutMs,
            ...(c.sourceCountColumn ? { countColumn: c.sourceCountColumn } : {}),
            // A NULL BLOB becomes the empty value of the format the BLOBs hold.
            ...(c.sourceDialect === "mysql" ? { format: c.sourceFormat } : {}),
          },
          this.log,
        ),
      (s) => s.close(),
    ));
  }

  /** Closes the source now, if it was made: reads in flight fail at once (a stop must not wait). */
  abandonReads(): Promise<void> {
    return this.#source ? this.#source.close() : Promise.resolve();
  }

  /** Closes everything made, newest first; a failure is logged and the rest still close. */
  close(step: StopStep = justAwait): Promise<void> {
    this.#closing ??= (async () => {
      for (const { name, close } of this.#closers.reverse()) {
        try {
          await step(name, Promise.resolve(close()));
        } catch (err) {
          this.log?.warn({ err, resource: name }, "closing a resource failed");
        }
      }
    })();
    return this.#closing;
  }
}
