import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import type { PoolServer } from '../../src/pools/server.js';
import type { AccessLogEntry } from '../../src/proxy/access-log.js';
import { encodeProxyV1, encodeProxyV2, PROXY_V2_SIGNATURE } from '../../src/proxy/proxy-protocol.js';
import { TcpSession, TcpStats, type TcpListenerStats, type TcpProxyContext } from '../../src/proxy/tcp.js';
import { eventually } from '../helpers/net.js';
import {
  collect,
  deadAddress,
  dial,
  exchange,
  readBytes,
  startEchoServer,
  startProxyParsingServer,
  startTcpBallast,
  startTcpServer,
} from './tcp-helpers.js';

function serverStats(stats: TcpListenerStats, server: string): TcpListenerStats['servers'][number] | undefined {
  return stats.servers.find((entry) => entry.server === server);
}

function poolServer(pool: { require(name: string): PoolServer }, name: string): PoolServer {
  return pool.require(name);
}

describe('tcp listener: forwarding', () => {
  test('bytes go both ways and the answer still arrives after the client half-closes', async (t) => {
    // Reads until the client's FIN, then answers with what it got.
    const backend = await startTcpServer('half-close', (socket) => {
      let received = 0;
      socket.on('data', (chunk: Buffer) => {
        received += chunk.length;
      });
      socket.on('end', () => {
        setTimeout(() => socket.end(`received ${received} bytes`), 50);
      });
    });
    const lb = await startTcpBallast([backend.address]);
    t.after(async () => {
      await lb.close();
      await backend.close();
    });
    const socket = await dial(lb.port);
    const result = collect(socket);
    socket.write(Buffer.alloc(1000, 1));
    socket.write(Buffer.alloc(2000, 2));
    socket.end(Buffer.alloc(3000, 3));
    const { data, ended, error } = await result;
    assert.equal(data.toString(), 'received 6000 bytes');
    assert.equal(ended, true);
    assert.equal(error, undefined);
    await eventually(() => lb.logs.length === 1, 'one access log entry');
    const entry = lb.logs[0];
    assert.equal(entry?.method, 'TCP');
    assert.equal(entry?.path, '-');
    assert.equal(entry?.status, 200);
    assert.equal(entry?.server, 's1');
    assert.equal(entry?.pool, 'app');
    assert.equal(entry?.bytes, 'received 6000 bytes'.length);
    assert.equal(entry?.error, undefined);
  });

  test('after the server half-closes, the client can still send', async (t) => {
    let late = '';
    let lateArrived: () => void = () => undefined;
    const gotLate = new Promise<void>((resolve) => {
      lateArrived = resolve;
    });
    const server = await startTcpServer('early-fin', (socket) => {
      socket.end('bye');
      socket.on('data', (chunk: Buffer) => {
        late += chunk.toString();
      });
      socket.on('end', () => lateArrived());
    });
    const lb = await startTcpBallast([server.address]);
    t.after(async () => {
      await lb.close();
      await server.close();
    });
    const socket = await dial(lb.port, { allowHalfOpen: true });
    const result = collect(socket);
    await new Promise<void>((resolve) => socket.once('end', () => resolve()));
    socket.end('late data');
    await gotLate;
    const { data } = await result;
    assert.equal(data.toString(), 'bye');
    assert.equal(late, 'late data');
  });

  test('a client reset reaches the server, and a server reset reaches the client', async (t) => {
    const serverErrors: string[] = [];
    const sockets: Socket[] = [];
    const backend = await startTcpServer('resets', (socket) => {
      sockets.push(socket);
      socket.on('error', (error: NodeJS.ErrnoException) => serverErrors.push(error.code ?? error.message));
      socket.on('data', () => undefined);
    });
    const lb = await startTcpBallast([backend.address]);
    t.after(async () => {
      await lb.close();
      await backend.close();
    });
    const first = await dial(lb.port);
    first.on('error', () => undefined);
    await eventually(() => sockets.length === 1, 'server accepted the first connection');
    first.resetAndDestroy();
    await eventually(() => serverErrors.includes('ECONNRESET'), 'server saw the reset');

    const second = await dial(lb.port);
    const result = collect(second);
    await eventually(() => sockets.length === 2, 'server accepted the second connection');
    second.write('x');
    await sleep(50);
    sockets[1]?.resetAndDestroy();
    const { ended, error } = await result;
    assert.equal(ended, false);
    assert.equal(error, 'ECONNRESET');
    await eventually(() => lb.logs.length === 2, 'two access log entries');
    assert.deepEqual(lb.logs.map((entry) => entry.error).sort(), ['client reset', 'server reset']);
  });
});

describe('tcp listener: reused read buffers', () => {
  /** Writes `chunks` honouring backpressure, then half-closes. */
  async function send(socket: Socket, chunks: readonly Buffer[]): Promise<void> {
    for (const chunk of chunks) {
      if (!socket.write(chunk)) await new Promise((resolve) => socket.once('drain', resolve));
    }
    socket.end();
  }

  /**
   * Reads until the peer's FIN, starting only after a while and stopping
   * again every `every` bytes: more than the kernel buffers between proxy and
   * reader hold piles up, so the proxy's writes to this side stay pending.
   */
  function receive(socket: Socket, every: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let sinceStop = 0;
      socket.pause();
      setTimeout(() => socket.resume(), 300);
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        sinceStop += chunk.length;
        if (sinceStop < every) return;
        sinceStop = 0;
        socket.pause();
        setTimeout(() => socket.resume(), 10);
      });
      socket.once('end', () => resolve(Buffer.concat(chunks)));
      socket.once('error', reject);
    });
  }

  /** About 12 MB in chunks of 1 byte to 200 KiB, so that reads both fill and barely use their buffers. */
  function payload(seed: number): Buffer[] {
    const sizes = [1, 7, 200 * 1024, 3, 64 * 1024, 4096, 4097, 65_537, 100, 131_072];
    const chunks: Buffer[] = [];
    for (let i = 0; i < 260; i++) chunks.push(randomBytes(sizes[(i + seed) % sizes.length] as number));
    return chunks;
  }

  const digest = (data: Buffer | readonly Buffer[]): string =>
    createHash('sha256')
      .update(Buffer.isBuffer(data) ? data : Buffer.concat(data))
      .digest('hex');

  test('concurrent transfers both ways, through slow readers on both ends, arrive intact', async (t) => {
    // The server sends its own stream while it echoes nothing: each direction is checked on its own.
    const fromServer = new Map<number, Buffer[]>();
    const toServer = new Map<number, Promise<Buffer>>();
    let next = 0;
    const backend = await startTcpServer('slow', (socket) => {
      const id = next++;
      const chunks = payload(id + 5);
      fromServer.set(id, chunks);
      toServer.set(id, receive(socket, 1024 * 1024));
      void send(socket, chunks);
    });
    const lb = await startTcpBallast([backend.address]);
    t.after(async () => {
      await lb.close();
      await backend.close();
    });
    const runs = [0, 1].map(async (i) => {
      const socket = await dial(lb.port, { allowHalfOpen: true });
      const chunks = payload(i);
      const received = receive(socket, 768 * 1024);
      await send(socket, chunks);
      const data = await received;
      return { sent: digest(chunks), received: digest(data) };
    });
    const results = await Promise.all(runs);
    const ids = [...fromServer.keys()].sort();
    assert.equal(ids.length, 2);
    const serverSent = new Set(ids.map((id) => digest(fromServer.get(id) as Buffer[])));
    const serverReceived = new Set(await Promise.all(ids.map(async (id) => digest(await (toServer.get(id) as Promise<Buffer>)))));
    for (const { sent, received } of results) {
      assert.ok(serverReceived.has(sent), 'what a client sent reached the server intact');
      assert.ok(serverSent.has(received), 'what the server sent reached the client intact');
    }
    await eventually(() => lb.logs.length === 2, 'two access log entries');
    assert.ok(lb.logs.every((entry) => entry.status === 200 && entry.error === undefined));
  });

  test('a connection Node.js accepted itself is relayed the same way, PROXY header included', async (t) => {
    // The listener takes connections from Node's accept path when the listening handle offers no hook.
    const echo = await startEchoServer('echo');
    const lb = await startTcpBallast([echo.address]);
    const logs: AccessLogEntry[] = [];
    const open = new Set<TcpSession>();
    const context = (acceptProxyProtocol: boolean): TcpProxyContext => ({
      name: 'plain',
      pool: lb.pool,
      proxyProtocol: undefined,
      acceptProxyProtocol,
      isTrusted: () => true,
      idleTimeoutMs: 60_000,
      accessLog: (entry) => logs.push(entry),
      stats: new TcpStats(),
    });
    const plain = context(false);
    const withHeader = context(true);
    const servers = [plain, withHeader].map((ctx) =>
      createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (socket) => {
        const session = new TcpSession(ctx, (done) => open.delete(done));
        open.add(session);
        session.acceptSocket(socket);
      }),
    );
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))));
    t.after(async () => {
      for (const server of servers) server.close();
      await lb.close();
      await echo.close();
    });
    const [plainPort, headerPort] = servers.map((server) => (server.address() as AddressInfo).port) as [number, number];
    const data = randomBytes(3 * 1024 * 1024);
    const plainResult = await exchange(plainPort, data);
    assert.ok(plainResult.data.equals(data), 'echo intact');
    const header = encodeProxyV1({ address: '127.0.0.9', port: 999 }, { address: '127.0.0.1', port: headerPort });
    const headerResult = await exchange(headerPort, Buffer.concat([header, Buffer.from('after the header')]));
    assert.equal(headerResult.data.toString(), 'after the header');
    await eventually(() => logs.length === 2 && open.size === 0, 'both sessions finished');
    assert.deepEqual(logs.map((entry) => [entry.status, entry.client]).sort(), [
      [200, '127.0.0.1'],
      [200, '127.0.0.9'],
    ]);
    assert.equal(plain.stats.listener.bytesIn, data.length);
    assert.equal(plain.stats.listener.bytesOut, data.length);
    assert.equal(withHeader.stats.listener.bytesIn, 'after the header'.length);
  });
});

describe('tcp listener: failover and refusals', () => {
  test('a refused connection fails over to the next server with no byte lost', async (t) => {
    const dead = await deadAddress();
    const echo = await startEchoServer('echo');
    const lb = await startTcpBallast([dead, echo.address]);
    t.after(async () => {
      await lb.close();
      await echo.close();
    });
    for (let i = 0; i < 4; i++) {
      const payload = randomBytes(256 * 1024);
      const { data, ended } = await exchange(lb.port, payload);
      assert.equal(ended, true);
      assert.ok(data.equals(payload), `connection ${i}: echo differs (${data.length} of ${payload.length} bytes)`);
    }
    await eventually(() => lb.logs.length === 4, 'four access log entries');
    assert.ok(lb.logs.every((entry) => entry.status === 200 && entry.server === 's2'));
    const retried = lb.logs.filter((entry) => entry.retries === 1).length;
    assert.ok(retried >= 1, 'round robin put at least one connection on the dead server first');
    const stats = lb.listener.stats();
    assert.equal(stats.connectErrors, retried);
    assert.equal(serverStats(stats, 's1')?.connectErrors, retried);
    assert.equal(serverStats(stats, 's1')?.connections, 0);
    assert.equal(serverStats(stats, 's2')?.connections, 4);
    assert.equal(poolServer(lb.pool, 's1').counters.failures, retried, 'connect failures count against the server');
    assert.equal(poolServer(lb.pool, 's1').inFlight, 0);
    assert.equal(poolServer(lb.pool, 's2').inFlight, 0);
  });

  test('when retries run out the client is closed cleanly and logged as 502', async (t) => {
    const lb = await startTcpBallast([await deadAddress(), await deadAddress()], { retries: { attempts: 1 } });
    const noRetry = await startTcpBallast([await deadAddress()], { retries: { attempts: 0 } });
    t.after(async () => {
      await lb.close();
      await noRetry.close();
    });
    const { data, ended, error } = await exchange(lb.port, 'hello');
    assert.equal(data.length, 0);
    assert.equal(ended, true);
    assert.equal(error, undefined);
    await eventually(() => lb.logs.length === 1, 'access log entry');
    assert.equal(lb.logs[0]?.status, 502);
    assert.equal(lb.logs[0]?.retries, 1);
    assert.equal(lb.logs[0]?.error, 'connection refused');
    assert.equal(lb.listener.stats().connectErrors, 2);

    await exchange(noRetry.port, 'hello');
    await eventually(() => noRetry.logs.length === 1, 'access log entry');
    assert.equal(noRetry.logs[0]?.status, 502);
    assert.equal(noRetry.listener.stats().connectErrors, 1);
  });

  test('a connect timeout fails over to the next server', async (t) => {
    // A listener whose process is stopped: the kernel queues a connection or
    // two for it, then drops further SYNs, so a connection attempt hangs.
    const child = spawn(process.execPath, [
      '-e',
      "const s = require('net').createServer(); s.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => console.log(s.address().port));",
    ]);
    t.after(() => child.kill('SIGKILL'));
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
      child.once('error', reject);
    });
    child.kill('SIGSTOP');
    const fillers = [0, 1, 2, 3].map(() => connect({ port, host: '127.0.0.1' }).on('error', () => undefined));
    t.after(() => fillers.forEach((socket) => socket.destroy()));
    await sleep(200);
    const echo = await startEchoServer('echo');
    const lb = await startTcpBallast([`127.0.0.1:${port}`, echo.address], { timeouts: { connect: '400ms' } });
    t.after(async () => {
      await lb.close();
      await echo.close();
    });
    const started = Date.now();
    const { data } = await exchange(lb.port, 'through the timeout');
    const took = Date.now() - started;
    assert.equal(data.toString(), 'through the timeout');
    await eventually(() => lb.logs.length === 1, 'access log entry');
    assert.equal(lb.logs[0]?.server, 's2');
    assert.equal(lb.logs[0]?.retries, 1, 'round robin tried the stalled server first');
    assert.ok(took >= 400, `failed over after ${took} ms, before the connect timeout`);
    assert.ok(took < 400 + 2 * 50 + 500, `failed over after ${took} ms, long after the connect timeout`);
    assert.equal(lb.listener.stats().connectErrors, 1);
    assert.equal(poolServer(lb.pool, 's1').inFlight, 0);
  });

  test('with no server to take it, a connection is closed cleanly and logged as 503', async (t) => {
    const echo = await startEchoServer('echo');
    const lb = await startTcpBallast([echo.address]);
    t.after(async () => {
      await lb.close();
      await echo.close();
    });
    const server = poolServer(lb.pool, 's1');
    lb.pool.disable(server);
    const refused = await exchange(lb.port, 'anyone?');
    assert.equal(refused.data.length, 0);
    assert.equal(refused.ended, true);
    assert.equal(refused.error, undefined);
    await eventually(() => lb.logs.length === 1, 'access log entry');
    assert.equal(lb.logs[0]?.status, 503);
    assert.equal(lb.listener.stats().noServer, 1);
    assert.equal(echo.accepted, 0);

    lb.pool.enable(server);
    const served = await exchange(lb.port, 'now?');
    assert.equal(served.data.toString(), 'now?');
  });

  test('maxConnections queues connections; a full queue or a queue timeout refuses them', async (t) => {
    const echo = await startEchoServer('echo');
    const lb = await startTcpBallast([echo.address], { maxConnections: 1, queue: { size: 1, timeout: '10s' } });
    const shortQueue = await startTcpBallast([echo.address], { maxConnections: 1, queue: { size: 5, timeout: '200ms' } });
    t.after(async () => {
      await lb.close();
      await shortQueue.close();
      await echo.close();
    });
    const holder = await dial(lb.port);
    holder.write('1');
    await readBytes(holder, 1);
    const waiting = await dial(lb.port);
    const waited = collect(waiting);
    waiting.end('queued');
    await eventually(() => lb.pool.queued === 1, 'second connection waits in the queue');
    const overflow = await exchange(lb.port, 'no room');
    assert.equal(overflow.data.length, 0);
    holder.end();
    const { data } = await waited;
    assert.equal(data.toString(), 'queued');
    await eventually(() => lb.logs.length === 3, 'three access log entries');
    assert.deepEqual(lb.logs.map((entry) => [entry.status, entry.error ?? '']).sort(), [
      [200, ''],
      [200, ''],
      [503, 'queue full'],
    ]);

    const holder2 = await dial(shortQueue.port);
    holder2.write('1');
    await readBytes(holder2, 1);
    const timedOut = await exchange(shortQueue.port, 'too late');
    assert.equal(timedOut.data.length, 0);
    assert.equal(timedOut.ended, true);
    holder2.destroy();
    await eventually(() => shortQueue.logs.some((entry) => entry.error === 'queue timeout'), 'queue timeout logged');
    assert.equal(shortQueue.listener.stats().noServer, 1);
  });

  test('a drained server keeps its connections; new ones go to the others', async (t) => {
    const a = await startEchoServer('a');
    const b = await startEchoServer('b');
    const lb = await startTcpBallast([a.address, b.address]);
    t.after(async () => {
      await lb.close();
      await a.close();
      await b.close();
    });
    const kept = await dial(lb.port);
    kept.write('before');
    assert.equal((await readBytes(kept, 6)).toString(), 'before');
    const first = a.accepted === 1 ? a : b;
    const other = first === a ? b : a;
    lb.pool.drain(poolServer(lb.pool, first === a ? 's1' : 's2'));
    for (let i = 0; i < 4; i++) assert.equal((await exchange(lb.port, `n${i}`)).data.toString(), `n${i}`);
    assert.equal(first.accepted, 1);
    assert.equal(other.accepted, 4);
    kept.write('after drain');
    assert.equal((await readBytes(kept, 11)).toString(), 'after drain');
    kept.end();
  });
});

describe('tcp listener: timeouts, shutdown and counters', () => {
  test('the idle timeout closes an idle connection but not one busy in either direction', async (t) => {
    const backend = await startTcpServer('ticker', (socket) => {
      socket.once('data', (chunk: Buffer) => {
        if (chunk.toString() !== 'push') return;
        const timer = setInterval(() => socket.write('t'), 100);
        socket.on('close', () => clearInterval(timer));
      });
    });
    const lb = await startTcpBallast([backend.address], {}, { timeouts: { idle: '1500ms' } });
    t.after(async () => {
      await lb.close();
      await backend.close();
    });
    const quiet = await dial(lb.port);
    const quietResult = collect(quiet);
    const opened = Date.now();
    quiet.write('quiet');
    const busy = await dial(lb.port);
    const busyResult = collect(busy);
    busy.write('push');
    await quietResult;
    const lived = Date.now() - opened;
    assert.ok(lived >= 1000, `closed after ${lived} ms, before the idle timeout`);
    await sleep(1500);
    assert.equal(busy.destroyed, false, 'a connection the server keeps writing to stays open');
    busy.destroy();
    const { data } = await busyResult;
    assert.ok(data.length >= 10, `busy connection received ${data.length} ticks`);
    await eventually(() => lb.logs.some((entry) => entry.error === 'idle timeout'), 'idle timeout logged');
  });

  test('close(drainMs) stops accepting and closes what is still open after the drain time', async (t) => {
    const echo = await startEchoServer('echo');
    const lb = await startTcpBallast([echo.address]);
    t.after(async () => {
      await lb.close();
      await echo.close();
    });
    const open = await dial(lb.port);
    const result = collect(open);
    open.write('x');
    await readBytes(open, 1);
    assert.equal(lb.listener.inFlight, 1);
    const started = Date.now();
    await lb.listener.close(300);
    assert.ok(Date.now() - started >= 250, 'waited for the drain time');
    await result;
    assert.equal(lb.listener.inFlight, 0);
    await assert.rejects(dial(lb.port), /ECONNREFUSED/);
  });

  test('counts connections and bytes per listener and per server, open connections included', async (t) => {
    const echo = await startEchoServer('echo');
    const lb = await startTcpBallast([echo.address]);
    t.after(async () => {
      await lb.close();
      await echo.close();
    });
    await exchange(lb.port, Buffer.alloc(1000));
    await exchange(lb.port, Buffer.alloc(3000));
    const open = await dial(lb.port);
    open.write(Buffer.alloc(500));
    await readBytes(open, 500);
    const live = lb.listener.stats();
    assert.equal(live.connections, 3);
    assert.equal(live.active, 1);
    assert.equal(live.bytesIn, 4500);
    assert.equal(live.bytesOut, 4500);
    const server = serverStats(live, 's1');
    assert.equal(server?.pool, 'app');
    assert.equal(server?.connections, 3);
    assert.equal(server?.active, 1);
    assert.equal(server?.bytesIn, 4500);
    assert.equal(server?.bytesOut, 4500);
    assert.ok((server?.connectMsTotal ?? -1) >= 0);
    const closed = collect(open);
    open.end();
    await closed;
    await eventually(() => lb.listener.stats().active === 0, 'connection closed');
    const after = lb.listener.stats();
    assert.equal(after.bytesIn, 4500);
    assert.equal(serverStats(after, 's1')?.active, 0);
    assert.ok(after.durationMsTotal > 0);
    assert.ok((serverStats(after, 's1')?.durationMsTotal ?? 0) > 0);
    assert.equal(poolServer(lb.pool, 's1').inFlight, 0);
    assert.equal(lb.pool.inFlight, 0);
  });
});

describe('tcp listener: accepting the PROXY protocol', () => {
  async function setup(t: { after(fn: () => Promise<void>): void }, listener: Record<string, unknown> = {}, pool: Record<string, unknown> = {}) {
    const backend = await startProxyParsingServer('parser');
    const lb = await startTcpBallast([backend.address], pool, {
      acceptProxyProtocol: true,
      trustedProxies: ['127.0.0.1/32'],
      proxyProtocol: 'v1',
      ...listener,
    });
    t.after(async () => {
      await lb.close();
      await backend.close();
    });
    return { backend, lb };
  }

  test('a trusted peer’s v2 header sets the client address seen by servers and logs', async (t) => {
    const { backend, lb } = await setup(t);
    const header = encodeProxyV2({ address: '127.0.0.42', port: 5555 }, { address: '127.0.0.1', port: 6432 });
    const { data } = await exchange(lb.port, Buffer.concat([header, Buffer.from('payload')]));
    assert.equal(data.toString(), '127.0.0.42:5555\npayload');
    assert.deepEqual(backend.seen[0]?.header?.destination, { address: '127.0.0.1', port: 6432 });
    await eventually(() => lb.logs.length === 1, 'access log entry');
    assert.equal(lb.logs[0]?.client, '127.0.0.42');
    assert.equal(lb.listener.stats().bytesIn, 'payload'.length, 'the PROXY header is not counted as client data');
  });

  test('a v1 header split from its data, and an IPv6 client address', async (t) => {
    const { lb } = await setup(t);
    const socket = await dial(lb.port);
    const result = collect(socket);
    const line = encodeProxyV1({ address: '2001:db8::5', port: 1000 }, { address: '2001:db8::1', port: 443 });
    socket.write(line.subarray(0, 10));
    await sleep(30);
    socket.write(line.subarray(10));
    await sleep(30);
    socket.end('data');
    const { data } = await result;
    assert.equal(data.toString(), '2001:db8::5:1000\ndata');
  });

  test('LOCAL and UNKNOWN headers fall back to the peer address', async (t) => {
    const { lb } = await setup(t);
    const local = Buffer.concat([PROXY_V2_SIGNATURE, Buffer.from([0x20, 0x00, 0x00, 0x00])]);
    const socket = await dial(lb.port);
    const port = socket.localPort;
    const result = collect(socket);
    socket.end(Buffer.concat([local, Buffer.from('L')]));
    assert.equal((await result).data.toString(), `127.0.0.1:${port}\nL`);
    const unknown = await exchange(lb.port, 'PROXY UNKNOWN\r\nU');
    assert.match(unknown.data.toString(), /^127\.0\.0\.1:\d+\nU$/);
  });

  test('an untrusted peer is refused and the listener keeps serving', async (t) => {
    const { backend, lb } = await setup(t);
    const header = encodeProxyV2({ address: '127.0.0.66', port: 1 }, { address: '127.0.0.1', port: 2 });
    const refused = await exchange(lb.port, Buffer.concat([header, Buffer.from('sneaky')]), { localAddress: '127.0.0.2' });
    assert.equal(refused.data.length, 0);
    assert.equal(backend.accepted, 0, 'the server never saw the untrusted connection');
    const served = await exchange(lb.port, Buffer.concat([header, Buffer.from('fine')]));
    assert.equal(served.data.toString(), '127.0.0.66:1\nfine');
    await eventually(() => lb.logs.length === 2, 'two access log entries');
    assert.equal(lb.logs.find((entry) => entry.client === '127.0.0.2')?.status, 403);
    assert.equal(lb.listener.stats().rejected, 1);
  });

  test('garbage, an oversized header or a stalled one closes the connection without harm', async (t) => {
    const { backend, lb } = await setup(t);
    const garbage = await exchange(lb.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal(garbage.data.length, 0);
    const oversized = await exchange(lb.port, Buffer.concat([Buffer.from('PROXY TCP4 '), Buffer.alloc(200, '1'), Buffer.from('\r\n')]));
    assert.equal(oversized.data.length, 0);
    const stalled = await dial(lb.port);
    const stalledResult = collect(stalled);
    stalled.write('PROXY TCP4 127.0.0.1');
    const { ended, error } = await stalledResult;
    assert.ok(ended || error !== undefined, 'stalled connection closed');
    assert.equal(backend.accepted, 0);
    await eventually(() => lb.logs.length === 3, 'three access log entries');
    assert.ok(lb.logs.every((entry) => entry.status === 400));
    assert.ok(lb.logs.some((entry) => entry.error === 'PROXY header timeout'));
    assert.equal(lb.listener.stats().rejected, 3);
    const header = encodeProxyV2({ address: '127.0.0.7', port: 7 }, { address: '127.0.0.1', port: 2 });
    assert.equal((await exchange(lb.port, Buffer.concat([header, Buffer.from('ok')]))).data.toString(), '127.0.0.7:7\nok');
  });

  test('a client that resets before its connection is looked at is logged as gone (499), not refused as untrusted', async (t) => {
    const echo = await startEchoServer('e');
    const lb = await startTcpBallast([echo.address], {}, { acceptProxyProtocol: true, trustedProxies: ['127.0.0.1'] });
    t.after(async () => {
      await lb.close();
      await echo.close();
    });
    // spawnSync holds this process (and the listener in it) while the child
    // connects and resets: the connection waits in the accept queue already
    // dead, and its peer address can no longer be read.
    const child = spawnSync(process.execPath, [
      '-e',
      `const s = require('node:net').connect(${lb.port}, '127.0.0.1', () => { s.resetAndDestroy(); setTimeout(() => process.exit(0), 50); });`,
    ]);
    assert.equal(child.status, 0, child.stderr.toString());
    await eventually(() => lb.logs.length === 1, 'the connection to be logged');
    assert.equal(lb.logs[0]?.status, 499, JSON.stringify(lb.logs));
    assert.equal(lb.logs[0]?.error, 'client reset');
    assert.equal(lb.listener.stats().rejected, 0);
    const header = encodeProxyV1({ address: '127.0.0.9', port: 9 }, { address: '127.0.0.1', port: lb.port });
    assert.equal((await exchange(lb.port, Buffer.concat([header, Buffer.from('still')]))).data.toString(), 'still');
  });

  for (const algorithm of ['source-ip', 'consistent-hash'] as const) {
    test(`${algorithm} balancing uses the address from the PROXY header`, async (t) => {
      const echoes = await Promise.all(['a', 'b', 'c'].map((name) => startEchoServer(name)));
      const lb = await startTcpBallast(
        echoes.map((echo) => echo.address),
        { algorithm },
        { acceptProxyProtocol: true, trustedProxies: ['127.0.0.1'] },
      );
      t.after(async () => {
        await lb.close();
        await Promise.all(echoes.map((echo) => echo.close()));
      });
      for (const source of ['127.1.0.1', '127.2.0.2', '127.3.0.3', '127.4.0.4']) {
        const before = echoes.map((echo) => echo.accepted);
        for (let i = 0; i < 5; i++) {
          const header = encodeProxyV1({ address: source, port: 1000 + i }, { address: '127.0.0.1', port: lb.port });
          assert.equal((await exchange(lb.port, Buffer.concat([header, Buffer.from('x')]))).data.toString(), 'x');
        }
        const deltas = echoes.map((echo, i) => echo.accepted - (before[i] as number)).sort();
        assert.deepEqual(deltas, [0, 0, 5], `all connections from ${source} went to one server`);
      }
    });
  }
});
