import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool as UndiciPool } from 'undici';
import { writeTempFile } from '../helpers/ballast.js';
import { startBackends } from '../helpers/http-backend.js';
import { eventually, freePort } from '../helpers/net.js';
import { spawnCli } from '../helpers/process.js';

function config(port: number, servers: readonly { name: string; address: string; weight: number }[]): string {
  return `log: { level: info, access: off }
listeners:
  - { name: web, protocol: http, listen: 127.0.0.1:${port}, routes: [ { pool: app } ] }
pools:
  - name: app
    algorithm: weighted-round-robin
    servers:
${servers.map((s) => `      - { name: ${s.name}, address: ${s.address}, weight: ${s.weight} }`).join('\n')}
`;
}

test('50 reloads under load (add/remove a server, change weights) lose no request', { timeout: 120_000 }, async (t) => {
  const backends = await startBackends(3);
  t.after(() => Promise.all(backends.map((b) => b.close())));
  const [a, b, c] = backends as [(typeof backends)[0], (typeof backends)[0], (typeof backends)[0]];
  const port = await freePort();
  const withThree = (i: number) => config(port, [
    { name: 'a', address: a.address, weight: 1 + (i % 3) },
    { name: 'b', address: b.address, weight: 2 },
    { name: 'c', address: c.address, weight: 1 },
  ]);
  const withTwo = (i: number) => config(port, [
    { name: 'a', address: a.address, weight: 3 - (i % 3) },
    { name: 'b', address: b.address, weight: 1 },
  ]);
  const file = writeTempFile('ballast.yaml', withThree(0));
  const ballast = spawnCli(['start', '-c', file]);
  t.after(() => ballast.kill());
  await ballast.waitFor(/listening/);

  const client = new UndiciPool(`http://127.0.0.1:${port}`, { connections: 50 });
  t.after(() => client.close());
  let ok = 0;
  const failures: string[] = [];
  let stop = false;
  const worker = async (): Promise<void> => {
    while (!stop) {
      try {
        const response = await client.request({ path: '/', method: 'GET' });
        await response.body.text();
        if (response.statusCode === 200) ok++;
        else failures.push(`status ${response.statusCode}`);
      } catch (error) {
        failures.push((error as Error).message);
      }
    }
  };
  const load = Promise.all(Array.from({ length: 50 }, worker));

  const reloadsBefore = (ballast.output().match(/config reloaded/g) ?? []).length;
  const started = Date.now();
  for (let i = 1; i <= 50; i++) {
    writeFileSync(file, i % 2 === 0 ? withThree(i) : withTwo(i));
    ballast.child.kill('SIGHUP');
    await eventually(() => (ballast.output().match(/config reloaded/g) ?? []).length >= reloadsBefore + i, `reload ${i}`, 10_000, 10);
    await sleep(Math.max(0, started + i * 400 - Date.now()));
  }
  stop = true;
  await load;

  assert.deepEqual(failures.slice(0, 10), [], `${failures.length} requests failed`);
  assert.ok(ok > 1000, `load kept flowing (${ok} requests)`);
  assert.ok(c.requests.length > 0 && a.requests.length > 0 && b.requests.length > 0, 'every server served during the run');
});

test('a reload with a broken file keeps the running config and names file and line', async (t) => {
  const [backend] = await startBackends(1);
  assert.ok(backend);
  t.after(() => backend.close());
  const port = await freePort();
  const file = writeTempFile('ballast.yaml', config(port, [{ name: 'a', address: backend.address, weight: 1 }]));
  const ballast = spawnCli(['start', '-c', file]);
  t.after(() => ballast.kill());
  await ballast.waitFor(/listening/);

  writeFileSync(file, `${config(port, [{ name: 'a', address: backend.address, weight: 1 }])}    algorithm: fastest\n`);
  ballast.child.kill('SIGHUP');
  const escaped = file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  await ballast.waitFor(/reload failed/);
  assert.match(ballast.output(), new RegExp(`"issues":\\["${escaped}:\\d+:\\d+: `), 'the log names file, line and column');
  const response = await fetch(`http://127.0.0.1:${port}/`);
  assert.equal(response.status, 200);
  assert.equal(await response.text(), backend.name);
});
