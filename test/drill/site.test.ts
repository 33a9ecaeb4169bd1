/**
 * A site drill: two Ballast sites (eu on 127.0.0.10, us on 127.0.0.20) as
 * processes the drill launches, each with its own GSLB DNS server; the load
 * resolves www.example.com through them as a user's resolver would; the
 * drill kills eu and measures when the DNS answers switched to us.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DrillReport } from '../../src/drill/report.js';
import { startBackend } from '../helpers/http-backend.js';
import { run } from '../helpers/process.js';

const DRILL = 'build/src/drill/main.js';
const SITE = 'build/test/fixtures/drill/site.js';
const EU = '127.0.0.10';
const US = '127.0.0.20';

function tcpFree(host: string, port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen(port, host, () => {
      const address = server.address();
      const bound = typeof address === 'object' && address !== null ? address.port : undefined;
      server.close(() => resolve(bound));
    });
  });
}

/** A port free on both site addresses a moment ago. */
async function sharedPort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await tcpFree(EU, 0);
    if (port !== undefined && (await tcpFree(US, port)) !== undefined) return port;
  }
  throw new Error(`no port free on both ${EU} and ${US}`);
}

/** A port free for UDP and TCP on 127.0.0.1 a moment ago. */
async function udpPort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const socket = createSocket('udp4');
    const port = await new Promise<number>((resolve) => socket.bind(0, '127.0.0.1', () => resolve(socket.address().port)));
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    if ((await tcpFree('127.0.0.1', port)) !== undefined) return port;
  }
  throw new Error('no free UDP+TCP port');
}

test('killing a site: the DNS answers switch to the other site, and the drill measures when', async (t) => {
  const backend = await startBackend('app');
  t.after(() => backend.close());
  const dir = mkdtempSync(join(tmpdir(), 'drill-site-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const webPort = await sharedPort();
  const heartbeat = { eu: await udpPort(), us: await udpPort() };
  const dns = { eu: await udpPort(), us: await udpPort() };
  const record = { name: 'www', type: 'A', policy: 'failover', targets: [{ site: 'eu', address: EU }, { site: 'us', address: US }] };
  for (const [site, address, peer] of [['eu', EU, 'us'], ['us', US, 'eu']] as const) {
    const spec = {
      ballast: {
        listeners: [{ name: 'web', protocol: 'http', listen: `${address}:${webPort}`, routes: [{ pool: 'app' }] }],
        pools: [{ name: 'app', servers: [{ name: 'app', address: backend.address }], healthCheck: { type: 'http', path: '/healthz', interval: '200ms', initialState: 'healthy' } }],
      },
      gslb: {
        site,
        heartbeat: { listen: `127.0.0.1:${heartbeat[site]}`, interval: '250ms', phiThreshold: 8, secret: 'site-drill-test-secret' },
        peers: [{ site: peer, address: `127.0.0.1:${heartbeat[peer]}` }],
        failbackDelay: '30s',
        dns: { listen: `127.0.0.1:${dns[site]}`, zone: 'example.com', ttl: '1s', records: [record] },
      },
    };
    writeFileSync(join(dir, `${site}.json`), JSON.stringify(spec));
  }
  const scenario = [
    'name: lose the eu site',
    'target:',
    `  url: http://www.example.com:${webPort}/`,
    `  dnsServers: ["127.0.0.1:${dns.eu}", "127.0.0.1:${dns.us}"]`,
    '  dnsInterval: 100ms',
    'load: { rate: 50, duration: 6s, timeout: 10s }',
    'processes:',
    ...(['eu', 'us'] as const).map((site) => `  - { name: ${site}, command: ${JSON.stringify([process.execPath, SITE, join(dir, `${site}.json`)])}, ready: { output: listening, timeout: 15s } }`),
    'faults:',
    '  - { at: 1500ms, action: site, site: eu, process: eu }',
    'thresholds: { maxDnsSwitch: 4s }',
  ].join('\n');
  const scenarioPath = join(dir, 'site.yaml');
  writeFileSync(scenarioPath, scenario);

  const result = await run(process.execPath, [DRILL, '--scenario', scenarioPath, '--json'], { timeoutMs: 60_000 });
  let report: DrillReport;
  try {
    report = JSON.parse(result.stdout) as DrillReport;
  } catch {
    throw new Error(`no JSON report (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
  }
  assert.equal(result.code, 0, `${result.stderr}\n${JSON.stringify(report.faults, null, 2)}`);
  assert.deepEqual(report.target.dnsServers, [`127.0.0.1:${dns.eu}`, `127.0.0.1:${dns.us}`]);
  const fault = report.faults[0];
  assert.ok(fault?.dnsSwitch);
  assert.deepEqual(fault.dnsSwitch.from, [EU]);
  assert.deepEqual(fault.dnsSwitch.to, [US]);
  assert.ok(fault.dnsSwitch.afterMs !== null && fault.dnsSwitch.afterMs > 0 && fault.dnsSwitch.afterMs <= 4000, `switched after ${fault.dnsSwitch.afterMs}`);
  // The eu DNS server died with its site; us carried on answering.
  const observations = report.dns?.observations ?? [];
  assert.ok(observations.some((o) => o.server === `127.0.0.1:${dns.eu}` && o.answer === null && o.atMs > 1400));
  assert.ok(observations.some((o) => o.server === `127.0.0.1:${dns.us}` && o.answer?.[0] === US));
  // Users: requests kept arriving at the backend through one site or the other, with the name as Host.
  assert.equal(report.requests.sent, 300);
  // Until its resolver asks again (TTL 1 s, then a 500 ms timeout on the dead eu server before us answers), a user still goes to eu.
  assert.ok(report.requests.failed > 0, 'users of eu saw failures');
  const switchedAt = 1500 + fault.dnsSwitch.afterMs;
  assert.ok(fault.recovery.lastFailedAtMs !== null && fault.recovery.lastFailedAtMs <= switchedAt + 4000, `last failure at ${fault.recovery.lastFailedAtMs}, answers switched at ${switchedAt}`);
  assert.ok(report.requests.succeeded >= 75, `the 1.5 s before the fault and the time after the switch succeeded (${report.requests.succeeded})`);
  const hosts = new Set(backend.requests.filter((r) => r.url === '/').map((r) => r.headers.host));
  assert.deepEqual([...hosts], [`www.example.com:${webPort}`]);
});
