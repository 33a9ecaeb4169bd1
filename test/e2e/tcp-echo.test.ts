import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { describe, test } from 'node:test';
import { eventually } from '../helpers/net.js';
import { collect, dial, exchange, startEchoServer, startTcpBallast } from '../proxy/tcp-helpers.js';

const MiB = 1024 * 1024;

/**
 * Writes `total` random bytes to `socket` in 64 KiB chunks, honouring
 * backpressure, then half-closes. Resolves with the sha256 of what was sent.
 */
async function sendRandom(socket: Socket, total: number): Promise<string> {
  const hash = createHash('sha256');
  let left = total;
  while (left > 0) {
    const chunk = randomBytes(Math.min(64 * 1024, left));
    left -= chunk.length;
    hash.update(chunk);
    if (!socket.write(chunk)) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = (): void => {
          socket.off('close', onClose);
          resolve();
        };
        const onClose = (): void => {
          socket.off('drain', onDrain);
          reject(new Error(`connection closed with ${left} bytes left to send`));
        };
        socket.once('drain', onDrain);
        socket.once('close', onClose);
      });
    }
  }
  socket.end();
  return hash.digest('hex');
}

/** Hashes everything `socket` receives until the peer half-closes. */
function receiveHashed(socket: Socket): Promise<{ bytes: number; sha256: string }> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    let bytes = 0;
    socket.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      hash.update(chunk);
    });
    socket.on('end', () => resolve({ bytes, sha256: hash.digest('hex') }));
    socket.on('error', reject);
  });
}

describe('tcp: an echo server pool through the listener', () => {
  test('100 MB each way arrive intact (sha256)', async (t) => {
    const echo = await startEchoServer('echo');
    const lb = await startTcpBallast([echo.address]);
    t.after(async () => {
      await lb.close();
      await echo.close();
    });
    const total = 100 * MiB;
    const socket = await dial(lb.port);
    t.after(() => socket.destroy());
    const received = receiveHashed(socket);
    const sent = await sendRandom(socket, total);
    const echoed = await received;
    assert.equal(echoed.bytes, total);
    assert.equal(echoed.sha256, sent);
    await eventually(() => lb.listener.stats().active === 0, 'connection closed');
    const stats = lb.listener.stats();
    assert.equal(stats.bytesIn, total);
    assert.equal(stats.bytesOut, total);
    assert.equal(stats.servers[0]?.bytesIn, total);
    assert.equal(stats.servers[0]?.bytesOut, total);
  });

  test('after the client half-closes it still receives the whole echo', async (t) => {
    const echo = await startEchoServer('echo');
    const lb = await startTcpBallast([echo.address]);
    t.after(async () => {
      await lb.close();
      await echo.close();
    });
    const payload = randomBytes(4 * MiB);
    const socket = await dial(lb.port, { allowHalfOpen: true });
    const result = collect(socket);
    socket.end(payload);
    const { data, ended, error } = await result;
    assert.equal(error, undefined);
    assert.equal(ended, true);
    assert.equal(data.length, payload.length);
    assert.ok(data.equals(payload), 'echo equals what was sent');
  });

  test('1,000 concurrent short connections are balanced round robin', async (t) => {
    const echoes = await Promise.all(['a', 'b', 'c'].map((name) => startEchoServer(name)));
    const lb = await startTcpBallast(echoes.map((echo) => echo.address));
    t.after(async () => {
      await lb.close();
      await Promise.all(echoes.map((echo) => echo.close()));
    });
    const count = 1000;
    const results = await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const { data } = await exchange(lb.port, `ping ${i}`);
        return data.toString() === `ping ${i}`;
      }),
    );
    assert.equal(results.filter(Boolean).length, count, 'every connection got its own bytes back');
    const accepted = echoes.map((echo) => echo.accepted);
    assert.equal(
      accepted.reduce((sum, n) => sum + n, 0),
      count,
    );
    assert.ok(Math.max(...accepted) - Math.min(...accepted) <= 1, `round robin within ±1: ${accepted.join(', ')}`);
    await eventually(() => lb.listener.stats().active === 0, 'all connections closed');
    const stats = lb.listener.stats();
    assert.equal(stats.connections, count);
    assert.equal(stats.connectErrors, 0);
    assert.deepEqual(
      stats.servers.map((server) => server.connections).sort(),
      [...accepted].sort(),
    );
    assert.equal(lb.pool.inFlight, 0);
  });
});
