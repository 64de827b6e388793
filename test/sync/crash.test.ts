// A sync process really killed (SIGKILL) in the middle of writing: the old version is still
// served, and gc removes everything the dead sync left once its lock has expired.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { SegmentCache } from "../../orchestrator/cache/segment-cache.js";
import { audienceKeys } from "../../orchestrator/versions/keys.js";
import { collectGarbage } from "../../orchestrator/versions/admin.js";
import { syncAudience } from "../../orchestrator/sync/sync.js";
import { BitmapCore } from "../../orchestrator/wasm/core.js";
import { newAudienceId, starrocksBytes, sourceFixture } from "../helpers/audience.js";
import { mulberry32 } from "../helpers/roaring.js";
import { waitFor } from "../helpers/stack.js";

const cli = fileURLToPath(new URL("../../dist/orchestrator/cli/main.js", import.meta.url));
const fx = sourceFixture();
const { redis } = fx;

function bigAudience(count: number, space: number, seed: number): number[] {
  const rnd = mulberry32(seed);
  const set = new Set<number>();
  while (set.size < count) set.add(Math.floor(rnd() * space));
  return [...set];
}

describe("a sync killed mid-write", () => {
  it("leaves the served version intact, and gc cleans up after it", async () => {
    const aud = newAudienceId();
    const small = [10, 20, 30];
    await fx.table.put(aud, 20261120, 0, small);
    const extra = {
      BITSYNC_SYNC_WRITE_CHUNK_BYTES: "1",
      BITSYNC_SYNC_LOCK_TTL_MS: "1500",
      BITSYNC_SYNC_MAX_DRIFT: "1e9",
    };
    // The child writes one segment per round trip, ~300 segments (~4 MB) paced at 500 kB/s: its
    // write lasts seconds, so the kill lands mid-write however fast the machine is.
    const paced = { ...extra, BITSYNC_SYNC_WRITE_BYTES_PER_S: "500000" };
    const ctx = fx.table.context(extra);
    try {
      await syncAudience(ctx.deps, aud);
      const big = bigAudience(2_000_000, 300_000_000, 21);
      await fx.table.put(aud, 20261121, 0, starrocksBytes(big), big.length);

      const keys = audienceKeys(aud);
      const before = await redis.scard(keys.segs);
      const child = spawn(process.execPath, [cli, "sync", aud, "--json"], {
        env: { ...process.env, ...fx.table.env(paced) },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((resolve) =>
        child.on("exit", (code, signal) => resolve(signal ? null : code)),
      );
      // Kill it as soon as its first segments are registered: it is mid-write.
      await waitFor(
        "the child sync to start writing",
        async () => ((await redis.scard(keys.segs)) > before ? true : undefined),
        60_000,
      );
      child.kill("SIGKILL");
      expect(await exited, stderr).toBeNull();

      const head = await ctx.store.head(aud);
      expect(head.current).toBe(1);
      const written = await redis.scard(keys.segs);
      expect(written).toBeGreaterThan(before);
      const cache = new SegmentCache(ctx.store, BitmapCore.create({ budgetBytes: 1 << 20 }), {
        budgetBytes: 1 << 20,
        pollMs: 0,
      });
      expect((await cache.page(aud, { rank: 0 }, 10)).bits).toEqual(small);
      await cache.stop();

      // The dead sync's lock expires; then gc removes its segments and its version.
      await waitFor(
        "the dead sync's lock to expire",
        async () => ((await redis.exists(keys.lock)) === 0 ? true : undefined),
        10_000,
      );
      const res = await collectGarbage(ctx.store, aud);
      expect(res.segments).toBe(written - before);
      expect(res.versions).toBe(1);
      expect(await redis.scard(keys.segs)).toBe(before);
      expect(await redis.smembers(keys.versions)).toEqual(["1"]);

      // And the next sync goes through.
      const next = await syncAudience(ctx.deps, aud);
      expect(next.cardinality).toBe(big.length);
      expect(next.previous).toBe(1);
    } finally {
      await ctx.close();
    }
  });
});
