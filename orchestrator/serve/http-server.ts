// The HTTP server under fastify, with the limits that keep slow or idle clients from holding it:
// a deadline for the headers and for the whole request, an idle time for keep-alive connections,
// and a cap on open connections below the process's file descriptor limit.
import { readFileSync } from "node:fs";
import { createServer, type RequestListener, type Server } from "node:http";

export interface HttpLimits {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  /** 0: derived from the file descriptor limit (see maxConnectionsFor). */
  maxConnections: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 0,
};

/** Descriptors left for Redis, MySQL and Kafka connections, files and the runtime. */
const RESERVED_FDS = 256;
const MAX_CONNECTIONS_CAP = 16_384;

/** The soft RLIMIT_NOFILE of this process, from /proc (Linux); undefined elsewhere. */
export function openFileLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync("/proc/self/limits", "utf8"));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** The connection cap: the configured one, or the descriptor limit less a reserve. */
export function maxConnectionsFor(configured: number, fdLimit = openFileLimit()): number {
  if (configured > 0) return configured;
  if (fdLimit === undefined) return 4096;
  return Math.max(64, Math.min(MAX_CONNECTIONS_CAP, fdLimit - RESERVED_FDS));
}

/** A fastify serverFactory that applies the limits. */
export function limitedServerFactory(limits: HttpLimits): (handler: RequestListener) => Server {
  return (handler) => {
    const requestTimeout = limits.requestTimeoutMs;
    const server = createServer(
      {
        // Node refuses headersTimeout > requestTimeout.
        headersTimeout: Math.min(limits.headersTimeoutMs, requestTimeout),
        requestTimeout,
        keepAliveTimeout: limits.keepAliveTimeoutMs,
        // Node checks both deadlines on this interval (30 s by default): a deadline of 1 s
        // would otherwise hold a silent socket for up to 31 s.
        connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(limits.headersTimeoutMs / 2))),
      },
      handler,
    );
    // A socket that goes silent mid-request outside the checks above (a stalled body, say).
    server.timeout = requestTimeout;
    // Past the cap, Node closes new connections as soon as they are accepted.
    server.maxConnections = maxConnectionsFor(limits.maxConnections);
    return server;
  };
}
