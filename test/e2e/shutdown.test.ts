import assert from 'node:assert/strict';
import { test } from 'node:test';
import { writeTempFile } from '../helpers/ballast.js';
import { startBackend } from '../helpers/http-backend.js';
import { eventually, freePort } from '../helpers/net.js';
import { spawnCli } from '../helpers/process.js';

test('SIGTERM finishes the request in flight, refuses new ones and exits 0', async (t) => {
  let received = 0;
  const backend = await startBackend('slow', (req, res) => {
    received++;
    req.resume();
    setTimeout(() => res.end('finished'), 1500);
  });
  t.after(() => backend.close());
  const port = await freePort();
  const config = writeTempFile(
    'ballast.yaml',
    `log: { level: info, access: stdout }
drainTimeout: 10s
listeners:
  - { name: web, protocol: http, listen: 127.0.0.1:${port}, routes: [ { pool: app } ] }
pools:
  - { name: app, algorithm: round-robin, servers: [ { name: s1, address: ${backend.address} } ] }
`,
  );
  const ballast = spawnCli(['start', '-c', config]);
  t.after(() => ballast.kill());
  await ballast.waitFor(/listening/);

  const inFlight = fetch(`http://127.0.0.1:${port}/work`).then(async (response) => ({ status: response.status, body: await response.text() }));
  await eventually(() => received === 1, 'the backend to receive the request');
  ballast.child.kill('SIGTERM');
  await ballast.waitFor(/SIGTERM received/);

  await assert.rejects(
    fetch(`http://127.0.0.1:${port}/new`, { headers: { connection: 'close' } }),
    'a new connection is refused while draining',
  );
  const result = await inFlight;
  assert.deepEqual(result, { status: 200, body: 'finished' });
  assert.equal(await ballast.exited(), 0);
  assert.match(ballast.output(), /"path":"\/work","status":200/, 'the access log has the drained request');
  assert.match(ballast.output(), /"requestId":"[0-9a-f-]{36}"/, 'access log lines carry the request id');
});
