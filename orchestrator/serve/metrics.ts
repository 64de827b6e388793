// Prometheus metrics of one serving process (a registry per app, so tests can run several).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { SegmentCache } from "../cache/segment-cache.js";

export interface ServeMetrics {
  registry: Registry;
  requestDuration: Histogram<"method" | "route" | "status">;
  syncDuration: Histogram<"result">;
  consumedMessages: Counter<"result">;
  consumerLag: Gauge<"partition">;
  /** 1 while the registration consumer hears from the brokers, 0 while retrying or stopped. */
  consumerUp: Gauge;
}

export function createMetrics(cache: SegmentCache, options: { defaultMetrics?: boolean } = {}): ServeMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: "bitsync_" });
  const requestDuration = new Histogram({
    name: "bitsync_http_request_duration_seconds",
    help: "HTTP request latency by route and status",
    labelNames: ["method", "route", "status"] as const,
    buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5],
    registers: [registry],
  });
  const syncDuration = new Histogram({
    name: "bitsync_sync_duration_seconds",
    help: "Duration of audience syncs run by this process, by result",
    labelNames: ["result"] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [registry],
  });
  const consumedMessages = new Counter({
    name: "bitsync_registrations_total",
    help: "Registrations consumed, by result: mapped or dead_lettered",
    labelNames: ["result"] as const,
    registers: [registry],
  });
  const consumerLag = new Gauge({
    name: "bitsync_registration_consumer_lag",
    help: "Registrations not yet consumed, per partition",
    labelNames: ["partition"] as const,
    registers: [registry],
  });
  const stat = (
    name: string,
    help: string,
    pick: (s: ReturnType<SegmentCache["stats"]>) => number,
    counter = false,
  ) => {
    const collect = function (this: Gauge) {
      this.set(pick(cache.stats()));
    };
    // Cache statistics are read when scraped; hits and misses only grow.
    if (counter)
      new Counter({
        name,
        help,
        registers: [registry],
        collect: function (this: Counter) {
          this.reset();
          this.inc(pick(cache.stats()));
        },
      });
    else new Gauge({ name, help, registers: [registry], collect });
  };
  stat("bitsync_cache_hits_total", "Segment cache hits", (s) => s.hits, true);
  stat("bitsync_cache_misses_total", "Segment cache misses (segment loads from Redis)", (s) => s.misses, true);
  stat("bitsync_cache_evictions_total", "Segments evicted from the cache", (s) => s.evictions, true);
  stat("bitsync_cache_resident_bytes", "Bytes of segments held in WASM memory", (s) => s.residentBytes);
  stat("bitsync_cache_resident_segments", "Segments held in WASM memory", (s) => s.residentSegments);
  stat("bitsync_cache_budget_bytes", "Byte budget of the segment cache", (s) => s.budgetBytes);
  stat(
    "bitsync_wasm_memory_bytes",
    "Size of the WASM core's linear memory (grows, never shrinks)",
    (s) => s.coreMemoryBytes,
  );
  const consumerUp = new Gauge({
    name: "bitsync_consumer_up",
    help: "1 while the registration consumer hears from the Kafka brokers, 0 while it retries or has stopped",
    registers: [registry],
  });
  return { registry, requestDuration, syncDuration, consumedMessages, consumerLag, consumerUp };
}
