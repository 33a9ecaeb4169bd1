import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startDemoBackend, type DemoBackend } from '../demo/backends.js';
import { start, type BallastHandle } from '../index.js';

export interface DemoOptions {
  /** Address of the demo listener; default 127.0.0.1:8080. */
  readonly listen: string;
  /** Address of the admin API and dashboard; default 127.0.0.1:9901. */
  readonly admin: string;
  /** Address of the GSLB DNS server; default 127.0.0.1:8053. */
  readonly dns: string;
  readonly print: (line: string) => void;
}

export interface RunningDemo {
  /** The primary site (`eu`), with the listener, the admin API and DNS. */
  readonly handle: BallastHandle;
  readonly backends: readonly DemoBackend[];
  close(): Promise<void>;
}

/** A free TCP and UDP port on 127.0.0.1 for the demo's internal heartbeat sockets. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === 'object' && address !== null ? address.port : 0;
}

/**
 * The self-contained demo: three local servers (one fast, one slow, one
 * flaky) behind a listener with health checks and outlier detection, and two
 * GSLB sites (`eu` serving, `us` standing by) whose DNS answers follow site
 * health. Prints what to try.
 */
export async function runDemo(options: DemoOptions): Promise<RunningDemo> {
  const backends = [
    await startDemoBackend('app-1', 'fast'),
    await startDemoBackend('app-2', 'slow'),
    await startDemoBackend('app-3', 'flaky'),
    await startDemoBackend('us-1', 'fast'),
  ];
  const [euHeartbeat, usHeartbeat, usDns] = [await freePort(), await freePort(), await freePort()];
  const token = randomBytes(12).toString('hex');
  const gslbSecret = randomBytes(16).toString('hex');
  const dataDir = mkdtempSync(join(tmpdir(), 'ballast-demo-'));
  const address = (backend: DemoBackend): string => `127.0.0.1:${backend.port}`;
  const [app1, app2, app3, us1] = backends as [DemoBackend, DemoBackend, DemoBackend, DemoBackend];
  const healthCheck = { type: 'http', path: '/healthz', interval: '1s', timeout: '500ms' };
  const gslb = (site: 'eu' | 'us', heartbeat: number, peerHeartbeat: number, dns: string) => ({
    site,
    heartbeat: { listen: `127.0.0.1:${heartbeat}`, interval: '250ms', phiThreshold: 8, secret: gslbSecret },
    peers: [{ site: site === 'eu' ? 'us' : 'eu', address: `127.0.0.1:${peerHeartbeat}` }],
    failbackDelay: '10s',
    dns: {
      listen: dns,
      zone: 'example.com',
      ttl: '5s',
      records: [
        {
          name: 'www',
          type: 'A',
          policy: 'failover',
          targets: [
            { site: 'eu', address: '127.0.0.10' },
            { site: 'us', address: '127.0.0.20' },
          ],
        },
      ],
    },
  });
  const euConfig = {
    log: { level: 'warn', access: 'off' },
    dataDir,
    admin: { listen: options.admin, token },
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
        healthCheck,
        outlierDetection: { consecutiveFailures: 3, ejectionTime: '10s', maxEjectedPercent: 50 },
        servers: [app1, app2, app3].map((backend) => ({ name: backend.name, address: address(backend) })),
      },
      {
        name: 'api',
        algorithm: 'response-time',
        healthCheck,
        servers: [app1, app2, app3].map((backend) => ({ name: backend.name, address: address(backend) })),
      },
    ],
    gslb: gslb('eu', euHeartbeat, usHeartbeat, options.dns),
  };
  const usConfig = {
    log: { level: 'warn', access: 'off' },
    listeners: [],
    pools: [{ name: 'web', algorithm: 'round-robin', healthCheck, servers: [{ name: us1.name, address: address(us1) }] }],
    gslb: gslb('us', usHeartbeat, euHeartbeat, `127.0.0.1:${usDns}`),
  };
  const started: BallastHandle[] = [];
  try {
    // The primary site first: the standby then joins as a recovering site and never takes the answers.
    started.push(await start(euConfig));
    started.push(await start(usConfig));
  } catch (error) {
    await Promise.all(started.map((handle) => handle.close(0)));
    await Promise.all(backends.map((backend) => backend.close()));
    throw error;
  }
  const [handle, usSite] = started as [BallastHandle, BallastHandle];
  const web = handle.address('web');
  const admin = handle.adminAddress();
  const url = `http://${web?.host ?? '127.0.0.1'}:${web?.port ?? 8080}`;
  const adminUrl = `http://${admin?.host ?? '127.0.0.1'}:${admin?.port ?? 9901}`;
  const dnsListen = handle.status().gslb?.dns?.listen ?? options.dns;
  const dnsPort = Number(dnsListen.slice(dnsListen.lastIndexOf(':') + 1));
  const print = options.print;
  print('Ballast demo is running.');
  print(`  listener   ${url}  (pool web = round-robin, pool api = response-time)`);
  for (const backend of [app1, app2, app3]) print(`  server     ${backend.name}  127.0.0.1:${backend.port}  ${backend.behaviour}`);
  print(`  dashboard  ${adminUrl}/   admin token: ${token}`);
  print(`  dns        127.0.0.1:${dnsPort}  zone example.com, sites eu (this one) and us (standby)`);
  print('');
  print('Try:');
  print(`  curl -s ${url}/                    # round robin; app-3 fails now and then and gets ejected`);
  print(`  curl -s ${url}/api/users           # response-time: the slow app-2 is avoided`);
  print(`  curl -s ${adminUrl}/api/v1/status | head -c 600`);
  print(`  curl -s -X POST -H 'authorization: Bearer ${token}' ${adminUrl}/api/v1/pools/web/servers/app-1/drain`);
  print(`  dig @127.0.0.1 -p ${dnsPort} www.example.com +short   # 127.0.0.10 (eu) while eu is healthy`);
  print('Press Ctrl+C to stop.');
  return {
    handle,
    backends,
    close: async () => {
      await handle.close(1000);
      await usSite.close(1000);
      await Promise.all(backends.map((backend) => backend.close()));
    },
  };
}
