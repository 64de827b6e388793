// The kafkajs client of bitsync: its logs go to pino, and it retries like a long-running service.
import { Kafka, logLevel, type KafkaConfig, type LogEntry, type logCreator, type RetryOptions } from "kafkajs";
import type { Logger } from "pino";
import { logger } from "../log.js";

export interface KafkaClientOptions {
  /** Bootstrap brokers, host:port (Config.kafkaBrokers). */
  brokers: string[];
  /** Client id sent to the brokers (Config.kafkaClientId). */
  clientId: string;
  /** Overrides of SERVICE_RETRY (kafkajs' retry of each request, before an error reaches the caller). */
  retry?: RetryOptions;
  /** Time to establish a connection, ms (default 3000). */
  connectionTimeout?: number;
  /** Time to wait for a response, ms (default 30000). */
  requestTimeout?: number;
}

/**
 * kafkajs' retry of a failed request: 300 ms, doubling with ±20% jitter, capped at 30 s, 8 retries (about a
 * minute in all). kafkajs' default (5 retries, 10 s) gives up during an ordinary broker restart or leader
 * election; past these retries the error reaches the caller (KafkaPublishError, or a consumer restart).
 */
export const SERVICE_RETRY: Readonly<Required<Omit<RetryOptions, "restartOnFailure">>> = {
  initialRetryTime: 300,
  maxRetryTime: 30_000,
  factor: 0.2,
  multiplier: 2,
  retries: 8,
};

/** A kafkajs Kafka client whose logs go to `log` (default: the "kafka" module logger). */
export function createKafka(options: KafkaClientOptions, log: Logger = logger("kafka")): Kafka {
  const config: KafkaConfig = {
    brokers: options.brokers,
    clientId: options.clientId,
    connectionTimeout: options.connectionTimeout ?? 3000,
    requestTimeout: options.requestTimeout ?? 30_000,
    enforceRequestTimeout: true,
    retry: { ...SERVICE_RETRY, ...options.retry },
    logLevel: kafkaLogLevel(log.level),
    logCreator: pinoLogCreator(log),
  };
  return new Kafka(config);
}

/** kafkajs' level for a pino level, so kafkajs does not build the entries pino would drop. */
export function kafkaLogLevel(pinoLevel: string): logLevel {
  switch (pinoLevel) {
    case "trace":
    case "debug":
      return logLevel.DEBUG;
    case "info":
      return logLevel.INFO;
    case "warn":
      return logLevel.WARN;
    case "error":
    case "fatal":
      return logLevel.ERROR;
    default:
      return logLevel.NOTHING;
  }
}

/**
 * A kafkajs logCreator writing to pino: ERROR → error, WARN → warn, INFO → info, DEBUG → debug. kafkajs'
 * namespace (Consumer, Connection, ...) becomes `ns`, its extra fields stay fields; its own timestamp and
 * logger name are dropped (pino has both).
 */
export function pinoLogCreator(log: Logger): logCreator {
  return () =>
    ({ namespace, level, log: entry }: LogEntry) => {
      const { message, timestamp: _timestamp, logger: _logger, ...fields } = entry;
      const obj = namespace ? { ns: namespace, ...fields } : fields;
      switch (level) {
        case logLevel.ERROR:
          log.error(obj, message);
          break;
        case logLevel.WARN:
          log.warn(obj, message);
          break;
        case logLevel.INFO:
          log.info(obj, message);
          break;
        case logLevel.DEBUG:
          log.debug(obj, message);
          break;
        default:
          break;
      }
    };
}
