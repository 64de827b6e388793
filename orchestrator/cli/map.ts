// `bitsync map lookup | reverse | stats`: the ID mapping from the command line.
import { createHash } from "node:crypto";
import { Presets, SingleBar } from "cli-progress";
import { InvalidArgumentError, type Command } from "commander";
import { configFromEnv, type Config } from "../config/config.js";
import { logger, rootLogger } from "../log.js";
import { RecordPublisher } from "../kafka/producer.js";
import { createMappingContext, type MappingContext } from "../mapping/context.js";
import { runImport, type ImportProgress } from "../mapping/import.js";
import { KafkaMappingSink } from "../mapping/publish.js";
import { bitArg, positiveInt as positive, uidArg } from "./args.js";
import { csvSource, DEFAULT_MAX_LINE_BYTES, ndjsonSource, sqlSource } from "../mapping/sources.js";

/** A bit as JSON: a number, or a decimal string above 2^53 (JSON readers lose such numbers). */
export function jsonBit(bit: bigint | number): number | string {
  return typeof bit === "bigint" ? (bit > BigInt(Number.MAX_SAFE_INTEGER) ? bit.toString() : Number(bit)) : bit;
}

/** Runs `fn` with the mapping; a failure prints one line and sets a non-zero exit code. */
export async function withMapping(
  name: string,
  fn: (ctx: MappingContext, config: Config) => Promise<void>,
): Promise<void> {
  const config = configFromEnv();
  rootLogger(process.env.BITSYNC_LOG_LEVEL ?? "warn");
  const ctx = createMappingContext(config, logger(`cli.map.${name}`));
  try {
    await fn(ctx, config);
  } catch (err) {
    console.error(`bitsync map ${name}: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  } finally {
    await ctx.close();
  }
}

export function registerMapCommands(map: Command): void {
  registerMapImport(map);
  map
    .command("lookup")
    .description("the bit of each uid (null: not mapped)")
    .argument("<uid...>", "business IDs", (raw, prev: string[] | undefined) => uidArg(raw, prev))
    .option("--json", 'print {"bits":{"<uid>":<bit or null>}}', false)
    .action(async (uids: string[], opts: { json: boolean }) => {
      await withMapping("lookup", async ({ mapper }) => {
        const bits = await mapper.lookup(uids);
        if (opts.json) {
          const out: Record<string, number | string | null> = {};
          uids.forEach((u, i) => (out[u] = bits[i] === null ? null : jsonBit(bits[i]!)));
          console.log(JSON.stringify({ bits: out }));
        } else {
          uids.forEach((u, i) => console.log(`${u}\t${bits[i] ?? "not mapped"}`));
        }
      });
    });

  map
    .command("reverse")
    .description("the uid and corpId of each bit (null: never handed out)")
    .argument("<bit...>", "bit positions", (raw, prev: bigint[] | undefined) => bitArg(raw, prev))
    .option("--json", 'print {"uids":{"<bit>":{"uid","corpId"} or null}}', false)
    .action(async (bits: bigint[], opts: { json: boolean }) => {
      await withMapping("reverse", async ({ mapper }) => {
        // A bit beyond 2^53 was never handed out (bits are seq * G + g in JS numbers).
        const safe = bits.map((b) => (b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : -1));
        const ids = await mapper.reverse(safe);
        if (opts.json) {
          const out: Record<string, { uid: string; corpId: string } | null> = {};
          bits.forEach((b, i) => (out[b.toString()] = ids[i] ?? null));
          console.log(JSON.stringify({ uids: out }));
        } else {
          bits.forEach((b, i) => {
            const id = ids[i];
            console.log(`${b}\t${id ? `${id.uid}\t${id.corpId}` : "not mapped"}`);
          });
        }
      });
    });

  map
    .command("stats")
    .description("how many IDs are mapped, the bit span, and Redis bytes per ID")
    .option("--sample <n>", "buckets sampled per kind for the memory estimate", positive, 200)
    .option("--json", "print the figures as JSON", false)
    .action(async (opts: { json: boolean; sample: number }) => {
      await withMapping("stats", async ({ mapper }) => {
        const stats = await mapper.stats();
        const memory = await mapper.memory(opts.sample);
        if (opts.json) {
          console.log(
            JSON.stringify({
              count: stats.ids,
              nextBit: jsonBit(stats.bitSpan),
              groups: stats.groups,
              bytesPerId: memory.bytesPerId,
              memory,
              perGroup: stats.perGroup,
            }),
          );
        } else {
          console.log(`mapped IDs      ${stats.ids}`);
          console.log(
            `next bit        ${stats.bitSpan}${stats.bitSpan > 0 ? ` (bits in use: 0..${stats.bitSpan - 1})` : ""}`,
          );
          console.log(`groups          ${stats.groups}`);
          console.log(
            `bytes per ID    ${memory.bytesPerId === null ? "n/a" : memory.bytesPerId.toFixed(1)} ` +
              `(${memory.exact ? "exact" : `estimated from ${memory.sampled} sampled keys`})`,
          );
        }
      });
    });
}

interface ImportCliOptions {
  fromSql?: string;
  ndjson?: string;
  csv?: string;
  batch: number;
  checkpoint?: string;
  rejects?: string;
  restart: boolean;
  expect?: number;
  maxLineBytes: number;
  json: boolean;
}

export function registerMapImport(map: Command): void {
  map
    .command("import")
    .description("cold start: map every existing ID from a query or a file, publishing each mapping downstream")
    .option("--from-sql <query>", "a query over MYSQL_URL selecting uid, corpId (give it a stable ORDER BY to resume)")
    .option("--ndjson <file>", 'a file of {"uid","corpId"} lines')
    .option("--csv <file>", "a file of uid,corpId lines (RFC 4180 quoting; an optional header line uid,corpId)")
    .option("--batch <n>", "IDs per batch (allocated, published, then checkpointed)", positive, 20_000)
    .option("--checkpoint <file>", "checkpoint file (default: next to the input, or named after the query)")
    .option("--rejects <file>", "where rejected rows go, as NDJSON {line, reason, raw} (default: <checkpoint>.rejects)")
    .option("--expect <n>", "about how many IDs the source holds (files are estimated): presizes new groups", positive)
    .option("--restart", "ignore the checkpoint and start over (mapping is idempotent)", false)
    .option(
      "--max-line-bytes <n>",
      "longest line of a file: a longer one is rejected (its number and first bytes) and skipped",
      positive,
      DEFAULT_MAX_LINE_BYTES,
    )
    .option("--json", "print the summary as JSON", false)
    .action(async (opts: ImportCliOptions) => {
      const given = [opts.fromSql, opts.ndjson, opts.csv].filter((x) => x !== undefined);
      if (given.length !== 1) throw new InvalidArgumentError("give exactly one of --from-sql, --ndjson, --csv");
      await withMapping("import", async ({ mapper, kafka }, config) => {
        const source =
          opts.fromSql !== undefined
            ? sqlSource(config.mysqlUrl, opts.fromSql)
            : opts.ndjson !== undefined
              ? ndjsonSource(opts.ndjson, { maxLineBytes: opts.maxLineBytes })
              : csvSource(opts.csv!, { maxLineBytes: opts.maxLineBytes });
        const checkpoint =
          opts.checkpoint ??
          (opts.fromSql !== undefined
            ? `bitsync-import-${createHash("sha1").update(opts.fromSql).digest("hex").slice(0, 10)}.checkpoint.json`
            : `${opts.ndjson ?? opts.csv}.bitsync-checkpoint.json`);
        const publisher = new RecordPublisher(kafka);
        await publisher.connect();
        const progress = importProgress(!opts.json && process.stderr.isTTY === true);
        try {
          const summary = await runImport({
            source,
            mapper,
            sink: new KafkaMappingSink(publisher, config.mappingTopic, config.mappingsPerMessage),
            rules: { maxBytes: config.mapUidMaxBytes, pattern: config.mapUidPattern },
            batchSize: opts.batch,
            checkpoint,
            rejects: opts.rejects ?? `${checkpoint}.rejects`,
            restart: opts.restart,
            ...(opts.expect !== undefined ? { expectedIds: opts.expect } : {}),
            onProgress: progress.update,
          });
          progress.stop();
          if (opts.json) {
            console.log(JSON.stringify({ ...summary, checkpoint, idsPerSecond: summary.mapped / summary.seconds }));
          } else if (summary.alreadyDone) {
            console.log(`already imported (checkpoint ${checkpoint}); --restart to run again`);
          } else {
            console.log(
              `imported ${summary.mapped} IDs (${summary.created} new, ${summary.rejected} rejected) in ` +
                `${summary.seconds.toFixed(1)} s, ${(summary.mapped / summary.seconds).toFixed(0)} IDs/s` +
                (summary.resumedFrom > 0 ? `, resumed from ${summary.resumedFrom} ${source.unit}` : ""),
            );
            if (summary.rejected > 0) console.log(`rejected rows: ${opts.rejects ?? `${checkpoint}.rejects`}`);
          }
        } finally {
          progress.stop();
          await publisher.disconnect();
        }
      });
    });
}

/** A progress bar with rate and ETA on a TTY (bytes of a file; rows of a query, total unknown). */
function importProgress(enabled: boolean): { update: (p: ImportProgress) => void; stop(): void } {
  if (!enabled) return { update: () => undefined, stop: () => undefined };
  let bar: SingleBar | undefined;
  const started = performance.now();
  return {
    update(p) {
      const rate = Math.round(p.mapped / Math.max(0.001, (performance.now() - started) / 1000));
      if (!bar) {
        bar = new SingleBar(
          {
            format:
              p.total === undefined
                ? "import | {value} rows | {mapped} IDs | {rate} IDs/s | {duration_formatted}"
                : "import |{bar}| {percentage}% | {mapped} IDs | {rate} IDs/s | ETA {eta_formatted}",
            hideCursor: true,
            etaBuffer: 20,
          },
          Presets.shades_classic,
        );
        bar.start(p.total ?? 0, p.position, { mapped: p.mapped, rate });
      }
      bar.update(p.position, { mapped: p.mapped, rate });
    },
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}
