/**
 * Discovery with `workers: 2`: every process follows the server file, the
 * primary health-checks the discovered servers, and both workers serve them.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startBackend } from '../helpers/http-backend.js';
import { eventually, freePort } from '../helpers/net.js';
import { spawnCli } from '../helpers/process.js';

/** One GET on a fresh connection; resolves with the body, or `status N` / `failed`. */
function getOnce(port: number): Promise<string> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve(res.statusCode === 200 ? body : `status ${res.statusCode}`));
    });
    req.on('error', () => resolve('failed'));
    req.setTimeout(5000, () => req.destroy());
    req.end();
  });
}

async function answers(port: number, count: number): Promise<string> {
  const seen = new Set<string>();
  for (let i = 0; i < count; i++) seen.add(await getOnce(port));
  return [...seen].sort().join(',');
}

test('workers: 2 — both workers serve discovered servers and follow the file', { timeout: 120_000 }, async (t) => {
  const health = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse, backend: { name: string }): void => {
    req.resume();
    res.end(req.url === '/healthz' ? 'ok' : backend.name);
  };
  const a = await startBackend('a', health);
  const b = await startBackend('b', health);
  t.after(() => Promise.all([a.close(), b.close()]));
  const dir = mkdtempSync(join(tmpdir(), 'ballast-discovery-'));
  const servers = join(dir, 'servers.yaml');
  const writeServers = (address: string): void => {
    writeFileSync(`${servers}.tmp`, `- { address: "${address}" }\n`);
    renameSync(`${servers}.tmp`, servers);
  };
  writeServers(a.address);
  const port = await freePort();
  const config = join(dir, 'ballast.yaml');
  writeFileSync(
    config,
    `workers: 2
dataDir: ${join(dir, 'data')}
log: { level: info, access: off }
listeners:
  - { name: web, protocol: http, listen: 127.0.0.1:${port}, routes: [ { pool: app } ] }
pools:
  - name: app
    healthCheck: { type: http, path: /healthz, interval: 200ms, timeout: 1s, healthyThreshold: 1 }
    discovery:
      - { type: file, path: servers.yaml, interval: 200ms }
`,
  );
  const ballast = spawnCli(['start', '-c', config]);
  t.after(() => ballast.kill());

  await eventually(async () => (await answers(port, 10)) === 'a', 'a to serve through both workers', 30_000);
  writeServers(b.address);
  await eventually(async () => (await answers(port, 10)) === 'b', 'b to take over in both workers', 30_000);
  assert.equal(await answers(port, 20), 'b');
});
