/**
 * When bytes move and when connections end, through Ballast's HTTP/1
 * engine: a head the server sends first is not held back, a slow upload is
 * not the server's fault, a client that stops reading or sends only empty
 * lines does not hold its connection forever.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { simpleConfig, startBallast, type RunningBallast } from '../helpers/ballast.js';
import { portOf } from '../hardening/raw.js';

const HOST = 'Host: app.test\r\n';

/** Connects to Ballast; resolves with the socket once connected. */
function connectTo(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Resolves with the ms from now until `socket` closes, or `limitMs` if it stays open. */
function closedWithin(socket: net.Socket, limitMs: number): Promise<number> {
  const started = performance.now();
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(limitMs), limitMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(performance.now() - started);
    });
  });
}

describe('HTTP/1 timing through Ballast', () => {
  let backend: Server;
  let lb: RunningBallast;
  let port: number;
  /** Bodies the backend read, by path. */
  const bodies = new Map<string, number>();
  /** Responses the backend saw aborted before they finished, by path. */
  const aborted: string[] = [];

  before(async () => {
    backend = createServer((req, res) => {
      if (req.url === '/events') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.flushHeaders();
        setTimeout(() => res.end('data: late\n\n'), 1500);
        return;
      }
      if (req.url === '/endless') {
        const chunk = Buffer.alloc(64 * 1024, 120);
        const pump = (): void => {
          while (res.write(chunk));
        };
        res.on('drain', pump);
        res.on('close', () => {
          if (!res.writableFinished) aborted.push(req.url ?? '');
        });
        pump();
        return;
      }
      let size = 0;
      req.on('data', (chunk: Buffer) => (size += chunk.length));
      req.on('end', () => {
        bodies.set(req.url ?? '', size);
        res.end('ok');
      });
    });
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
    const address = `127.0.0.1:${(backend.address() as AddressInfo).port}`;
    lb = await startBallast(
      simpleConfig([address], { timeouts: { connect: '1s', response: '1s', idle: '30s' } }, { timeouts: { requestHeaders: '1s', idle: '1s', requestBodyIdle: '5s' } }),
    );
    port = portOf(lb.url());
  });
  after(async () => {
    await lb.close();
    backend.closeAllConnections();
    await new Promise<void>((resolve) => backend.close(() => resolve()));
  });

  test('a head the server sends before its body reaches the client at once', async () => {
    const socket = await connectTo(port);
    const started = performance.now();
    const firstBytes = new Promise<number>((resolve) => socket.once('data', () => resolve(performance.now() - started)));
    socket.write(`GET /events HTTP/1.1\r\n${HOST}\r\n`);
    const ms = await firstBytes;
    socket.destroy();
    assert.ok(ms < 1000, `the head arrived after ${ms.toFixed(0)} ms, not with the body 1.5 s later`);
  });

  test('an upload slower than the pool response timeout completes: the server is not timed for the client', async () => {
    const socket = await connectTo(port);
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.write(`POST /slow-upload HTTP/1.1\r\n${HOST}Content-Length: 10\r\n\r\nhello`);
    await sleep(1600);
    socket.write('world');
    await closedWithin(socket, 2000).catch(() => 0);
    socket.destroy();
    assert.match(answer, /^HTTP\/1\.1 200 /, answer.slice(0, 80));
    assert.equal(bodies.get('/slow-upload'), 10);
  });

  test('a client that stops reading its response is closed after the idle timeout, and the server exchange aborted', async () => {
    const socket = await connectTo(port);
    socket.on('error', () => undefined);
    socket.write(`GET /endless HTTP/1.1\r\n${HOST}\r\n`);
    // A paused socket reads nothing, so it cannot see the close itself: the server side shows it.
    socket.pause();
    const started = performance.now();
    while (!aborted.includes('/endless') && performance.now() - started < 8000) await sleep(100);
    assert.ok(aborted.includes('/endless'), 'the server saw its response aborted');
    assert.equal(lb.handle.status().listeners.find((listener) => listener.name === 'web')?.inFlight, 0);
    socket.resume();
    assert.ok((await closedWithin(socket, 5000)) < 5000, 'the client finds its connection closed once it reads again');
  });

  test('empty lines after a request do not keep the connection past its timeouts', async () => {
    const socket = await connectTo(port);
    socket.on('data', () => undefined);
    socket.write(`GET /first HTTP/1.1\r\n${HOST}\r\n`);
    const closed = closedWithin(socket, 6000);
    const dribble = setInterval(() => socket.writable && socket.write('\r\n'), 250);
    const ms = await closed;
    clearInterval(dribble);
    socket.destroy();
    assert.ok(ms < 6000, 'the connection was closed while it sent nothing but empty lines');
  });
});
