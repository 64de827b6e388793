// The compiled `bitsync` command run as an operator runs it: a child process with the stack's
// environment plus overrides. Tests that use it run after `npm run build` (npm test builds first).
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

export const CLI = fileURLToPath(new URL("../../dist/orchestrator/cli/main.js", import.meta.url));

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Starts `bitsync args...`; `done` settles when it exits (killed or not). */
export function startCli(
  args: string[],
  env: Record<string, string> = {},
): { child: ChildProcess; done: Promise<CliRun> } {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, BITSYNC_LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<CliRun>((resolve, reject) => {
    child.on("error", reject);
    child.on("exit", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done };
}

/** Runs `bitsync args...` to the end. */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return startCli(args, env).done;
}

/** The last stdout line as JSON (commands print their result last). */
export function lastJson<T = Record<string, unknown>>(run: CliRun): T {
  const line = run.stdout.trimEnd().split("\n").pop() ?? "";
  try {
    return JSON.parse(line) as T;
  } catch {
    throw new Error(`no JSON on stdout (exit ${run.code ?? run.signal}):\n${run.stdout}\n${run.stderr}`);
  }
}

/** What `bitsync inspect --json` prints for an empty bitmap of `format` (type code 0). */
export function emptyInspection(format: string): Record<string, unknown> {
  return { format, typeCode: 0, cardinality: 0, min: null, max: null, sample: [], bits64: false };
}
