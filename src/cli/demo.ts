import { startDemoBackend, type DemoBackend } from '../demo/backends.js';
import { start, type BallastHandle } from '../index.js';

export interface DemoOptions {
  /** Address of the demo listener; default 127.0.0.1:8080. */
  readonly listen: string;
  readonly print: (line: string) => void;
}

export interface RunningDemo {
  readonly handle: BallastHandle;
  readonly backends: readonly DemoBackend[];
  close(): Promise<void>;
}

/**
 * The self-contained demo: three local servers (one fast, one slow, one
 * flaky) behind a listener, with health checks on. Prints what to try.
 */
export async function runDemo(options: DemoOptions): Promise<RunningDemo> {
  const backends = [
    await startDemoBackend('app-1', 'fast'),
    await startDemoBackend('app-2', 'slow'),
    await startDemoBackend('app-3', 'flaky'),
  ];
  const config = {
    log: { level: 'warn', access: 'off' },
    listeners: [
      {
        name: 'web',
        protocol: 'http',
        listen: options.listen,
        routes: [{ match: { path: '/api/' }, pool: 'api' }, { pool: 'web' }],
      },
    ],
    pools: [
      {
        name: 'web',
        algorithm: 'round-robin',
        servers: backends.map((backend) => ({ name: backend.name, address: `127.0.0.1:${backend.port}` })),
      },
      {
        name: 'api',
        algorithm: 'least-connections',
        servers: backends.map((backend) => ({ name: backend.name, address: `127.0.0.1:${backend.port}` })),
      },
    ],
  };
  let handle: BallastHandle;
  try {
    handle = await start(config);
  } catch (error) {
    await Promise.all(backends.map((backend) => backend.close()));
    throw error;
  }
  const address = handle.address('web');
  const url = `http://${address?.host ?? '127.0.0.1'}:${address?.port ?? 8080}`;
  const print = options.print;
  print(`Ballast demo is running.`);
  print(`  listener  ${url}  (pools: web = round-robin, api = least-connections)`);
  for (const backend of backends) print(`  server    ${backend.name}  127.0.0.1:${backend.port}  ${backend.behaviour}`);
  print('');
  print('Try:');
  print(`  curl -s ${url}/                 # round robin: run it a few times`);
  print(`  curl -s ${url}/api/users        # least connections`);
  print(`  curl -si ${url}/ | grep -i x-served-by`);
  print('Press Ctrl+C to stop.');
  return {
    handle,
    backends,
    close: async () => {
      await handle.close(1000);
      await Promise.all(backends.map((backend) => backend.close()));
    },
  };
}
