// The one backoff of bitsync's retries: exponential, capped, with "equal jitter" (a uniform value
// in [d/2, d]) so that clients failing together (every worker after a Redis restart, every
// consumer after a broker failover) spread out instead of retrying in step.

export interface Backoff {
  /** The delay of the first retry (before jitter), ms. */
  initialMs: number;
  /** The most any delay grows to (before jitter), ms. */
  maxMs: number;
}

/** The delay before retry `attempt` (1 for the first): initialMs doubled per attempt, capped at maxMs, jittered. */
export function backoffDelay(attempt: number, backoff: Backoff, random: () => number = Math.random): number {
  const capped = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(capped / 2 + (random() * capped) / 2);
}

/** How Redis clients reconnect: from 100 ms up to 2 s between attempts. */
export const REDIS_RECONNECT: Backoff = { initialMs: 100, maxMs: 2000 };
