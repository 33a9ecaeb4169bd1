import { pino, type Logger } from 'pino';
import type { LogConfig } from '../config/types.js';
import type { AccessLogWriter } from '../proxy/access-log.js';

export interface Loggers {
  /** Operational messages (JSON lines on stderr). */
  readonly logger: Logger;
  /** Access log writer; undefined when `log.access` is `off`. */
  readonly accessLog: AccessLogWriter | undefined;
  /** Writes out buffered lines and stops the periodic flush; call before exit. */
  close(): void;
}

/** How often the buffered access log is flushed while lines come in slower than 4 KiB at a time. */
const ACCESS_FLUSH_MS = 1000;

/**
 * Builds the operational logger and the access log. The access log is
 * buffered (asynchronous writes of at least 4 KiB) so logging stays off the
 * request path's critical section; a quiet listener's lines are written
 * within about two seconds, as NGINX's `access_log ... flush=` does.
 */
export function createLoggers(config: LogConfig, options: { readonly withPid?: boolean } = {}): Loggers {
  // Worker processes tag every line with their pid so operators can tell them apart.
  const base = { base: options.withPid === true ? { pid: process.pid } : undefined, timestamp: pino.stdTimeFunctions.isoTime };
  const opsDestination = pino.destination({ dest: 2, sync: true });
  const logger = pino({ ...base, level: config.level }, opsDestination);
  if (config.access === 'off') {
    return { logger, accessLog: undefined, close: () => undefined };
  }
  const dest = config.access === 'stdout' ? 1 : config.access === 'stderr' ? 2 : config.access;
  const accessDestination = pino.destination({ dest, sync: false, minLength: 4096, mkdir: true });
  const access = pino({ ...base, level: 'info' }, accessDestination);
  // A flush that finds a write under way leaves what came meanwhile in the
  // buffer, so the ticker flushes once more after the last line.
  let flushesDue = 0;
  const ticker = setInterval(() => {
    if (flushesDue === 0) return;
    flushesDue--;
    accessDestination.flush();
  }, ACCESS_FLUSH_MS);
  ticker.unref();
  return {
    logger,
    accessLog: (entry) => {
      flushesDue = 2;
      access.info(entry);
    },
    close: () => {
      clearInterval(ticker);
      accessDestination.flushSync();
    },
  };
}
