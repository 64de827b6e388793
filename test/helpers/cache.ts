// Checks of many bits through the cache's batch path, as the tests ask them: by audience, with
// the answers as booleans (the routes use hasAll on a resolved view).
import type { SegmentCache } from "../../orchestrator/cache/segment-cache.js";

/** Membership of many bits in the audience's current version, in request order. */
export async function containsMany(
  cache: SegmentCache,
  audience: string,
  bits: readonly number[],
): Promise<{ version: number; members: boolean[] }> {
  const view = await cache.current(audience);
  const answers = await cache.hasAll(view, Float64Array.from(bits));
  return { version: view.version, members: Array.from(answers, (a) => a === 1) };
}
