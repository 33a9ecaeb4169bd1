/**
 * Upgrades: `Upgrade: h2c` is never tunnelled (the request is served as plain
 * HTTP/1.1 and what follows it is never passed through), and a WebSocket
 * tunnel opens only after the server really answered 101.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { simpleConfig, startBallast, type RunningBallast } from '../helpers/ballast.js';
import { startBackend, type TestBackend } from '../helpers/http-backend.js';
import { portOf, rawExchange } from './raw.js';

const WS_HANDSHAKE = (path: string, extra = ''): string =>
  `GET ${path} HTTP/1.1\r\nHost: app.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
  `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`;

interface WsBackend {
  readonly port: number;
  /** Request heads read, by path. */
  readonly heads: Map<string, string>;
  /** Bytes received after the request head, by path. */
  readonly after: Map<string, string>;
  close(): Promise<void>;
}

/**
 * A raw server for upgrade tests: `/ws-accept` answers 101 then echoes every
 * byte; `/ws-403` and `/ws-200` decline; any other path gets 101 (whether it
 * asked for an upgrade or not).
 */
async function startWsBackend(): Promise<WsBackend> {
  const heads = new Map<string, string>();
  const afterHead = new Map<string, string>();
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let pending = '';
    let path: string | undefined;
    socket.on('data', (chunk: Buffer) => {
      const text = chunk.toString('latin1');
      if (path !== undefined) {
        afterHead.set(path, (afterHead.get(path) ?? '') + text);
        if (path === '/ws-accept') socket.write(chunk);
        return;
      }
      pending += text;
      const end = pending.indexOf('\r\n\r\n');
      if (end === -1) return;
      const head = pending.slice(0, end);
      path = (head.split(' ')[1] ?? '').trim();
      heads.set(path, head);
      afterHead.set(path, pending.slice(end + 4));
      if (path === '/ws-403') socket.write('HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno');
      else if (path === '/ws-200') socket.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nplain');
      else socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as net.AddressInfo).port,
    heads,
    after: afterHead,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('upgrades', () => {
  let ws: WsBackend;
  let plain: TestBackend;
  let wsLb: RunningBallast;
  let plainLb: RunningBallast;
  before(async () => {
    ws = await startWsBackend();
    plain = await startBackend('plain');
    wsLb = await startBallast(simpleConfig([`127.0.0.1:${ws.port}`], { retries: { attempts: 0 } }, { maxHeaders: 20 }));
    plainLb = await startBallast(simpleConfig([plain.address]));
  });
  after(async () => {
    await wsLb.close();
    await plainLb.close();
    await ws.close();
    await plain.close();
  });

  test('Upgrade: h2c is answered as plain HTTP/1.1; the HTTP/2 preface after it is never passed through', async () => {
    const preface = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';
    const before = plain.requests.length;
    const result = await rawExchange(portOf(plainLb.url()), [
      'GET /h2c HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n' + preface,
    ]);
    assert.equal(result.status, 200);
    assert.equal(result.responses[0]?.body, 'plain');
    assert.ok(!result.text.includes(' 101 '), 'never switched protocols');
    assert.ok(result.closed, 'the connection closes after the answer');
    const seen = plain.requests.slice(before);
    assert.deepEqual(seen.map((request) => request.url), ['/h2c'], 'the preface never reached the server');
    assert.equal(seen[0]?.headers.upgrade, undefined);
    assert.equal(seen[0]?.headers['http2-settings'], undefined);
  });

  test('a server that answers 101 to an h2c request gets nothing tunnelled: 502', async () => {
    const result = await rawExchange(portOf(wsLb.url()), [
      'GET /h2c-accepted HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\nPRI * HTTP/2.0\r\n\r\n',
    ]);
    assert.equal(result.status, 502);
    assert.equal(ws.heads.get('/h2c-accepted')?.toLowerCase().includes('upgrade: h2c'), false, 'the Upgrade header was not forwarded');
    assert.equal(ws.after.get('/h2c-accepted') ?? '', '', 'no byte after the request reached the server');
  });

  test('a WebSocket handshake the server declines (403, 200) is relayed and closed; later bytes never reach it', async () => {
    for (const [path, status] of [
      ['/ws-403', 403],
      ['/ws-200', 200],
    ] as const) {
      const result = await rawExchange(portOf(wsLb.url()), [WS_HANDSHAKE(path), 'frames the client sends anyway'], { gapMs: 100 });
      assert.equal(result.status, status, path);
      assert.ok(result.closed, `${path}: closed after the refusal`);
      assert.equal(ws.after.get(path) ?? '', '', `${path}: nothing tunnelled to the server`);
    }
  });

  test('after a real 101 the tunnel carries bytes both ways', async () => {
    const socket = net.connect(portOf(wsLb.url()), '127.0.0.1');
    try {
      let text = '';
      socket.on('data', (chunk: Buffer) => {
        text += chunk.toString('latin1');
      });
      socket.write(WS_HANDSHAKE('/ws-accept'));
      await until(() => text.includes('\r\n\r\n'));
      assert.match(text, /^HTTP\/1\.1 101 /);
      socket.write('ping-through-the-tunnel');
      await until(() => text.includes('ping-through-the-tunnel'));
      assert.equal(ws.after.get('/ws-accept'), 'ping-through-the-tunnel');
    } finally {
      socket.destroy();
    }
  });

  test('a WebSocket handshake that breaks a listener limit is refused before it reaches a server', async () => {
    const extra = Array.from({ length: 30 }, (_, i) => `X-Extra-${i}: v\r\n`).join('');
    const result = await rawExchange(portOf(wsLb.url()), [WS_HANDSHAKE('/ws-too-big', extra)]);
    assert.equal(result.status, 431);
    assert.ok(result.closed);
    assert.equal(ws.heads.has('/ws-too-big'), false);
  });
});

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
