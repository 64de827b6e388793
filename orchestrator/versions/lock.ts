// The sync lock of one audience: taken with SET NX PX, extended while its holder works, released
// by token (a lock that expired and was taken over is never released by its old holder).
import type { RedisLike } from "../redis/cluster.js";
import type { BitsyncScripts } from "../redis/scripts.js";

export class AudienceLock {
  #lost = false;
  #timer: NodeJS.Timeout;

  constructor(
    private readonly redis: RedisLike & BitsyncScripts,
    readonly key: string,
    readonly token: string,
    ttlMs: number,
  ) {
    // Extend at a third of the TTL so one slow round trip does not lose the lock.
    this.#timer = setInterval(
      () => {
        this.redis.extendLock(this.key, this.token, ttlMs).then(
          (ok) => {
            if (ok !== 1) this.#lost = true;
          },
          () => undefined, // a transient error; the next tick retries, the swap checks for real
        );
      },
      Math.max(100, Math.floor(ttlMs / 3)),
    );
    this.#timer.unref();
  }

  get lost(): boolean {
    return this.#lost;
  }

  async release(): Promise<void> {
    clearInterval(this.#timer);
    await this.redis.unlock(this.key, this.token).catch(() => undefined);
  }
}
