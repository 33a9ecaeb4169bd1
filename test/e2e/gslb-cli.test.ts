import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeTempFile } from '../helpers/ballast.js';
import { startBackend, type TestBackend } from '../helpers/http-backend.js';
import { eventually, freeDnsPort, freePort } from '../helpers/net.js';
import { run, spawnCli, type Spawned } from '../helpers/process.js';

const SECRET = 'gslb-shared-secret-for-tests';

interface Ports {
  readonly heartbeat: number;
  readonly dns: number;
  readonly listener: number;
  readonly admin: number;
}

function siteConfig(site: 'eu' | 'us', own: Ports, peer: Ports, backend: TestBackend): string {
  const other = site === 'eu' ? 'us' : 'eu';
  return `log: { level: info, access: off }
dataDir: ${mkdtempSync(join(tmpdir(), `ballast-${site}-`))}
admin: { listen: 127.0.0.1:${own.admin}, token: token-${site} }
listeners:
  - { name: web, protocol: http, listen: 127.0.0.1:${own.listener}, routes: [ { pool: app } ] }
pools:
  - name: app
    algorithm: round-robin
    healthCheck: { type: http, path: /healthz, interval: 200ms, timeout: 1s, healthyThreshold: 1, unhealthyThreshold: 2 }
    servers: [ { name: s1, address: ${backend.address} } ]
gslb:
  site: ${site}
  heartbeat: { listen: 127.0.0.1:${own.heartbeat}, interval: 250ms, phiThreshold: 8, secret: ${SECRET} }
  peers: [ { site: ${other}, address: 127.0.0.1:${peer.heartbeat} } ]
  failbackDelay: 3s
  dns:
    listen: 127.0.0.1:${own.dns}
    zone: example.com
    ttl: 5s
    records:
      - name: www
        type: A
        policy: failover
        targets:
          - { site: eu, address: 127.0.0.10 }
          - { site: us, address: 127.0.0.20 }
`;
}

async function dig(port: number): Promise<string> {
  const result = await run('dig', ['@127.0.0.1', '-p', String(port), 'www.example.com', 'A', '+short', '+time=1', '+tries=1']);
  return result.stdout.trim();
}

test('two ballast start sites: DNS follows the healthy site, a killed site fails over, failback waits', { timeout: 120_000 }, async (t) => {
  let euHealthy = true;
  const euBackend = await startBackend('eu-app', (req, res) => {
    req.resume();
    res.statusCode = req.url === '/healthz' && !euHealthy ? 503 : 200;
    res.end('eu');
  });
  const usBackend = await startBackend('us-app');
  t.after(() => Promise.all([euBackend.close(), usBackend.close()]));
  const eu: Ports = { heartbeat: await freePort(), dns: await freeDnsPort(), listener: await freePort(), admin: await freePort() };
  const us: Ports = { heartbeat: await freePort(), dns: await freeDnsPort(), listener: await freePort(), admin: await freePort() };
  const euFile = writeTempFile('eu.yaml', siteConfig('eu', eu, us, euBackend));
  const usFile = writeTempFile('us.yaml', siteConfig('us', us, eu, usBackend));
  const processes: Spawned[] = [];
  t.after(() => processes.forEach((p) => p.kill()));
  const startSite = (file: string): Spawned => {
    const spawned = spawnCli(['start', '-c', file]);
    processes.push(spawned);
    return spawned;
  };
  let euProcess = startSite(euFile);
  startSite(usFile);

  await eventually(async () => (await dig(eu.dns)) === '127.0.0.10' && (await dig(us.dns)) === '127.0.0.10', 'both sites answer eu', 20_000, 200);
  const status = (await (await fetch(`http://127.0.0.1:${us.admin}/api/v1/status`)).json()) as { gslb?: { sites: { site: string }[] } };
  assert.deepEqual(status.gslb?.sites.map((s) => s.site).sort(), ['eu', 'us']);

  // eu alive but with no healthy server: us takes over.
  euHealthy = false;
  await eventually(async () => (await dig(us.dns)) === '127.0.0.20', 'us answers itself when eu has no healthy server', 10_000, 100);
  euHealthy = true;
  await eventually(async () => (await dig(us.dns)) === '127.0.0.10', 'answers return to eu after the failback delay', 15_000, 200);

  // SIGKILL eu: us answers its own address within seconds.
  euProcess.child.kill('SIGKILL');
  await euProcess.exited();
  const killedAt = Date.now();
  await eventually(async () => (await dig(us.dns)) === '127.0.0.20', 'us takes over after eu is killed', 10_000, 50);
  const switchMs = Date.now() - killedAt;
  assert.ok(switchMs < 5000, `switch-over took ${switchMs} ms`);

  // eu comes back: answers return only after failbackDelay.
  // Timed from the spawn: eu's first heartbeat (where the delay starts) can only come later, so an
  // answer back to eu before 3 s would be a failback that did not wait. (A log line read from the
  // child's output arrives late under load, so it is no reference.)
  const restartedAt = Date.now();
  euProcess = startSite(euFile);
  await euProcess.waitFor(/gslb started/, 20_000);
  await eventually(async () => (await dig(us.dns)) === '127.0.0.10', 'answers return to eu', 20_000, 100);
  assert.ok(Date.now() - restartedAt >= 2900, 'not before the failback delay of 3 s');
});
