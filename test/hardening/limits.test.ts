/**
 * Listener limits: request line (414), header count and size (431), body size
 * (413), slow headers and slow bodies (408), connections per listener and per
 * client address. Each refusal closes the connection, the backend never
 * completes a refused request, and Ballast keeps serving.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { simpleConfig, startBallast, type RunningBallast } from '../helpers/ballast.js';
import { curl } from '../helpers/curl.js';
import { startBackend, type TestBackend } from '../helpers/http-backend.js';
import { portOf, rawExchange, responsesComplete } from './raw.js';

const HOST = 'Host: app.test\r\n';
const get = (target: string, headers = ''): string => `GET ${target} HTTP/1.1\r\n${HOST}${headers}Connection: close\r\n\r\n`;
const fields = (count: number): string => Array.from({ length: count }, (_, i) => `X-Field-${i}: v\r\n`).join('');

/** A backend that records the requests it read to the end of their body, with their body length. */
async function countingBackend(completed: string[]): Promise<TestBackend> {
  return startBackend('b1', (req, res) => {
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    req.on('end', () => {
      completed.push(`${req.method ?? ''} ${req.url ?? ''} ${bytes}`);
      res.end('b1');
    });
  });
}

describe('request limits', () => {
  let backend: TestBackend;
  let lb: RunningBallast;
  let port: number;
  const completed: string[] = [];
  before(async () => {
    backend = await countingBackend(completed);
    lb = await startBallast(
      simpleConfig([backend.address], {}, {
        maxBodySize: '64KiB',
        maxUrlLength: 1024,
        maxHeaderSize: '4KiB',
        maxHeaders: 20,
        timeouts: { requestHeaders: '1s', requestBodyIdle: '1s', requestBody: '3s' },
      }),
    );
    port = portOf(lb.url());
  });
  after(async () => {
    await lb.close();
    await backend.close();
  });

  async function stillServes(): Promise<void> {
    const result = await rawExchange(port, [get('/alive')]);
    assert.equal(result.status, 200, 'Ballast still serves');
  }

  test('a request target up to maxUrlLength passes; longer ones get 414, however long', async () => {
    const atLimit = `/${'a'.repeat(1023)}`;
    assert.equal((await rawExchange(port, [get(atLimit)])).status, 200);
    for (const length of [1025, 4096, 12 * 1024, 100_000]) {
      const result = await rawExchange(port, [get(`/${'a'.repeat(length - 1)}`)]);
      assert.equal(result.status, 414, `target of ${length} bytes`);
      assert.ok(result.closed);
    }
    assert.ok(!completed.some((line) => line.includes('aaaa') && line.length > 1100));
    await stillServes();
  });

  test('more than maxHeaders fields, or more than maxHeaderSize bytes of them, get 431', async () => {
    // Host + 18 + Connection = 20 fields pass; 21 are refused.
    assert.equal((await rawExchange(port, [`GET /fields HTTP/1.1\r\n${HOST}${fields(18)}Connection: close\r\n\r\n`])).status, 200);
    for (const [what, extra] of [
      ['21 fields', fields(20)],
      ['1,000 fields', fields(1000)],
      ['one 5 KB value', `X-Big: ${'b'.repeat(5000)}\r\n`],
      ['one 100 KB value', `X-Big: ${'b'.repeat(100_000)}\r\n`],
      ['a 5 KB name', `X-${'n'.repeat(5000)}: v\r\n`],
    ] as const) {
      const result = await rawExchange(port, [`GET /too-many HTTP/1.1\r\n${HOST}${extra}\r\n`]);
      assert.equal(result.status, 431, what);
      assert.ok(result.closed, `${what}: closed`);
    }
    assert.ok(!completed.some((line) => line.startsWith('GET /too-many')));
    await stillServes();
  });

  test('a Content-Length above maxBodySize gets 413 before any byte is read or forwarded', async () => {
    const body = 'x'.repeat(200_000);
    const result = await rawExchange(port, [`POST /big HTTP/1.1\r\n${HOST}Content-Length: ${body.length}\r\n\r\n`, body]);
    assert.equal(result.status, 413);
    assert.ok(result.closed);
    assert.equal(backend.requests.filter((request) => request.url === '/big').length, 0, 'nothing forwarded');
    // Exactly the limit passes.
    const limit = 'y'.repeat(64 * 1024);
    const ok = await rawExchange(port, [`POST /limit HTTP/1.1\r\n${HOST}Content-Length: ${limit.length}\r\nConnection: close\r\n\r\n${limit}`]);
    assert.equal(ok.status, 200);
    assert.ok(completed.includes(`POST /limit ${64 * 1024}`));
  });

  test('a chunked body that grows past maxBodySize is cut off with 413; the backend never completes it', async () => {
    const chunk = `2710\r\n${'c'.repeat(10_000)}\r\n`;
    const parts = [`POST /streamed HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\n\r\n`, ...Array.from({ length: 30 }, () => chunk), '0\r\n\r\n'];
    const result = await rawExchange(port, parts, { gapMs: 5 });
    assert.equal(result.status, 413);
    assert.ok(result.closed);
    assert.ok(!completed.some((line) => line.startsWith('POST /streamed')), 'the backend never read the whole body');
    // A chunked body under the limit passes whole.
    const small = await rawExchange(port, [`POST /small HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n`, chunk, chunk, '0\r\n\r\n']);
    assert.equal(small.status, 200);
    assert.ok(completed.includes('POST /small 20000'));
    await stillServes();
  });

  test('curl uploading too much gets 413; with Expect: 100-continue it is refused before sending the body', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'ballast-upload-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'upload.bin');
    writeFileSync(file, Buffer.alloc(1024 * 1024, 1));
    const plain = await curl(['-H', 'Expect:', '--data-binary', `@${file}`, `${lb.url()}/upload`]);
    assert.equal(plain.status, 413);
    const expecting = await curl(['-H', 'Expect: 100-continue', '--data-binary', `@${file}`, `${lb.url()}/upload`]);
    assert.equal(expecting.status, 413);
    const raw = await rawExchange(port, [`POST /expect HTTP/1.1\r\n${HOST}Content-Length: 1000000\r\nExpect: 100-continue\r\n\r\n`]);
    assert.equal(raw.status, 413, 'no 100 Continue first');
    assert.equal(backend.requests.filter((request) => request.url === '/upload' || request.url === '/expect').length, 0);
  });

  test('headers sent too slowly get 408 after requestHeaders; others are served meanwhile', async () => {
    const slow = rawExchange(port, [`GET /slow HTTP/1.1\r\n`, ...Array.from({ length: 100 }, (_, i) => `X-Drip-${i}: v\r\n`)], {
      gapMs: 200,
      timeoutMs: 15_000,
    });
    await stillServes();
    const result = await slow;
    assert.equal(result.status, 408);
    assert.ok(result.closed);
    // requestHeaders is 1 s, checked every second: generous bounds for a loaded machine.
    assert.ok(result.ms >= 900 && result.ms < 10_000, `closed after ${Math.round(result.ms)} ms`);
    assert.ok(!backend.requests.some((request) => request.url === '/slow'));
  });

  test('a body that stops arriving gets 408 after requestBodyIdle; the backend never completes it', async () => {
    const result = await rawExchange(port, [`POST /stalled HTTP/1.1\r\n${HOST}Content-Length: 100\r\n\r\nabc`], { timeoutMs: 15_000 });
    assert.equal(result.status, 408);
    assert.ok(result.closed);
    assert.ok(result.ms >= 900 && result.ms < 10_000, `closed after ${Math.round(result.ms)} ms`);
    assert.ok(!completed.some((line) => line.startsWith('POST /stalled')));
  });

  test('a body trickling in past requestBody gets 408, though no pause exceeds requestBodyIdle', async () => {
    const result = await rawExchange(port, [`POST /trickle HTTP/1.1\r\n${HOST}Content-Length: 100\r\n\r\n`, ...'t'.repeat(99)], {
      gapMs: 400,
      timeoutMs: 20_000,
    });
    assert.equal(result.status, 408);
    assert.ok(result.ms >= 2900 && result.ms < 15_000, `closed after ${Math.round(result.ms)} ms`);
    assert.ok(!completed.some((line) => line.startsWith('POST /trickle')));
  });

  test('a steady upload within the limits passes, and a keep-alive pause between requests is not a body timeout', async () => {
    const piece = 'u'.repeat(3000);
    const upload = await rawExchange(
      port,
      [`POST /steady HTTP/1.1\r\n${HOST}Content-Length: ${piece.length * 8}\r\nConnection: close\r\n\r\n`, ...Array.from({ length: 8 }, () => piece)],
      { gapMs: 150, timeoutMs: 15_000 },
    );
    assert.equal(upload.status, 200);
    assert.ok(completed.includes(`POST /steady ${piece.length * 8}`));

    const socket = net.connect(port, '127.0.0.1');
    try {
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      let text = '';
      socket.on('data', (chunk: Buffer) => {
        text += chunk.toString('latin1');
      });
      socket.write(`POST /first HTTP/1.1\r\n${HOST}Content-Length: 3\r\n\r\nabc`);
      await waitForText(() => text, /\r\n\r\nb1/);
      // Longer than requestBodyIdle (1 s): idle between requests is governed by timeouts.idle (60 s).
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assert.ok(!socket.destroyed, 'the kept-alive connection is still open');
      socket.write(get('/second'));
      await waitForText(() => text, /b1[\s\S]*HTTP\/1\.1 200[\s\S]*\r\n\r\nb1/);
    } finally {
      socket.destroy();
    }
  });
});

async function waitForText(read: () => string, pattern: RegExp, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(read())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; got ${JSON.stringify(read().slice(0, 300))}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Opens a connection from `localAddress` and completes one keep-alive request on it. */
async function keptAlive(port: number, localAddress: string): Promise<net.Socket> {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress });
  let text = '';
  socket.on('data', (chunk: Buffer) => {
    text += chunk.toString('latin1');
  });
  socket.on('error', () => socket.destroy());
  socket.write(`GET /held HTTP/1.1\r\n${HOST}\r\n`);
  await waitForText(() => text, /\r\n\r\nb1/);
  return socket;
}

describe('connection limits', () => {
  let backend: TestBackend;
  let lb: RunningBallast;
  let port: number;
  const sockets: net.Socket[] = [];
  before(async () => {
    backend = await countingBackend([]);
    lb = await startBallast(
      simpleConfig([backend.address], {}, { maxConnections: 12, maxConnectionsPerIp: 5, trustedProxies: ['127.0.0.9'] }),
    );
    port = portOf(lb.url());
  });
  after(async () => {
    for (const socket of sockets) socket.destroy();
    await lb.close();
    await backend.close();
  });

  test('maxConnectionsPerIp: the sixth connection from one address is closed; other addresses and trusted proxies are not limited', async () => {
    for (let i = 0; i < 5; i++) sockets.push(await keptAlive(port, '127.0.0.2'));
    const refused = await rawExchange(port, [get('/sixth')], { localAddress: '127.0.0.2' });
    assert.equal(refused.status, 0, 'no answer');
    assert.ok(refused.closed, 'closed at once');
    // Another client address has its own allowance.
    const other = await rawExchange(port, [get('/other')], { localAddress: '127.0.0.3' });
    assert.equal(other.status, 200);
    // A trusted proxy (many clients behind one address) is exempt.
    for (let i = 0; i < 6; i++) sockets.push(await keptAlive(port, '127.0.0.9'));
    // Closing one of the first five frees a place.
    sockets.shift()?.destroy();
    await waitForAccept(port, '127.0.0.2');
  });

  test('maxConnections: connections beyond the listener limit are closed, not queued forever; Ballast recovers', async () => {
    // 4 + 6 are open; two more fill the listener to 12.
    sockets.push(await keptAlive(port, '127.0.0.4'));
    sockets.push(await keptAlive(port, '127.0.0.4'));
    for (let i = 0; i < 5; i++) {
      const result = await rawExchange(port, [get('/over')], { localAddress: '127.0.0.5', timeoutMs: 5000 });
      assert.equal(result.status, 0, 'no answer beyond maxConnections');
      assert.ok(result.closed);
    }
    for (const socket of sockets.splice(0)) socket.destroy();
    await waitForAccept(port, '127.0.0.5');
    assert.equal(backend.requests.filter((request) => request.url === '/over').length, 0);
  });
});

/** Retries a request until the listener accepts it again (a closed socket takes a moment to be counted out). */
async function waitForAccept(port: number, localAddress: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const result = await rawExchange(port, [get('/again')], { localAddress, until: responsesComplete(1) });
    if (result.status === 200) return;
    if (Date.now() > deadline) throw new Error('the listener did not accept a connection again');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
