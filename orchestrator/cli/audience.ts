// `bitsync sync | rollback | info | gc`: operator commands on one audience's versions.
import { SingleBar, Presets } from "cli-progress";
import type { Command } from "commander";
import type { Logger } from "pino";
import { configFromEnv, type Config } from "../config/config.js";
import { isRedisUnreachable } from "../redis/client.js";
import { redisWhere } from "../runtime/resources.js";
import { Shutdown } from "../runtime/shutdown.js";
import { logger, rootLogger } from "../log.js";
import { audienceInfo, collectGarbage, rollbackAudience } from "../versions/admin.js";
import { createSyncContext } from "../sync/context.js";
import { syncAudience, type SyncProgress } from "../sync/sync.js";
import { dateArg, versionArg } from "./args.js";

/** Runs `fn` with a sync context; prints a failure as one line and sets a non-zero exit code. */
async function withContext<T>(
  name: string,
  fn: (ctx: ReturnType<typeof createSyncContext>, config: Config, log: Logger) => Promise<T>,
): Promise<void> {
  const config = configFromEnv();
  // A command's output is its result; logs (stderr) default to warnings unless asked for.
  rootLogger(process.env.BITSYNC_LOG_LEVEL ?? "warn");
  const log = logger(`cli.${name}`);
  const ctx = createSyncContext(config, log);
  try {
    await fn(ctx, config, log);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    // ioredis' words alone ("Connection is closed") do not say which server, or what to do.
    const line = isRedisUnreachable(err)
      ? `Redis at ${redisWhere(config)} did not answer (${why}); a version is switched whole or not at all: run it again once Redis answers`
      : why;
    console.error(`bitsync ${name}: ${line}`);
    process.exitCode = 1;
  } finally {
    await ctx.close();
  }
}

/** A progress bar on a TTY (bytes written); plain step lines otherwise are left to the logs. */
function progressReporter(enabled: boolean): { onProgress: (p: SyncProgress) => void; stop(): void } {
  if (!enabled) return { onProgress: () => undefined, stop: () => undefined };
  const bar = new SingleBar(
    { format: "{step} |{bar}| {percentage}% {value}/{total} B {eta_formatted}", hideCursor: true },
    Presets.shades_classic,
  );
  let started = false;
  return {
    onProgress(p) {
      if (p.step === "write" && p.total !== undefined) {
        if (!started) bar.start(Math.max(1, p.total), p.done ?? 0, { step: "write" });
        started = true;
        bar.update(p.done ?? 0, { step: "write" });
      } else if (!started) {
        process.stderr.write(`${p.step}…\n`);
      }
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

export function registerAudienceCommands(program: Command): void {
  program
    .command("sync")
    .description("sync one audience from the source into a new Redis version and switch to it")
    .argument("<audienceId>", "the audience (user_group_id)")
    .option("--imp-date <yyyymmdd>", "the partition to read (default: the latest)", dateArg)
    .option("--force", "accept a cardinality change beyond BITSYNC_SYNC_MAX_DRIFT", false)
    .option("--json", "print the result as JSON", false)
    .action(async (audience: string, opts: { impDate?: number; force: boolean; json: boolean }) => {
      await withContext("sync", async (ctx, config, log) => {
        const progress = progressReporter(!opts.json && process.stderr.isTTY === true);
        // SIGTERM or SIGINT: the sync ends at its next step (a read in flight is dropped), its lock
        // is released and the served version stays; BITSYNC_SHUTDOWN_TIMEOUT_MS bounds all of it.
        const shutdown = new Shutdown({ log, timeoutMs: config.shutdownTimeoutMs });
        const abort = new AbortController();
        try {
          const syncing = syncAudience(ctx.deps, audience, {
            ...(opts.impDate !== undefined ? { impDate: opts.impDate } : {}),
            force: opts.force,
            onProgress: progress.onProgress,
            signal: abort.signal,
          });
          void shutdown.signalled().then(() => {
            abort.abort();
            void ctx.abandonReads();
            void shutdown.run(async (step) => {
              await step(
                "the sync (releasing its lock)",
                syncing.catch(() => undefined),
              );
            });
          });
          const result = await syncing;
          progress.stop();
          if (opts.json) console.log(JSON.stringify(result));
          else
            console.log(
              `audience ${result.audience}: version ${result.version} (was ${result.previous ?? "none"}), ` +
                `${result.cardinality} members, ${result.segments} segments ` +
                `(${result.written} written, ${result.reused} reused), imp_date ${result.impDate}`,
            );
        } finally {
          progress.stop();
          // After a signal the deadline stays armed until the process exits (closing included).
          if (shutdown.signal === undefined) shutdown.dispose();
        }
      });
    });

  program
    .command("rollback")
    .description("point an audience back at a retained version")
    .argument("<audienceId>")
    .option("--to <version>", "target version (default: the newest retained one older than current)", versionArg)
    .option("--json", "print the result as JSON", false)
    .action(async (audience: string, opts: { to?: number; json: boolean }) => {
      await withContext("rollback", async (ctx) => {
        const res = await rollbackAudience(ctx.store, audience, opts.to);
        if (opts.json) console.log(JSON.stringify(res));
        else console.log(`audience ${res.audience}: version ${res.to} is current (was ${res.from})`);
      });
    });

  program
    .command("info")
    .description("show an audience's current version and the retained ones")
    .argument("<audienceId>")
    .option("--json", "print as JSON", false)
    .action(async (audience: string, opts: { json: boolean }) => {
      await withContext("info", async (ctx) => {
        const info = await audienceInfo(ctx.store, audience);
        if (opts.json) {
          console.log(JSON.stringify(info));
          return;
        }
        console.log(
          `audience ${info.audience}: version ${info.version}, ${info.cardinality} members, ${info.segments} segments`,
        );
        for (const r of info.retained) {
          console.log(
            `  ${r.current ? "*" : " "} v${r.version}  ${r.cardinality ?? "expired"}  imp_date ${r.impDate ?? "-"}  ${r.createdAt ?? ""}`,
          );
        }
      });
    });

  program
    .command("gc")
    .description("delete an audience's keys that no retained version references")
    .argument("<audienceId>")
    .option("--json", "print as JSON", false)
    .action(async (audience: string, opts: { json: boolean }) => {
      await withContext("gc", async (ctx) => {
        const res = await collectGarbage(ctx.store, audience);
        if (opts.json) console.log(JSON.stringify({ audience, ...res }));
        else
          console.log(
            `audience ${audience}: deleted ${res.keys} keys (${res.segments} segments, ${res.versions} versions)`,
          );
      });
    });
}
