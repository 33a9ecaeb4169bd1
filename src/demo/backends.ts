import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type DemoBehaviour = 'fast' | 'slow' | 'flaky';

export interface DemoBackend {
  readonly name: string;
  readonly behaviour: DemoBehaviour;
  readonly port: number;
  close(): Promise<void>;
}

/** Delay of the slow demo server, in milliseconds. */
const SLOW_DELAY_MS = 150;
/** One request in this many fails on the flaky demo server. */
const FLAKY_PERIOD = 5;

/**
 * Starts one small HTTP server for the demo topology on 127.0.0.1. Every
 * answer names the server, so a user sees the balancing at work; `/healthz`
 * answers `ok` for health checks.
 */
export async function startDemoBackend(name: string, behaviour: DemoBehaviour, port = 0): Promise<DemoBackend> {
  let served = 0;
  const server: Server = createServer((req, res) => {
    if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok\n');
      return;
    }
    served++;
    const respond = (): void => {
      if (behaviour === 'flaky' && served % FLAKY_PERIOD === 0) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`${name}: simulated failure\n`);
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain', 'x-served-by': name });
      res.end(`hello from ${name} (${behaviour}) ${req.method} ${req.url}\n`);
    };
    if (behaviour === 'slow') setTimeout(respond, SLOW_DELAY_MS);
    else respond();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    name,
    behaviour,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
