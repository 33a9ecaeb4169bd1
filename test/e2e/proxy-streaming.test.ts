import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, test } from 'node:test';
import { writeTempFile } from '../helpers/ballast.js';
import { startBackend, type TestBackend } from '../helpers/http-backend.js';
import { eventually, freePort } from '../helpers/net.js';
import { rssMiB, spawnCli, type Spawned } from '../helpers/process.js';

const MiB = 1024 * 1024;
const TRANSFER = 200 * MiB;
const RSS_LIMIT_MIB = 150;
const CHUNK = Buffer.alloc(64 * 1024, 'ballast-');

/** A readable stream of `size` bytes made of CHUNK repeated. */
function generated(size: number): Readable {
  let left = size;
  return new Readable({
    read() {
      if (left <= 0) {
        this.push(null);
        return;
      }
      const piece = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
      left -= piece.length;
      this.push(piece);
    },
  });
}

function expectedDigest(size: number): string {
  const hash = createHash('sha256');
  let left = size;
  while (left > 0) {
    const piece = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
    hash.update(piece);
    left -= piece.length;
  }
  return hash.digest('hex');
}

/** Samples a process's RSS every 100 ms until stopped; returns the peak in MiB. */
function watchRss(pid: number): { stop(): number } {
  let peak = rssMiB(pid);
  const timer = setInterval(() => {
    peak = Math.max(peak, rssMiB(pid));
  }, 100);
  return {
    stop: () => {
      clearInterval(timer);
      return Math.max(peak, rssMiB(pid));
    },
  };
}

describe('bodies stream both ways with bounded memory (ballast start in its own process)', () => {
  let backend: TestBackend;
  let ballast: Spawned;
  let port: number;
  /** Server-side sockets of the stalled requests, by path. */
  const stalledSockets = new Map<string, Socket>();

  before(async () => {
    backend = await startBackend('stream', (req, res) => {
      const url = req.url ?? '';
      if (url === '/upload') {
        const hash = createHash('sha256');
        let bytes = 0;
        req.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          hash.update(chunk);
        });
        req.on('end', () => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ bytes, sha256: hash.digest('hex') }));
        });
        return;
      }
      if (url.startsWith('/download')) {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(TRANSFER) });
        void pipeline(generated(TRANSFER), res).catch(() => undefined);
        return;
      }
      if (url === '/stall-after-headers' || url === '/stall-before-headers') {
        stalledSockets.set(url, req.socket);
        if (url === '/stall-after-headers') {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.write('first part\n');
        }
        return;
      }
      res.end('?');
    });
    port = await freePort();
    const config = writeTempFile(
      'ballast.yaml',
      [
        'log: { level: warn, access: off }',
        'listeners:',
        `  - { name: web, protocol: http, listen: 127.0.0.1:${port}, routes: [ { pool: app } ] }`,
        'pools:',
        '  - name: app',
        '    algorithm: round-robin',
        '    retries: { attempts: 0 }',
        `    servers: [ { name: s1, address: ${backend.address} } ]`,
        '',
      ].join('\n'),
    );
    ballast = spawnCli(['start', '-c', config]);
    await eventually(async () => {
      try {
        const response = await fetch(`http://127.0.0.1:${port}/ping`);
        await response.text();
        return true;
      } catch {
        return false;
      }
    }, 'ballast to listen');
  });

  after(async () => {
    ballast.kill();
    await backend.close();
  });

  test('a 200 MB upload passes intact with the proxy under 150 MB RSS', async () => {
    const rss = watchRss(ballast.child.pid as number);
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/upload', method: 'POST', headers: { 'content-length': String(TRANSFER) } }, resolve);
      req.on('error', reject);
      generated(TRANSFER).pipe(req);
    });
    let text = '';
    for await (const chunk of response) text += String(chunk);
    const peak = rss.stop();
    const result = JSON.parse(text) as { bytes: number; sha256: string };
    assert.equal(result.bytes, TRANSFER);
    assert.equal(result.sha256, expectedDigest(TRANSFER));
    assert.ok(peak < RSS_LIMIT_MIB, `peak RSS ${peak.toFixed(1)} MiB must stay under ${RSS_LIMIT_MIB} MiB`);
  });

  test('a 200 MB download passes intact with the proxy under 150 MB RSS', async () => {
    const rss = watchRss(ballast.child.pid as number);
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      request({ host: '127.0.0.1', port, path: '/download' }, resolve).on('error', reject).end();
    });
    const hash = createHash('sha256');
    let bytes = 0;
    for await (const chunk of response as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      hash.update(chunk);
    }
    const peak = rss.stop();
    assert.equal(bytes, TRANSFER);
    assert.equal(hash.digest('hex'), expectedDigest(TRANSFER));
    assert.ok(peak < RSS_LIMIT_MIB, `peak RSS ${peak.toFixed(1)} MiB must stay under ${RSS_LIMIT_MIB} MiB`);
  });

  test('a client that disconnects while waiting for headers aborts the server request', async () => {
    await new Promise<void>((resolve) => {
      const req = request({ host: '127.0.0.1', port, path: '/stall-before-headers' });
      req.on('error', () => resolve());
      req.end();
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 300);
    });
    await eventually(() => stalledSockets.get('/stall-before-headers')?.destroyed === true, 'the connection to the server to be closed');
  });

  test('a client that disconnects mid-response aborts the server request', async () => {
    await new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/stall-after-headers' }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => undefined);
      req.on('close', () => resolve());
      setTimeout(() => reject(new Error('no response headers')), 10_000).unref();
      req.end();
    });
    await eventually(() => stalledSockets.get('/stall-after-headers')?.destroyed === true, 'the connection to the server to be closed');
  });
});
