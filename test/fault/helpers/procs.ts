// Processes the fault suite starts: every one is tracked so that afterAll (or, failing that, the
// worker's exit) kills it, servers in process groups of their own; every wait has a deadline.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import type { CliRun } from "../../helpers/cli.js";
import { startCli } from "../../helpers/cli.js";

const tracked = new Set<ChildProcess>();
/** Children started in a process group of their own (the servers): signals go to the group. */
const leaders = new WeakSet<ChildProcess>();

/** Kills what is left even when a test (or its afterAll) never ran to the end. */
process.on("exit", () => {
  for (const child of tracked) kill(child, "SIGKILL");
});

/** Sends `signal` to the child's process group if it leads one, else to the child. */
function kill(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    if (leaders.has(child)) {
      process.kill(-child.pid, "SIGCONT"); // a frozen process cannot die of SIGTERM
      process.kill(-child.pid, signal);
    } else {
      child.kill(signal);
    }
  } catch {
    // already gone
  }
}

/** Absolute path of a binary, also looked for in the sbin folders a non-login PATH lacks. */
export function binary(name: string): string {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/local/sbin", "/usr/sbin", "/sbin"];
  for (const d of dirs) {
    const p = join(d, name);
    if (d && existsSync(p)) return p;
  }
  throw new Error(`${name} not found on PATH or in /usr/sbin: install it (npm test's stack setup does)`);
}

/** Starts a server in a process group of its own, tracked for cleanup. */
export function spawnServer(cmd: string, args: string[], stdio: "ignore" | "pipe" = "ignore"): ChildProcess {
  const child = spawn(binary(cmd), args, { detached: true, stdio: ["ignore", stdio, stdio] });
  leaders.add(child);
  tracked.add(child);
  child.once("exit", () => tracked.delete(child));
  child.on("error", () => undefined); // reported by the caller's readiness wait
  return child;
}

export function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** Resolves when the child has exited, or rejects after `ms`. */
export function exited(child: ChildProcess, ms: number, what = "process"): Promise<void> {
  if (!alive(child)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} (pid ${child.pid}) still running after ${ms} ms`)), ms);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Signals the child (its group for servers) and waits for it to exit. */
export async function signalAndWait(child: ChildProcess, signal: NodeJS.Signals, ms = 10_000): Promise<void> {
  kill(child, signal);
  await exited(child, ms, `${signal} to pid ${child.pid}`);
}

export function freeze(child: ChildProcess): void {
  if (child.pid === undefined) throw new Error("not started");
  process.kill(leaders.has(child) ? -child.pid : child.pid, "SIGSTOP");
}

export function thaw(child: ChildProcess): void {
  if (child.pid !== undefined && alive(child)) process.kill(leaders.has(child) ? -child.pid : child.pid, "SIGCONT");
}

const dirs = new Set<string>();

/** A new temporary directory, removed by stopAll(). */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.add(dir);
  return dir;
}

/** Kills everything still running that this file started and removes its temporary directories. */
export async function stopAll(): Promise<void> {
  const left = [...tracked];
  for (const child of left) kill(child, "SIGKILL");
  await Promise.allSettled(left.map((c) => exited(c, 10_000)));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs.clear();
}

export interface Cli {
  child: ChildProcess;
  done: Promise<CliRun>;
  /** stderr so far. */
  stderr(): string;
}

/** startCli, tracked for cleanup, with access to stderr while it runs. */
export function cli(args: string[], env: Record<string, string>): Cli {
  const run = startCli(args, env);
  tracked.add(run.child);
  run.child.once("exit", () => tracked.delete(run.child));
  let err = "";
  run.child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  return { ...run, stderr: () => err };
}

/** The run's result if it exits within `ms`; otherwise it is killed and the test fails with its log. */
export async function exitWithin(run: Cli, ms: number, what: string): Promise<CliRun & { ms: number }> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"late">((r) => (timer = setTimeout(() => r("late"), ms)));
  const res = await Promise.race([run.done, late]);
  clearTimeout(timer);
  if (res === "late") {
    run.child.kill("SIGKILL");
    await run.done.catch(() => undefined);
    throw new Error(`${what}: still running ${ms} ms later; its log ends:\n${tail(run.stderr())}`);
  }
  return { ...res, ms: Date.now() - started };
}

/** The last lines of a log, each cut to 400 characters, for failure messages. */
export function tail(text: string, lines = 8): string {
  return text
    .trimEnd()
    .split("\n")
    .slice(-lines)
    .map((l) => (l.length > 400 ? `${l.slice(0, 400)}…` : l))
    .join("\n");
}

/** pino's JSON lines on stderr (other lines are skipped). */
export function logLines(stderr: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of stderr.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // a partial line
    }
  }
  return out;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
