/**
 * WebSocket tunnels and the HTTP/1 engine: nothing the client sends after
 * its upgrade request reaches the server before the server switched
 * protocols, and a shutdown closes open tunnels once the drain is over.
 */
import assert from 'node:assert/strict';
import net, { type AddressInfo } from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { simpleConfig, startBallast } from '../helpers/ballast.js';
import { portOf } from '../hardening/raw.js';

const UPGRADE = 'GET /ws HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';

/** A raw server: calls `onHead(socket, afterHead)` once a request head arrived, then records every later byte. */
async function rawServer(onHead: (socket: net.Socket) => void): Promise<{ address: string; later: () => string; close: () => void }> {
  let later = '';
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    let seen = '';
    let headDone = false;
    socket.on('data', (chunk: Buffer) => {
      if (headDone) {
        later += chunk.toString('latin1');
        return;
      }
      seen += chunk.toString('latin1');
      const end = seen.indexOf('\r\n\r\n');
      if (end === -1) return;
      headDone = true;
      later += seen.slice(end + 4);
      onHead(socket);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    later: () => later,
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

test('bytes sent behind an upgrade request never reach a server that refuses the upgrade; the refusal is relayed as a closing answer', async () => {
  const server = await rawServer((socket) => {
    setTimeout(() => socket.end('HTTP/1.1 403 Forbidden\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nContent-Length: 2\r\n\r\nno'), 300);
  });
  const lb = await startBallast(simpleConfig([server.address]));
  try {
    const client = net.connect(portOf(lb.url()), '127.0.0.1');
    client.on('error', () => undefined);
    let answer = '';
    client.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    client.write(`${UPGRADE}GET /admin HTTP/1.1\r\nHost: app.test\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n`);
    await new Promise((resolve) => client.once('close', resolve));
    assert.match(answer, /^HTTP\/1\.1 403 /);
    assert.match(answer, /\r\nconnection: close\r\n/);
    assert.doesNotMatch(answer, /keep-alive/i);
    assert.ok(answer.endsWith('\r\n\r\nno'), JSON.stringify(answer));
    assert.equal(server.later(), '', 'the server received nothing after the upgrade request');
  } finally {
    await lb.close();
    server.close();
  }
});

test('shutdown closes an open tunnel after the drain and returns', async () => {
  const server = await rawServer((socket) => {
    socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
  });
  const lb = await startBallast(simpleConfig([server.address]));
  const client = net.connect(portOf(lb.url()), '127.0.0.1');
  client.on('error', () => undefined);
  try {
    const switched = new Promise<void>((resolve) => client.once('data', () => resolve()));
    client.write(UPGRADE);
    await switched;
    // A busy tunnel: bytes keep flowing while Ballast shuts down.
    const busy = setInterval(() => client.writable && client.write('frame'), 50);
    const started = performance.now();
    const clientClosed = new Promise((resolve) => client.once('close', resolve));
    await lb.handle.close(300);
    const ms = performance.now() - started;
    clearInterval(busy);
    await Promise.race([clientClosed, sleep(2000)]);
    assert.ok(ms < 3000, `close returned after ${ms.toFixed(0)} ms`);
    assert.ok(client.destroyed || client.closed, 'the tunnel was closed');
  } finally {
    client.destroy();
    server.close();
  }
});
