// Graceful shutdown with a deadline, for every long-running command (serve, map consume, sync).
// The first SIGTERM or SIGINT starts the stop; a second one exits at once; and when the stop is
// not done within BITSYNC_SHUTDOWN_TIMEOUT_MS, the process logs what it was still waiting for
// and exits 1. A dead or frozen dependency can delay an exit, never prevent it.
import type { Logger } from "pino";

/** Exit code of a stop cut short, by the deadline or by a second signal. */
export const EXIT_STOP_CUT_SHORT = 1;

export interface ShutdownOptions {
  log: Logger;
  timeoutMs: number;
  /** Signals that start the stop (default SIGTERM and SIGINT). */
  signals?: NodeJS.Signals[];
  /** Replaced in tests; exits the process otherwise. */
  exit?: (code: number) => void;
}

export class Shutdown {
  readonly #log: Logger;
  readonly #timeoutMs: number;
  readonly #exit: (code: number) => void;
  readonly #signals: NodeJS.Signals[];
  readonly #pending = new Map<number, string>();
  #next = 0;
  #signalled: NodeJS.Signals | undefined;
  #waiters: ((s: NodeJS.Signals) => void)[] = [];
  #deadline: NodeJS.Timeout | undefined;

  constructor(opts: ShutdownOptions) {
    this.#log = opts.log;
    this.#timeoutMs = opts.timeoutMs;
    this.#exit = opts.exit ?? ((code) => process.exit(code));
    this.#signals = opts.signals ?? ["SIGTERM", "SIGINT"];
    for (const s of this.#signals) process.on(s, this.#onSignal);
  }

  readonly #onSignal = (signal: NodeJS.Signals): void => {
    if (this.#signalled === undefined) {
      this.#signalled = signal;
      this.#log.info({ signal, timeoutMs: this.#timeoutMs }, "shutting down");
      for (const w of this.#waiters.splice(0)) w(signal);
      return;
    }
    this.#log.warn({ signal, waitingFor: this.pending() }, "second signal: exiting now, without finishing the stop");
    this.#exit(EXIT_STOP_CUT_SHORT);
  };

  /** The signal that started the stop, once one has. */
  get signal(): NodeJS.Signals | undefined {
    return this.#signalled;
  }

  /** Resolves with the first signal. */
  signalled(): Promise<NodeJS.Signals> {
    if (this.#signalled) return Promise.resolve(this.#signalled);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Starts the stop as a signal would (for stops that begin for another reason). */
  trigger(reason: NodeJS.Signals = "SIGTERM"): void {
    if (this.#signalled === undefined) this.#onSignal(reason);
  }

  /** What the stop is still waiting for, by step name. */
  pending(): string[] {
    return [...this.#pending.values()];
  }

  /** Runs one named step of the stop: while it runs, its name is what the stop waits for. */
  async step<T>(name: string, work: Promise<T> | (() => Promise<T>)): Promise<T> {
    const id = this.#next++;
    this.#pending.set(id, name);
    try {
      return await (typeof work === "function" ? work() : work);
    } finally {
      this.#pending.delete(id);
    }
  }

  /**
   * Runs `stop` under the deadline. Resolves when it finished in time (the caller then exits);
   * when the deadline passes first, logs what was pending and exits 1.
   */
  async run(stop: (step: Shutdown["step"]) => Promise<void>): Promise<void> {
    this.#deadline = setTimeout(() => {
      this.#log.error(
        { waitingFor: this.pending(), timeoutMs: this.#timeoutMs },
        `shutdown deadline of ${this.#timeoutMs} ms (BITSYNC_SHUTDOWN_TIMEOUT_MS) passed: exiting without finishing the stop`,
      );
      this.#exit(EXIT_STOP_CUT_SHORT);
    }, this.#timeoutMs);
    // The deadline bounds the stop; it must not itself keep a finished process alive.
    this.#deadline.unref();
    try {
      await stop((name, work) => this.step(name, work));
    } finally {
      clearTimeout(this.#deadline);
    }
  }

  /** Removes the signal handlers (tests; a process that lives on after its stop). */
  dispose(): void {
    clearTimeout(this.#deadline);
    for (const s of this.#signals) process.off(s, this.#onSignal);
  }
}

/**
 * Ends the process once its stop is done. Clients of dead dependencies leave reconnect timers
 * behind (kafkajs' among them) that would keep it alive for minutes after it logged "stopped".
 */
export function exitNow(code: number): void {
  process.exitCode = process.exitCode || code;
  process.exit();
}
