import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeTempFile } from '../helpers/ballast.js';
import { startBackend } from '../helpers/http-backend.js';
import { eventually, freePort } from '../helpers/net.js';
import { spawnCli } from '../helpers/process.js';

/** One GET on a fresh connection; resolves with the status, or 0 when the connection failed. */
function getOnce(port: number, path: string, timeoutMs = 5000): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, headers: { connection: 'close' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.setTimeout(timeoutMs, () => req.destroy());
    req.end();
  });
}

interface Status {
  workers?: { id: number; pid: number }[];
  pools: { servers: { state: string; requests: number }[] }[];
}

test('workers: 2 — both serve, health checks run once, a killed worker comes back', { timeout: 120_000 }, async (t) => {
  let healthChecks = 0;
  const backend = await startBackend('b1', (req, res, b) => {
    req.resume();
    if (req.url === '/healthz') {
      healthChecks++;
      res.end('ok');
      return;
    }
    res.end(b.name);
  });
  t.after(() => backend.close());
  const port = await freePort();
  const adminPort = await freePort();
  const file = writeTempFile(
    'ballast.yaml',
    `workers: 2
dataDir: ${mkdtempSync(join(tmpdir(), 'ballast-data-'))}
log: { level: info, access: stdout }
admin: { listen: 127.0.0.1:${adminPort}, token: secret-token }
listeners:
  - { name: web, protocol: http, listen: 127.0.0.1:${port}, routes: [ { pool: app } ] }
pools:
  - name: app
    algorithm: round-robin
    healthCheck: { type: http, path: /healthz, interval: 200ms, timeout: 500ms, jitter: 0 }
    servers: [ { name: s1, address: ${backend.address} } ]
`,
  );
  const ballast = spawnCli(['start', '-c', file]);
  t.after(() => ballast.kill());
  const status = async (): Promise<Status> => (await (await fetch(`http://127.0.0.1:${adminPort}/api/v1/status`)).json()) as Status;
  await eventually(async () => {
    try {
      const s = await status();
      return s.workers?.length === 2 && s.pools[0]?.servers[0]?.state === 'healthy';
    } catch {
      return false;
    }
  }, 'two workers and a healthy server', 20_000);
  await eventually(async () => (await getOnce(port, '/warmup')) === 200, 'the listener to serve');

  // Both workers serve: the access log names their pids.
  for (let i = 0; i < 40; i++) assert.equal(await getOnce(port, `/r${i}`), 200);
  // The access log is written in 4 KiB batches; 40 lines per worker fill at least one.
  for (let i = 40; i < 80; i++) assert.equal(await getOnce(port, `/r${i}`), 200);
  const servingPids = (): Set<string> => new Set([...ballast.output().matchAll(/"pid":(\d+)[^\n]*"path":"\/r\d+"/g)].map((m) => m[1] as string));
  await eventually(() => servingPids().size === 2, 'access log lines from two worker processes');
  // Workers report every 500 ms; the primary sums their counters.
  await eventually(async () => ((await status()).pools[0]?.servers[0]?.requests ?? 0) >= 80, 'status to aggregate the workers\' counters');

  // Health checks run once (in the primary), not once per worker.
  const before = healthChecks;
  await sleep(2000);
  const checks = healthChecks - before;
  assert.ok(checks >= 5 && checks <= 15, `one checker at 200 ms makes about 10 checks in 2 s, saw ${checks}`);

  // SIGKILL one worker under load: the other keeps serving and the primary starts a new one.
  const workersBefore = (await status()).workers ?? [];
  const victim = workersBefore[0]?.pid as number;
  let ok = 0;
  let okAfterKill = 0;
  let killed = false;
  const load = (async () => {
    const until = Date.now() + 4000;
    while (Date.now() < until) {
      // A connection handed to the worker as it died is lost; give up on it quickly.
      const code = await getOnce(port, '/load', 1000);
      if (code === 200) {
        ok++;
        if (killed) okAfterKill++;
      }
    }
  })();
  await sleep(500);
  process.kill(victim, 'SIGKILL');
  killed = true;
  await load;
  assert.ok(ok > 50, `requests kept succeeding (${ok})`);
  assert.ok(okAfterKill > 20, `the surviving worker served after the kill (${okAfterKill})`);
  await eventually(async () => {
    const now = (await status()).workers ?? [];
    return now.length === 2 && !now.some((w) => w.pid === victim);
  }, 'a replacement worker', 20_000);

  ballast.child.kill('SIGTERM');
  assert.equal(await ballast.exited(), 0);
});
