/**
 * `ballast drill --demo`: a complete drill on this machine. Three backend
 * servers run as separate processes (demo-backend.js); Ballast runs in this
 * process in front of them with active health checks every 500 ms, outlier
 * detection and retries; after a 1 s warm-up the drill sends 200
 * requests/s for 6 s, SIGKILLs app-2 at 2 s and starts it again at 4 s.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { start, type BallastHandle } from '../index.js';
import { accessLogRetries } from './retries.js';
import type { DrillEnvironment } from './run.js';

export interface DrillDemoOptions {
  /** Ballast retries failed requests on another server (the default); false sets `retries.attempts: 0`. */
  readonly retries: boolean;
  /** When set, each backend appends one byte per answered request to DIR/NAME.count (an independent count to check the drill against). */
  readonly countDir?: string;
}

export interface DrillDemo {
  /** The demo scenario in the scenario file's shape (flags may still override parts of it). */
  readonly scenario: Record<string, unknown>;
  readonly environment: DrillEnvironment;
  /** Stops Ballast and removes temporary files; idempotent. The backends are the drill's processes and stop with it. */
  close(): Promise<void>;
}

export const DEMO_SERVERS = ['app-1', 'app-2', 'app-3'] as const;
const HEALTHY_TIMEOUT_MS = 15_000;

/** A TCP port on 127.0.0.1 that was free a moment ago. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Starts the demo's Ballast and describes the drill; the drill itself starts the backends. */
export async function startDrillDemo(options: DrillDemoOptions): Promise<DrillDemo> {
  const ports = [await freePort(), await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'ballast-drill-demo-'));
  const accessLog = join(dir, 'access.log');
  const backendScript = fileURLToPath(new URL('./demo-backend.js', import.meta.url));
  const servers = DEMO_SERVERS.map((name, i) => ({ name, address: `127.0.0.1:${ports[i] ?? 0}` }));
  let handle: BallastHandle;
  try {
    handle = await start({
      log: { level: 'error', access: accessLog },
      listeners: [{ name: 'web', protocol: 'http', listen: '127.0.0.1:0', routes: [{ pool: 'web' }] }],
      pools: [
        {
          name: 'web',
          algorithm: 'round-robin',
          servers,
          healthCheck: { type: 'http', path: '/healthz', interval: '500ms', timeout: '250ms', healthyThreshold: 2, unhealthyThreshold: 2 },
          outlierDetection: { consecutiveFailures: 3, ejectionTime: '5s', maxEjectedPercent: 50 },
          retries: { attempts: options.retries ? 2 : 0, budgetPercent: 100 },
        },
      ],
    });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const address = handle.address('web');
  const url = `http://127.0.0.1:${address?.port ?? 0}/`;
  let stopped: Promise<void> | undefined;
  const stopBallast = (): Promise<void> => {
    stopped ??= handle.close(1_000);
    return stopped;
  };
  const close = async (): Promise<void> => {
    try {
      await stopBallast();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  const scenario = {
    name: options.retries ? 'demo: kill one of three backends' : 'demo: kill one of three backends (retries off)',
    target: { url },
    load: { rate: 200, duration: '6s', warmup: '1s', timeout: '2s', slow: '500ms' },
    processes: DEMO_SERVERS.map((name, i) => ({
      name,
      command: [
        process.execPath,
        backendScript,
        '--name',
        name,
        '--port',
        String(ports[i] ?? 0),
        ...(options.countDir === undefined ? [] : ['--count-file', join(options.countDir, `${name}.count`)]),
      ],
      ready: { output: 'listening', timeout: '10s' },
    })),
    faults: [{ name: 'SIGKILL app-2', at: '2s', action: 'kill', process: 'app-2', affects: { pool: 'web', server: 'app-2' }, restore: { at: '4s' } }],
  };

  const environment: DrillEnvironment = {
    ballast: handle,
    preflight: false,
    beforeLoad: async () => {
      const deadline = performance.now() + HEALTHY_TIMEOUT_MS;
      for (;;) {
        const pool = handle.status().pools.find((p) => p.name === 'web');
        if (pool !== undefined && pool.servers.every((server) => server.state === 'healthy')) return;
        if (performance.now() > deadline) throw new Error('the demo backends did not become healthy in Ballast within 15 s');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    afterLoad: async () => {
      // Closing flushes the access log, whose lines carry each request's retries.
      await stopBallast();
      return { retries: await accessLogRetries(accessLog) };
    },
  };
  return { scenario, environment, close };
}
