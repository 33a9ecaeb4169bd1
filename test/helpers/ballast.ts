import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { start, type BallastEvent, type BallastHandle } from '../../src/index.js';
import type { Cleanup } from './http-backend.js';

export interface RunningBallast {
  readonly handle: BallastHandle;
  /** `http://127.0.0.1:PORT` of a listener (default: the first one). */
  url(listener?: string): string;
  close(): Promise<void>;
}

/**
 * Starts Ballast in this process from a config object shaped like the YAML.
 * Listeners should use port 0; `url()` reads back the bound port.
 */
export async function startBallast(config: Record<string, unknown>): Promise<RunningBallast> {
  const withQuietLogs = { log: { level: 'silent', access: 'off' }, ...config };
  const handle = await start(withQuietLogs);
  const listeners = (config.listeners as { name: string }[] | undefined) ?? [];
  return {
    handle,
    url: (listener = listeners[0]?.name ?? 'web') => {
      const address = handle.address(listener);
      if (address === undefined) throw new Error(`no listener named ${listener}`);
      return `http://127.0.0.1:${address.port}`;
    },
    close: () => handle.close(500),
  };
}

/** Writes `text` to a new temporary file `name` and returns its path. */
export function writeTempFile(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'ballast-test-'));
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** A one-listener, one-pool config over the given backend addresses. */
export function simpleConfig(addresses: readonly string[], pool: Record<string, unknown> = {}, listener: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    listeners: [{ name: 'web', protocol: 'http', listen: '127.0.0.1:0', routes: [{ pool: 'app' }], ...listener }],
    pools: [
      {
        name: 'app',
        algorithm: 'round-robin',
        servers: addresses.map((address, i) => ({ name: `b${i + 1}`, address })),
        ...pool,
      },
    ],
  };
}

/** `startBallast`, closed when the test ends, with every event it emits recorded in `events`. */
export async function startWatchedBallast(t: Cleanup, config: Record<string, unknown>): Promise<{ lb: RunningBallast; events: BallastEvent[] }> {
  const lb = await startBallast(config);
  t.after(() => lb.close());
  const events: BallastEvent[] = [];
  lb.handle.onEvent((event) => events.push(event));
  return { lb, events };
}
