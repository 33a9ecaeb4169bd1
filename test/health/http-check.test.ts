import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { httpCheck, MAX_BODY_BYTES } from '../../src/health/active/http.js';
import { runCheck } from '../../src/health/active/index.js';
import type { HostPort } from '../../src/core/server.js';
import { startBackend, type TestBackend } from '../helpers/http-backend.js';
import { eventually, freePort } from '../helpers/net.js';
import { httpConfig } from './configs.js';

function signal(): AbortSignal {
  return new AbortController().signal;
}

function at(backend: TestBackend): HostPort {
  return { host: '127.0.0.1', port: backend.port };
}

/** `/status/N` answers N; `/body/...` serves the bodies the tests need. */
async function healthBackend(): Promise<TestBackend> {
  return startBackend('health', (req, res) => {
    req.resume();
    const url = req.url ?? '/';
    const status = /^\/status\/(\d{3})$/.exec(url);
    if (status) {
      res.writeHead(Number(status[1]), { 'content-type': 'text/plain' });
      res.end('status page');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' });
    switch (url) {
      case '/body/ready':
        res.end('{"status":"ready"}');
        return;
      case '/body/split':
        res.write('all systems re');
        setTimeout(() => res.end('ady now'), 50);
        return;
      case '/body/large':
        res.write('x'.repeat(MAX_BODY_BYTES + 1024));
        res.end('ready');
        return;
      case '/body/streaming':
        res.write('ready, and more to come'); // never ends
        return;
      case '/body/endless':
        res.write('starting'); // never ends, never says ready
        return;
      default:
        res.end('ok');
    }
  });
}

/** A TCP server that runs `onSocket` for every connection; tracks open sockets. */
async function rawServer(onSocket: (socket: Socket) => void): Promise<{ server: Server; port: number; open: Set<Socket>; close(): Promise<void> }> {
  const open = new Set<Socket>();
  const server = createServer((socket) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    socket.on('error', () => {});
    // Reading is what lets the server see the probe's FIN and close its side.
    socket.resume();
    onSocket(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    server,
    port: (server.address() as AddressInfo).port,
    open,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('http check', () => {
  test('status ranges decide; the reason is the status', async (t) => {
    const backend = await healthBackend();
    t.after(() => backend.close());
    const cases: [path: string, ranges: { min: number; max: number }[], ok: boolean, reason: string][] = [
      ['/status/200', [{ min: 200, max: 399 }], true, '200'],
      ['/status/301', [{ min: 200, max: 399 }], true, '301'],
      ['/status/503', [{ min: 200, max: 399 }], false, 'status 503'],
      ['/status/404', [{ min: 200, max: 299 }], false, 'status 404'],
      ['/status/404', [{ min: 200, max: 299 }, { min: 404, max: 404 }], true, '404'],
      ['/status/204', [{ min: 204, max: 204 }], true, '204'],
      ['/status/200', [{ min: 204, max: 204 }], false, 'status 200'],
    ];
    for (const [path, expectStatus, ok, reason] of cases) {
      assert.deepEqual(await httpCheck(at(backend), httpConfig({ path, expectStatus }), signal()), { ok, reason }, `${path} ${JSON.stringify(expectStatus)}`);
    }
  });

  test('expectBody looks for a substring in the first bytes of the body', async (t) => {
    const backend = await healthBackend();
    t.after(() => backend.close());
    const check = (path: string, expectBody: string) => httpCheck(at(backend), httpConfig({ path, expectBody, timeout: 2_000 }), signal());
    assert.deepEqual(await check('/body/ready', '"ready"'), { ok: true, reason: '200' });
    assert.deepEqual(await check('/body/ready', 'degraded'), { ok: false, reason: 'body mismatch' });
    assert.deepEqual(await check('/body/split', 'ready'), { ok: true, reason: '200' }, 'found across chunks');
    assert.deepEqual(await check('/body/large', 'ready'), { ok: false, reason: 'body mismatch' }, 'beyond the read limit');
    assert.deepEqual(await check('/body/streaming', 'ready'), { ok: true, reason: '200' }, 'decided without waiting for the end');
    assert.deepEqual(await check('/status/503', 'status'), { ok: false, reason: 'status 503' }, 'status is checked first');
  });

  test('sends the path and the Host header from config, or the target address', async (t) => {
    const backend = await healthBackend();
    t.after(() => backend.close());
    await httpCheck(at(backend), httpConfig({ path: '/healthz?deep=1', host: 'health.example.com' }), signal());
    await runCheck(at(backend), httpConfig({ path: '/ping' }), signal());
    assert.equal(backend.requests.length, 2);
    assert.equal(backend.requests[0]?.url, '/healthz?deep=1');
    assert.equal(backend.requests[0]?.headers.host, 'health.example.com');
    assert.equal(backend.requests[0]?.method, 'GET');
    assert.equal(backend.requests[1]?.url, '/ping');
    assert.equal(backend.requests[1]?.headers.host, `127.0.0.1:${backend.port}`);
    assert.equal(backend.requests[1]?.headers['user-agent'], 'ballast-health-check');
  });

  test('every check opens a fresh connection and closes it', async (t) => {
    const backend = await healthBackend();
    t.after(() => backend.close());
    let connections = 0;
    backend.server.on('connection', () => connections++);
    for (let i = 0; i < 5; i++) assert.equal((await httpCheck(at(backend), httpConfig({ path: '/body/ready', expectBody: 'ready' }), signal())).ok, true);
    assert.equal(connections, 5);
    await eventually(async () => (await backend.connections()) === 0, 'check connections closed');
  });

  test('a server that never answers times out, and the connection is closed', async (t) => {
    const silent = await rawServer(() => {});
    t.after(() => silent.close());
    const started = performance.now();
    const result = await httpCheck({ host: '127.0.0.1', port: silent.port }, httpConfig({ timeout: 300 }), signal());
    const elapsed = performance.now() - started;
    assert.deepEqual(result, { ok: false, reason: 'timeout' });
    assert.ok(elapsed >= 250 && elapsed < 5_000, `took ${elapsed} ms`);
    await eventually(() => silent.open.size === 0, 'probe socket closed');
  });

  test('a body that never contains the text times out', async (t) => {
    const backend = await healthBackend();
    t.after(() => backend.close());
    const result = await httpCheck(at(backend), httpConfig({ path: '/body/endless', expectBody: 'ready', timeout: 300 }), signal());
    assert.deepEqual(result, { ok: false, reason: 'timeout' });
    await eventually(async () => (await backend.connections()) === 0, 'probe connection closed');
  });

  test('a refused port and a reset connection are named', async (t) => {
    const port = await freePort();
    assert.deepEqual(await httpCheck({ host: '127.0.0.1', port }, httpConfig(), signal()), { ok: false, reason: 'refused' });
    const rude = await rawServer((socket) => socket.once('data', () => socket.resetAndDestroy()));
    t.after(() => rude.close());
    assert.deepEqual(await httpCheck({ host: '127.0.0.1', port: rude.port }, httpConfig(), signal()), { ok: false, reason: 'reset' });
  });

  test('an aborted signal ends the check at once', async (t) => {
    const silent = await rawServer(() => {});
    t.after(() => silent.close());
    const controller = new AbortController();
    const pending = httpCheck({ host: '127.0.0.1', port: silent.port }, httpConfig({ timeout: 10_000 }), controller.signal);
    await eventually(() => silent.open.size === 1, 'probe connected');
    controller.abort();
    assert.deepEqual(await pending, { ok: false, reason: 'aborted' });
    await eventually(() => silent.open.size === 0, 'probe socket closed');
    const already = new AbortController();
    already.abort();
    assert.deepEqual(await httpCheck({ host: '127.0.0.1', port: silent.port }, httpConfig(), already.signal), { ok: false, reason: 'aborted' });
  });
});
