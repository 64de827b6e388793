// The floor of a cold start, for bench:mapping: the same forward and reverse entries the mapping
// holds, written with plain pipelined multi-field HSETs (no Lua, no Kafka, no checks), in the
// import's batches. RESP is encoded here, before the clock starts, and written to one socket:
// through ioredis, or encoding as it went, the client and not Redis was the limit (57.5k and
// 187k IDs/s), and a floor must measure the server.
import { connect, type Socket } from "node:net";
import { uidHash } from "../orchestrator/mapping/hash.js";
import { REVERSE_BUCKET_SEQS } from "../orchestrator/mapping/keys.js";

export interface FloorOptions {
  /** redis://[:password@]host:port[/db] */
  url: string;
  /** Key prefix: keys are {PREFIX:g}:f:B and {PREFIX:g}:r:K, the mapping's shapes. */
  prefix: string;
  groups: number;
  /** Forward buckets per group (the presized layout: no split happens in a cold start). */
  buckets: number;
  /** Entries grouped per bucket at a time (the whole set: one HSET per bucket). */
  batchSize: number;
}

const command = (args: readonly string[]): string => {
  let s = `*${args.length}\r\n`;
  for (const a of args) s += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
  return s;
};

/** Replies counted as lines (every reply here is an integer); an error reply rejects. */
class Pipe {
  #lines = 0;
  #want = 0;
  #wake: (() => void) | undefined;
  #failed: Error | undefined;

  #atLineStart = true;

  constructor(readonly socket: Socket) {
    socket.on("data", (d: Buffer) => {
      let i = 0;
      while (i < d.length) {
        if (this.#atLineStart && d[i] === 45)
          this.#failed ??= new Error(`floor write: ${d.toString("utf8", i, i + 200)}`);
        const nl = d.indexOf(10, i);
        if (nl < 0) {
          this.#atLineStart = false;
          break;
        }
        this.#lines++;
        this.#atLineStart = true;
        i = nl + 1;
      }
      if (this.#lines >= this.#want || this.#failed) this.#wake?.();
    });
    // A connection that ends or fails wakes the waiter with the reason: a floor never hangs.
    const fail = (why: string) => () => {
      this.#failed ??= new Error(`floor write: ${why}`);
      this.#wake?.();
    };
    socket.on("error", (err) => fail(err.message)());
    socket.on("close", fail("the connection closed"));
  }

  async send(text: string, replies: number): Promise<void> {
    this.#want += replies;
    if (!this.socket.write(text)) await new Promise((r) => this.socket.once("drain", r));
  }

  async drain(): Promise<void> {
    while (this.#lines < this.#want && !this.#failed) await new Promise<void>((r) => (this.#wake = r));
    if (this.#failed) throw this.#failed;
  }
}

/** Writes every entry; resolves with the seconds from the first byte sent to the last reply. */
export async function rawWriteFloor(
  count: number,
  entry: (i: number) => { uid: string; corpId: string },
  opts: FloorOptions,
): Promise<number> {
  const url = new URL(opts.url);
  const socket = connect(Number(url.port || 6379), url.hostname);
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  const pipe = new Pipe(socket);
  try {
    if (url.password) {
      const user = decodeURIComponent(url.username);
      const password = decodeURIComponent(url.password);
      await pipe.send(command(user ? ["AUTH", user, password] : ["AUTH", password]), 1);
    }
    const db = url.pathname.slice(1);
    if (db) await pipe.send(command(["SELECT", db]), 1);
    await pipe.drain();
    const chunks: { text: string; replies: number }[] = [];
    const seqs = new Array<number>(opts.groups).fill(0);
    const cids = new Map<string, number>(); // corpId -> cid, as the mapping interns them
    for (let o = 0; o < count; o += opts.batchSize) {
      const forward = new Map<string, string[]>();
      const reverse = new Map<string, string[]>();
      for (let i = o; i < Math.min(count, o + opts.batchSize); i++) {
        const { uid, corpId } = entry(i);
        const h = uidHash(uid);
        const g = h % opts.groups;
        const seq = seqs[g]!++;
        const f = `{${opts.prefix}:${g}}:f:${Math.floor(h / opts.groups) % opts.buckets}`;
        const r = `{${opts.prefix}:${g}}:r:${Math.floor(seq / REVERSE_BUCKET_SEQS)}`;
        const fl = forward.get(f);
        if (fl) fl.push(uid, String(seq));
        else forward.set(f, [uid, String(seq)]);
        let cid = cids.get(corpId);
        if (cid === undefined) cids.set(corpId, (cid = cids.size));
        const value = `${cid}:${uid}`;
        const rl = reverse.get(r);
        if (rl) rl.push(String(seq % REVERSE_BUCKET_SEQS), value);
        else reverse.set(r, [String(seq % REVERSE_BUCKET_SEQS), value]);
      }
      let text = "";
      let n = 0;
      for (const map of [forward, reverse]) {
        for (const [key, fields] of map) {
          text += command(["HSET", key, ...fields]);
          if (++n % 512 === 0) {
            chunks.push({ text, replies: 512 });
            text = "";
          }
        }
      }
      chunks.push({ text, replies: n % 512 });
    }
    const started = performance.now();
    for (const c of chunks) await pipe.send(c.text, c.replies);
    await pipe.drain();
    return (performance.now() - started) / 1000;
  } finally {
    socket.destroy();
  }
}
