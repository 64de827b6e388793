// PRIVATE servers a fault test may kill, freeze and restart without disturbing the shared stack:
// a redis-server, a MariaDB (its own datadir, the `bitsync` user and database as scripts/stack.sh
// makes them, and the StarRocks emulation of test/helpers/mariadb.ts) and a librdkafka mock
// cluster hosted by kcat. Each runs in a process group of its own, tracked by procs.ts, so
// stopAll() in afterAll ends whatever a failing test left behind.
import { execFile, type ChildProcess } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { userInfo } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import mysql from "mysql2/promise";
import { freePort } from "../../../orchestrator/util/net.js";
import { createStarRocksEmulation } from "../../helpers/mariadb.js";
import { alive, binary, freeze, signalAndWait, sleep, spawnServer, tempDir, thaw } from "./procs.js";

const run = promisify(execFile);

/** Polls `ready` until it holds; fails after `ms`, or at once if `proc` died. */
async function until(what: string, proc: ChildProcess, ms: number, ready: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (!alive(proc)) throw new Error(`${what} exited during startup (code ${proc.exitCode}, ${proc.signalCode})`);
    if (await ready().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what} not ready after ${ms} ms`);
    await sleep(100);
  }
}

/** Sends `request` on a fresh TCP connection; true when the reply starts with `expect`. */
function probe(port: number, request: string, expect: string, ms = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: "127.0.0.1", port });
    let got = "";
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(ms, () => done(false));
    sock.on("error", () => done(false));
    sock.on("connect", () => sock.write(request));
    sock.on("data", (d) => {
      got += d.toString("latin1");
      if (got.length >= expect.length) done(got.startsWith(expect));
    });
  });
}

abstract class PrivateServer {
  protected proc: ChildProcess | undefined;

  /** The server's process (for freeze/kill assertions). */
  get process(): ChildProcess {
    if (!this.proc) throw new Error("not started");
    return this.proc;
  }

  get running(): boolean {
    return this.proc !== undefined && alive(this.proc);
  }

  /** SIGSTOP: the port stays open, nothing answers. */
  freeze(): void {
    freeze(this.process);
  }

  thaw(): void {
    thaw(this.process);
  }

  abstract start(): Promise<void>;

  /** Running and not frozen, whatever the test before left behind (for beforeEach). */
  async ensureRunning(): Promise<void> {
    if (this.running) this.thaw();
    else await this.start();
  }

  /** SIGKILL, and waits for the exit. */
  async kill(): Promise<void> {
    if (this.proc) await signalAndWait(this.proc, "SIGKILL");
  }

  /** SIGTERM (a clean stop), SIGKILL if it lingers. */
  async stop(): Promise<void> {
    if (!this.proc || !alive(this.proc)) return;
    await signalAndWait(this.proc, "SIGTERM", 15_000).catch(() => signalAndWait(this.proc!, "SIGKILL"));
  }
}

export class PrivateRedis extends PrivateServer {
  private constructor(
    readonly port: number,
    private readonly dir: string,
  ) {
    super();
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<PrivateRedis> {
    const redis = new PrivateRedis(await freePort(), tempDir("bsf-redis-"));
    await redis.start();
    return redis;
  }

  /**
   * Starts it (again) on the same port: empty (nothing is persisted on its own), or with
   * `keepData` from the snapshot save() took, as a Redis with persistence comes back.
   */
  async start(opts: { keepData?: boolean } = {}): Promise<void> {
    if (this.running) throw new Error(`redis on ${this.port} is already running`);
    if (!opts.keepData) rmSync(join(this.dir, "dump.rdb"), { force: true });
    this.proc = spawnServer("redis-server", [
      ...["--port", String(this.port), "--bind", "127.0.0.1", "--dir", this.dir],
      ...["--save", "", "--appendonly", "no", "--logfile", join(this.dir, "redis.log")],
    ]);
    await until(`redis-server on ${this.port}`, this.proc, 15_000, () => probe(this.port, "PING\r\n", "+PONG"));
  }

  /** SAVE: a snapshot for start({ keepData: true }). */
  async save(): Promise<void> {
    if (!(await probe(this.port, "SAVE\r\n", "+OK", 10_000))) throw new Error(`SAVE failed on redis ${this.port}`);
  }

  /** Killed and started again: Redis as a crash without persistence leaves it. */
  async restartEmpty(): Promise<void> {
    await this.kill();
    await this.start();
  }

  async dispose(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export class PrivateMariaDb extends PrivateServer {
  private constructor(
    readonly port: number,
    private readonly dir: string,
  ) {
    super();
  }

  /** The `bitsync` database as the `bitsync` user, as scripts/stack.sh hands it out. */
  get url(): string {
    return `mysql://bitsync:bitsync@127.0.0.1:${this.port}/bitsync`;
  }

  private get socket(): string {
    return join(this.dir, "sock");
  }

  /** A new datadir (mariadb-install-db), the server, the user and database, the StarRocks functions. */
  static async start(): Promise<PrivateMariaDb> {
    // Short path: a unix socket path has ~107 bytes at most.
    const db = new PrivateMariaDb(await freePort(), tempDir("bsf-mdb-"));
    await run(
      binary("mariadb-install-db"),
      [
        "--no-defaults",
        `--user=${userName()}`,
        `--datadir=${join(db.dir, "data")}`,
        "--auth-root-authentication-method=socket",
        "--skip-test-db",
      ],
      { timeout: 60_000 },
    );
    await db.start();
    await db.sql(
      `CREATE DATABASE IF NOT EXISTS bitsync;
       CREATE USER IF NOT EXISTS 'bitsync'@'127.0.0.1' IDENTIFIED BY 'bitsync';
       CREATE USER IF NOT EXISTS 'bitsync'@'localhost' IDENTIFIED BY 'bitsync';
       GRANT ALL PRIVILEGES ON \`bitsync\`.* TO 'bitsync'@'127.0.0.1', 'bitsync'@'localhost';
       GRANT ALL PRIVILEGES ON \`bitsync\\_%\`.* TO 'bitsync'@'127.0.0.1', 'bitsync'@'localhost';`,
    );
    const conn = await db.connect();
    try {
      await createStarRocksEmulation(conn);
    } finally {
      await conn.end();
    }
    return db;
  }

  /** Starts mariadbd on its datadir (again: after a kill it runs InnoDB's crash recovery). */
  async start(): Promise<void> {
    if (this.running) throw new Error(`mariadbd on ${this.port} is already running`);
    this.proc = spawnServer("mariadbd", [
      "--no-defaults",
      `--user=${userName()}`,
      `--datadir=${join(this.dir, "data")}`,
      "--bind-address=127.0.0.1",
      `--port=${this.port}`,
      `--socket=${this.socket}`,
      `--pid-file=${join(this.dir, "mariadb.pid")}`,
      `--log-error=${join(this.dir, "mariadb.log")}`,
      "--skip-name-resolve",
      "--character-set-server=utf8mb4",
      // A whole audience is one BLOB row: the packet limit and the redo log must hold it.
      "--max-allowed-packet=1G",
      "--innodb-log-file-size=256M",
      "--innodb-buffer-pool-size=256M",
    ]);
    await until(`mariadbd on ${this.port}`, this.proc, 60_000, async () => {
      await this.sql("SELECT 1");
      return true;
    });
  }

  /** SQL as root over the unix socket (the OS user authenticates by unix_socket). */
  async sql(statements: string): Promise<string> {
    const { stdout } = await run(
      binary("mariadb"),
      ["--no-defaults", "--protocol=socket", `--socket=${this.socket}`, "-u", userName(), "--batch", "-e", statements],
      { timeout: 30_000 },
    );
    return stdout;
  }

  /** A connection as the `bitsync` user (the test's own, for setup and SHOW PROCESSLIST). */
  connect(): Promise<mysql.Connection> {
    return mysql.createConnection({ uri: this.url, connectTimeout: 10_000 });
  }

  async restart(): Promise<void> {
    await this.kill();
    await this.start();
  }

  async dispose(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export class PrivateKafka extends PrivateServer {
  #brokers: string[] = [];

  /** host:port of the mock's brokers (new ones on every start). */
  get brokers(): string[] {
    return this.#brokers;
  }

  get env(): { KAFKA_BROKERS: string } {
    return { KAFKA_BROKERS: this.#brokers.join(",") };
  }

  static async start(): Promise<PrivateKafka> {
    const kafka = new PrivateKafka();
    await kafka.start();
    return kafka;
  }

  /**
   * kcat with librdkafka's mock cluster (3 brokers), as scripts/stack.sh runs it: librdkafka logs
   * the mock's bootstrap list on its startup line, read from stderr.
   */
  async start(): Promise<void> {
    if (this.running) throw new Error("the kafka mock is already running");
    const proc = spawnServer(
      "kcat",
      ["-b", "x:1", "-C", "-t", "bitsync-probe", "-X", "test.mock.num.brokers=3"],
      "pipe",
    );
    this.proc = proc;
    let log = "";
    const brokers = new Promise<string[]>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no mock bootstrap servers from kcat in 30 s:\n${log}`)), 30_000);
      proc.once("exit", () => reject(new Error(`kcat exited during startup:\n${log}`)));
      proc.stderr!.on("data", (d: Buffer) => {
        if (log.length < 65536) log += d.toString();
        const m = /(?:replaced with |bootstrap\.servers=)(\d[\d.]*:\d+(?:,\d[\d.]*:\d+)*)/.exec(log);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!.split(","));
        }
      });
    });
    proc.stdout!.resume(); // the probe topic's records, if any: not needed
    this.#brokers = await brokers;
    const ports = this.#brokers.map((b) => Number(b.split(":")[1]));
    await until("the kafka mock's brokers", proc, 15_000, async () =>
      (await Promise.all(ports.map((p) => reachable(p)))).every(Boolean),
    );
  }

  async dispose(): Promise<void> {
    await this.kill();
  }
}

function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: "127.0.0.1", port });
    sock.setTimeout(1000, () => {
      sock.destroy();
      resolve(false);
    });
    sock.on("error", () => resolve(false));
    sock.on("connect", () => {
      sock.destroy();
      resolve(true);
    });
  });
}

/** mariadbd refuses to run as root unless told --user=root; root authenticates by unix_socket. */
function userName(): string {
  return userInfo().username;
}

/**
 * A PRIVATE Redis Cluster of three masters with one replica each (the stack's shape), with a
 * short node timeout (1 s) so that a killed master's replica takes over within seconds.
 */
export class PrivateRedisCluster {
  private constructor(
    readonly nodes: { port: number; proc: ChildProcess }[],
    private readonly dir: string,
  ) {}

  /** REDIS_CLUSTER_NODES for bitsync: every node. */
  get seeds(): string {
    return this.nodes.map((n) => `127.0.0.1:${n.port}`).join(",");
  }

  static async start(): Promise<PrivateRedisCluster> {
    const dir = tempDir("bsf-rc-");
    const nodes: { port: number; proc: ChildProcess }[] = [];
    const taken = new Set<number>();
    const port = async (): Promise<number> => {
      for (;;) {
        const p = await freePort();
        if (!taken.has(p)) return (taken.add(p), p);
      }
    };
    for (let i = 0; i < 6; i++) {
      const [client, bus] = [await port(), await port()];
      const nodeDir = join(dir, String(i));
      mkdirSync(nodeDir);
      const proc = spawnServer("redis-server", [
        ...["--port", String(client), "--bind", "127.0.0.1", "--dir", nodeDir],
        ...["--cluster-enabled", "yes", "--cluster-port", String(bus), "--cluster-config-file", "nodes.conf"],
        ...["--cluster-node-timeout", "1000", "--save", "", "--appendonly", "no"],
        ...["--logfile", join(nodeDir, "redis.log")],
      ]);
      nodes.push({ port: client, proc });
    }
    for (const n of nodes) {
      await until(`cluster node on ${n.port}`, n.proc, 15_000, () => probe(n.port, "PING\r\n", "+PONG"));
    }
    const cluster = new PrivateRedisCluster(nodes, dir);
    await run(
      binary("redis-cli"),
      ["--cluster", "create", ...cluster.seeds.split(","), "--cluster-replicas", "1", "--cluster-yes"],
      { timeout: 60_000 },
    );
    await cluster.healthy(30_000);
    return cluster;
  }

  /** Every live node says cluster_state:ok and every live replica is linked to its master. */
  async healthy(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    for (;;) {
      const live = this.nodes.filter((n) => alive(n.proc));
      const states = await Promise.all(live.map((n) => this.info(n.port).catch(() => "")));
      const ok = states.every(
        (s) => /cluster_state:ok/.test(s) && (!/role:slave/.test(s) || /master_link_status:up/.test(s)),
      );
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`private redis cluster not healthy after ${ms} ms`);
      await sleep(200);
    }
  }

  private async info(port: number): Promise<string> {
    const [cluster, replication] = await Promise.all([
      run(binary("redis-cli"), ["-p", String(port), "cluster", "info"], { timeout: 5000 }),
      run(binary("redis-cli"), ["-p", String(port), "info", "replication"], { timeout: 5000 }),
    ]);
    return cluster.stdout + replication.stdout;
  }

  /** The node that is master of `key`'s slot now, as a live node sees it. */
  async masterOf(key: string): Promise<{ port: number; proc: ChildProcess }> {
    const asker = new Redis({ port: this.nodes.find((n) => alive(n.proc))!.port, maxRetriesPerRequest: 1 });
    try {
      const slot = Number(await asker.cluster("KEYSLOT", key));
      for (const [start, end, master] of await asker.cluster("SLOTS")) {
        if (slot < start || slot > end || !master) continue;
        const node = this.nodes.find((n) => n.port === master[1]);
        if (node) return node;
      }
      throw new Error(`no master found for slot ${slot}`);
    } finally {
      asker.disconnect();
    }
  }

  /** SIGKILL one node, and waits for its exit. */
  async kill(node: { proc: ChildProcess }): Promise<void> {
    await signalAndWait(node.proc, "SIGKILL");
  }

  async dispose(): Promise<void> {
    await Promise.allSettled(this.nodes.map((n) => signalAndWait(n.proc, "SIGKILL")));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
