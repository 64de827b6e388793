// One pino root logger; modules take a child named for themselves.
import { pino, type Logger } from "pino";

let root: Logger | undefined;

export function rootLogger(level = process.env.BITSYNC_LOG_LEVEL ?? "info"): Logger {
  // Logs go to stderr: stdout belongs to command output (`--json` must be one object).
  root ??= pino(
    {
      level,
      base: { service: "bitsync" },
      redact: {
        paths: [
          "*.password",
          "*.mysqlUrl",
          "*.redisUrl",
          "*.adminToken",
          "*.headers.authorization",
          "req.headers.authorization",
        ],
        censor: "***",
      },
    },
    pino.destination(2),
  );
  return root;
}

export function logger(module: string): Logger {
  return rootLogger().child({ module });
}
