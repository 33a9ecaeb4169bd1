/**
 * The access log has a line for every request a client sent, also those
 * Ballast refused before they became requests (a broken or oversized head,
 * a head that never finished, a body whose framing broke), each with the
 * status the client got and why.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { writeTempFile } from '../helpers/ballast.js';
import { curl } from '../helpers/curl.js';
import { startBackend } from '../helpers/http-backend.js';
import { eventually, freePort } from '../helpers/net.js';
import { spawnCli } from '../helpers/process.js';

interface LogLine {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly error?: string;
  readonly pool?: string;
}

/**
 * Sends `bytes` on a new connection (then shuts down its side when `end`)
 * and resolves with all the answer once Ballast closes it.
 */
function exchange(port: number, bytes: string, end = false): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => (end ? socket.end(bytes) : socket.write(bytes)));
    let answer = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
    socket.setTimeout(10_000, () => socket.destroy(new Error('no close within 10 s')));
  });
}

test('refused heads and broken bodies are in the access log with their status and reason', async (t) => {
  const backend = await startBackend('app', (req, res) => {
    req.resume();
    req.on('end', () => res.end('ok'));
    req.on('error', () => undefined);
  });
  t.after(() => backend.close());
  const port = await freePort();
  const config = writeTempFile(
    'ballast.yaml',
    `log: { level: info, access: stdout }
listeners:
  - name: web
    protocol: http
    listen: 127.0.0.1:${port}
    maxUrlLength: 1KiB
    timeouts: { requestHeaders: 1s }
    routes: [ { pool: app } ]
pools:
  - { name: app, algorithm: round-robin, servers: [ { name: s1, address: ${backend.address} } ] }
`,
  );
  const ballast = spawnCli(['start', '-c', config]);
  t.after(() => ballast.kill());
  await ballast.waitFor(/listening/);
  const lines = (): LogLine[] =>
    ballast
      .output()
      .split('\n')
      .filter((line) => line.includes('"listener":"web"') && line.includes('"status":'))
      .map((line) => JSON.parse(line) as LogLine);

  // A connection that sends nothing gets its 408 too, but is a probe, not a request: not logged.
  const silent = exchange(port, '');
  assert.match(await exchange(port, 'GET /a b c HTTP/1.1\r\nHost: x\r\n\r\n'), /^HTTP\/1\.1 400 /);
  assert.match(await exchange(port, `GET /${'x'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`), /^HTTP\/1\.1 414 /);
  assert.match(await exchange(port, 'GET /v2 HTTP/2.0\r\nHost: x\r\n\r\n'), /^HTTP\/1\.1 505 /);
  assert.match(await exchange(port, 'POST /gz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n'), /^HTTP\/1\.1 501 /);
  assert.match(await exchange(port, `GET /big HTTP/1.1\r\nHost: x\r\nX-Big: ${'y'.repeat(40_000)}\r\n\r\n`), /^HTTP\/1\.1 431 /);
  assert.match(await exchange(port, 'GET /slow HTTP/1.1\r\nHost: x\r\n'), /^HTTP\/1\.1 408 /);
  assert.match(await exchange(port, 'GET /cut HTTP/1.1\r\nHo', true), /^HTTP\/1\.1 400 /);
  assert.match(await exchange(port, 'POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n'), /^HTTP\/1\.1 400 /);
  assert.match(
    await exchange(port, `POST /long-line HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;${'e'.repeat(20_000)}\r\n`),
    /^HTTP\/1\.1 413 /,
  );
  assert.match(await silent, /^HTTP\/1\.1 408 /);
  assert.equal((await curl([`http://127.0.0.1:${port}/fine`])).status, 200);

  await eventually(() => lines().some((line) => line.path === '/fine'), 'the last request to be logged');
  const logged = lines().map(({ method, path, status, error }) => ({ method, path: path.length > 20 ? `${path.slice(0, 20)}…` : path, status, error }));
  assert.deepEqual(logged, [
    { method: 'GET', path: '/a', status: 400, error: 'malformed request head' },
    { method: 'GET', path: `/${'x'.repeat(19)}…`, status: 414, error: 'request target too long' },
    { method: 'GET', path: '/v2', status: 505, error: 'unsupported HTTP version' },
    { method: 'POST', path: '/gz', status: 501, error: 'unsupported transfer coding' },
    { method: 'GET', path: '/big', status: 431, error: 'request head too large' },
    { method: 'GET', path: '/slow', status: 408, error: 'request head timeout' },
    { method: 'GET', path: '/cut', status: 400, error: 'incomplete request head' },
    { method: 'POST', path: '/upload', status: 400, error: 'malformed chunked body' },
    { method: 'POST', path: '/long-line', status: 413, error: 'chunk line too long' },
    { method: 'GET', path: '/fine', status: 200, error: undefined },
  ]);
  assert.ok(lines().find((line) => line.status === 414)!.path.length <= 1024, 'a huge target is logged cut at maxUrlLength');
  assert.equal(lines().find((line) => line.path === '/upload')?.pool, 'app', 'the broken body was on its way to the pool');
});
