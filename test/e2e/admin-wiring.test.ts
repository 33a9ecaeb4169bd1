import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeTempFile } from '../helpers/ballast.js';
import { startBackend } from '../helpers/http-backend.js';
import { eventually, freePort } from '../helpers/net.js';
import { run, runCli, spawnCli } from '../helpers/process.js';

const TOKEN = 'test-admin-token-123';

interface Status {
  pools: { name: string; servers: { name: string; state: string; requests: number }[] }[];
}

test('ballast start with an admin section serves status, actions, metrics, availability and reload', async (t) => {
  const a = await startBackend('a');
  let bHealthy = true;
  const b = await startBackend('b', (req, res, backend) => {
    req.resume();
    if (req.url === '/healthz') {
      res.statusCode = bHealthy ? 200 : 503;
      res.end(bHealthy ? 'ok' : 'down');
      return;
    }
    res.end(backend.name);
  });
  t.after(() => Promise.all([a.close(), b.close()]));
  const port = await freePort();
  const adminPort = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'ballast-data-'));
  const yaml = (weightA: number) => `log: { level: info, access: off }
dataDir: ${dataDir}
admin: { listen: 127.0.0.1:${adminPort}, token: ${TOKEN} }
listeners:
  - { name: web, protocol: http, listen: 127.0.0.1:${port}, routes: [ { pool: app } ] }
pools:
  - name: app
    algorithm: weighted-round-robin
    healthCheck: { type: http, path: /healthz, interval: 200ms, timeout: 500ms, healthyThreshold: 1, unhealthyThreshold: 1 }
    servers:
      - { name: a, address: ${a.address}, weight: ${weightA} }
      - { name: b, address: ${b.address} }
`;
  const file = writeTempFile('ballast.yaml', yaml(1));
  const ballast = spawnCli(['start', '-c', file]);
  t.after(() => ballast.kill());
  await ballast.waitFor(/listening/);
  const admin = `http://127.0.0.1:${adminPort}`;
  const status = async (): Promise<Status> => (await (await fetch(`${admin}/api/v1/status`)).json()) as Status;
  await eventually(async () => (await status()).pools[0]?.servers.every((s) => s.state === 'healthy') === true, 'both servers healthy');

  for (let i = 0; i < 10; i++) await (await fetch(`http://127.0.0.1:${port}/`)).text();

  // Actions need the token.
  const drainUrl = `${admin}/api/v1/pools/app/servers/a/drain`;
  assert.equal((await fetch(drainUrl, { method: 'POST' })).status, 401);
  assert.equal((await fetch(drainUrl, { method: 'POST', headers: { authorization: 'Bearer wrong' } })).status, 403);
  assert.equal((await fetch(drainUrl, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } })).status, 200);
  assert.equal((await status()).pools[0]?.servers.find((s) => s.name === 'a')?.state, 'draining');
  for (let i = 0; i < 4; i++) assert.equal(await (await fetch(`http://127.0.0.1:${port}/`)).text(), 'b');
  const unknown = await fetch(`${admin}/api/v1/pools/app/servers/zzz/enable`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(unknown.status, 404);
  assert.equal(((await unknown.json()) as { error: { code: string } }).error.code, 'BALLAST_ERR_UNKNOWN_SERVER');
  await fetch(`${admin}/api/v1/pools/app/servers/a/enable`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });

  // A failing health endpoint shows in status, metrics and availability.
  bHealthy = false;
  await eventually(async () => (await status()).pools[0]?.servers.find((s) => s.name === 'b')?.state === 'unhealthy', 'b marked down');
  const metrics = await (await fetch(`${admin}/metrics`)).text();
  assert.match(metrics, /ballast_http_requests_total\{listener="web",pool="app",server="[ab]",code_class="2xx"\} \d+/);
  assert.match(metrics, /ballast_server_state\{pool="app",server="b",state="unhealthy"\} 1/);
  assert.match(metrics, /ballast_health_checks_total\{pool="app",server="b",result="failure"\} \d+/);
  const metricsFile = writeTempFile('metrics.txt', metrics);
  const promtool = await run('promtool', ['check', 'metrics'], { input: metrics });
  assert.equal(promtool.code, 0, `promtool: ${promtool.stdout}${promtool.stderr} (${metricsFile})`);
  const availability = (await (await fetch(`${admin}/api/v1/availability`)).json()) as Record<string, unknown>;
  assert.match(JSON.stringify(availability), /app\/b/);

  // ballast reload -c FILE goes through the admin API; a broken file is refused with its position.
  writeFileSync(file, yaml(5));
  const reloaded = await runCli(['reload', '-c', file]);
  assert.equal(reloaded.code, 0, reloaded.stderr);
  await eventually(async () => (await (await fetch(`${admin}/api/v1/status`)).json() as { pools: { servers: { name: string; weight: number }[] }[] }).pools[0]?.servers.find((s) => s.name === 'a')?.weight === 5, 'the new weight');
  writeFileSync(file, `${yaml(5)}    colour: blue\n`);
  const refused = await runCli(['reload', '-c', file]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: .*colour`));
  assert.equal((await fetch(`http://127.0.0.1:${port}/`)).status, 200);
});
