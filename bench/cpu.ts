// CPU seconds spent by each process of a bench phase: Redis (INFO cpu, main thread and I/O),
// this Node process (process.cpuUsage), and the Kafka broker when it is the stack's kcat (its
// pid file, /proc). On a 2-core machine a rate is bounded by the CPU all of them need per ID:
// 2 cores / (CPU seconds per ID) is the ceiling, whatever overlaps.
import { existsSync, readFileSync } from "node:fs";
import type { Redis } from "ioredis";

export interface CpuSnapshot {
  redis: number;
  node: number;
  /** Undefined when the broker is not a local process this bench can see. */
  broker: number | undefined;
}

const CLOCK_TICKS = 100; // Linux USER_HZ: /proc/<pid>/stat counts in 1/100 s

function brokerSeconds(): number | undefined {
  const pidFile = process.env.BITSYNC_BENCH_BROKER_PIDFILE ?? ".stack/kafka.pid";
  if (!existsSync(pidFile)) return undefined;
  const pid = readFileSync(pidFile, "utf8").trim();
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command's closing parenthesis: utime and stime are 14th and 15th overall.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

export async function cpuSnapshot(redis: Redis): Promise<CpuSnapshot> {
  const info = await redis.info("cpu");
  const field = (name: string): number => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0);
  const usage = process.cpuUsage();
  return {
    redis: field("used_cpu_user") + field("used_cpu_sys"),
    node: (usage.user + usage.system) / 1e6,
    broker: brokerSeconds(),
  };
}

/** Microseconds of CPU per item between two snapshots, for each process and in all. */
export function cpuPerItem(
  from: CpuSnapshot,
  to: CpuSnapshot,
  items: number,
): { redis_us: number; node_us: number; broker_us: number | null; total_us: number } {
  const us = (a: number, b: number): number => ((b - a) * 1e6) / items;
  const redis = us(from.redis, to.redis);
  const node = us(from.node, to.node);
  const broker = from.broker !== undefined && to.broker !== undefined ? us(from.broker, to.broker) : null;
  return { redis_us: redis, node_us: node, broker_us: broker, total_us: redis + node + (broker ?? 0) };
}
