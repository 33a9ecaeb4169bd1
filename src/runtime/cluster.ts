import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { loadConfigFile } from '../config/index.js';
import type { BallastConfig } from '../config/types.js';
import type { ServerSnapshot } from '../pools/pool.js';
import { createLoggers } from './logging.js';
import { Runtime, type WorkerFleet } from './runtime.js';
import type { RuntimeStatus } from './status.js';

type Snapshots = Record<string, Record<string, ServerSnapshot>>;

/** Messages from the primary to a worker. */
type ToWorker =
  | { readonly t: 'state'; readonly snapshots: Snapshots }
  | { readonly t: 'reload' }
  | { readonly t: 'metrics'; readonly id: number }
  | { readonly t: 'shutdown' };

/** Messages from a worker to the primary. */
type ToPrimary =
  | { readonly t: 'hello' }
  | { readonly t: 'status'; readonly status: RuntimeStatus }
  | { readonly t: 'metrics'; readonly id: number; readonly data: object[] };

/** How often a worker reports its status to the primary. */
const STATUS_INTERVAL_MS = 500;
/** How long the primary waits for a worker's metrics before leaving it out. */
const METRICS_TIMEOUT_MS = 2000;
/** Delay before a crashed worker is started again; doubles on crash loops up to the maximum. */
const RESTART_DELAY_MS = 500;
const MAX_RESTART_DELAY_MS = 30_000;

/** The number of worker processes `workers` asks for. */
export function workerCount(config: BallastConfig): number {
  return config.workers === 'auto' ? availableParallelism() : config.workers;
}

interface WorkerEntry {
  readonly worker: Worker;
  status: RuntimeStatus | undefined;
}

/**
 * The primary of a multi-process Ballast. It runs the active health checks,
 * the admin API, the ledger and GSLB once, forks `count` workers that share
 * the listening sockets (Node's cluster hands connections out round robin),
 * sends them every change of server state at once, restarts a worker that
 * crashed, and aggregates their status and metrics. Resolves with the exit
 * code after SIGTERM/SIGINT drained the workers.
 */
export async function runPrimary(file: string, config: BallastConfig, count: number): Promise<number> {
  const runtime = await Runtime.start(config, { role: 'primary' });
  const logger = runtime.logger;
  const entries = new Map<number, WorkerEntry>();
  const pendingMetrics = new Map<number, (data: object[]) => void>();
  let nextMetricsId = 1;
  let stopping = false;
  let restartDelay = RESTART_DELAY_MS;

  const send = (worker: Worker, message: ToWorker): void => {
    if (worker.isConnected()) worker.send(message);
  };
  const broadcast = (message: ToWorker): void => {
    for (const { worker } of entries.values()) send(worker, message);
  };

  const fleet: WorkerFleet = {
    statuses: () => [...entries.values()].flatMap((entry) => (entry.status === undefined ? [] : [entry.status])),
    // A worker counts once it reported: its listeners are bound by then.
    workers: () =>
      [...entries.values()].filter((entry) => entry.status !== undefined).map(({ worker }) => ({ id: worker.id, pid: worker.process.pid })),
    metrics: async () => {
      const answers = [...entries.values()].map(
        ({ worker }) =>
          new Promise<object[]>((resolve) => {
            const id = nextMetricsId++;
            const timer = setTimeout(() => {
              pendingMetrics.delete(id);
              resolve([]);
            }, METRICS_TIMEOUT_MS);
            pendingMetrics.set(id, (data) => {
              clearTimeout(timer);
              pendingMetrics.delete(id);
              resolve(data);
            });
            send(worker, { t: 'metrics', id });
          }),
      );
      return (await Promise.all(answers)).filter((data) => data.length > 0);
    },
  };
  runtime.attachFleet(fleet);

  // Any server change (health verdict, drain, weight...) goes to every worker at once.
  let statePending = false;
  runtime.events.subscribe((event) => {
    if (event.type === 'config-reloaded') {
      broadcast({ t: 'reload' });
      return;
    }
    if (event.pool === undefined || statePending) return;
    statePending = true;
    setImmediate(() => {
      statePending = false;
      broadcast({ t: 'state', snapshots: runtime.snapshots() });
    });
  });

  const fork = (): void => {
    const worker = cluster.fork();
    const entry: WorkerEntry = { worker, status: undefined };
    entries.set(worker.id, entry);
    worker.on('message', (message: ToPrimary) => {
      if (message.t === 'hello') send(worker, { t: 'state', snapshots: runtime.snapshots() });
      else if (message.t === 'status') entry.status = message.status;
      else if (message.t === 'metrics') pendingMetrics.get(message.id)?.(message.data);
    });
    worker.on('online', () => logger.info({ worker: worker.id, pid: worker.process.pid }, 'worker started'));
    worker.on('listening', () => {
      restartDelay = RESTART_DELAY_MS;
    });
  };

  cluster.setupPrimary({ exec: process.argv[1] as string, args: process.argv.slice(2) });
  cluster.on('exit', (worker, code, signal) => {
    entries.delete(worker.id);
    if (stopping) return;
    logger.error({ worker: worker.id, pid: worker.process.pid, code, signal }, 'worker exited; starting a new one');
    const timer = setTimeout(fork, restartDelay);
    timer.unref();
    restartDelay = Math.min(MAX_RESTART_DELAY_MS, restartDelay * 2);
  });
  for (let i = 0; i < count; i++) fork();

  process.on('SIGHUP', () => {
    void runtime.reloadFromSource().then((result) => {
      if (result.ok) logger.info({ file }, 'config reloaded');
      else logger.error({ file, issues: result.errors }, 'reload failed; the running config stays');
    });
  });

  return new Promise((resolve) => {
    const shutdown = (signal: NodeJS.Signals): void => {
      if (stopping) return;
      stopping = true;
      process.stderr.write(`ballast: ${signal} received, draining ${entries.size} worker(s)\n`);
      broadcast({ t: 'shutdown' });
      const deadline = setTimeout(() => {
        for (const { worker } of entries.values()) worker.process.kill('SIGKILL');
      }, config.drainTimeout + 5000);
      const waitForWorkers = setInterval(() => {
        if (Object.keys(cluster.workers ?? {}).length > 0) return;
        clearInterval(waitForWorkers);
        clearTimeout(deadline);
        void runtime.close(0).then(() => resolve(0));
      }, 50);
    };
    process.on('SIGTERM', shutdown);
    process.on('SIGINT', shutdown);
  });
}

/**
 * A worker: asks the primary for the current server states, binds the
 * listeners (shared through the primary) and proxies, following the
 * primary's state changes and reloads. Health checks never run here.
 */
export async function runWorker(file: string): Promise<number> {
  const sendToPrimary = (message: ToPrimary): void => {
    if (process.connected) process.send?.(message);
  };
  const firstState = new Promise<Snapshots>((resolve) => {
    const onMessage = (message: ToWorker): void => {
      if (message.t !== 'state') return;
      process.off('message', onMessage);
      resolve(message.snapshots);
    };
    process.on('message', onMessage);
  });
  sendToPrimary({ t: 'hello' });
  const config = await loadConfigFile(file);
  const runtime = await Runtime.start(config, {
    role: 'worker',
    loggers: createLoggers(config.log, { withPid: true }),
    initialSnapshots: await firstState,
  });
  process.on('message', (message: ToWorker) => {
    switch (message.t) {
      case 'state':
        runtime.applySnapshots(message.snapshots);
        return;
      case 'reload':
        void runtime.reloadFromSource().then(() => sendToPrimary({ t: 'hello' }));
        return;
      case 'metrics':
        void runtime.metricsJson().then((data) => sendToPrimary({ t: 'metrics', id: message.id, data }));
        return;
      case 'shutdown':
        void runtime.close().then(() => process.exit(0));
        return;
      default: {
        const unreachable: never = message;
        runtime.logger.warn({ message: unreachable }, 'unknown message from the primary');
      }
    }
  });
  // State sent while this worker was starting was not heard (discovery may have delayed the start): ask again.
  sendToPrimary({ t: 'hello' });
  const reporter = setInterval(() => sendToPrimary({ t: 'status', status: runtime.status() }), STATUS_INTERVAL_MS);
  reporter.unref();
  sendToPrimary({ t: 'status', status: runtime.status() });
  // The primary coordinates reloads; signals from a terminal reach the whole process group.
  process.on('SIGHUP', () => undefined);
  return new Promise((resolve) => {
    const stop = (): void => {
      void runtime.close().then(() => resolve(0));
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}
