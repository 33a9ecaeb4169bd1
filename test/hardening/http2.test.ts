/**
 * HTTP/2 limits on an https listener: concurrent streams, header count and
 * size, bodies (with and without Content-Length), CONNECT, a rapid-reset
 * burst; and the HTTP/1.1 clients of the same listener get the same header
 * timeout and limits.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { startBallast, type RunningBallast } from '../helpers/ballast.js';
import { startBackend, type TestBackend } from '../helpers/http-backend.js';

const CERTS = 'test/fixtures/certs';

interface H2Result {
  readonly status: number;
  readonly body: string;
  /** Set when the stream failed instead of answering. */
  readonly error: string | undefined;
}

/** One request on `session`; resolves with the answer or the stream error, never rejects. */
function h2Request(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: string | Buffer): Promise<H2Result> {
  return new Promise((resolve) => {
    let status = 0;
    let text = '';
    let error: string | undefined;
    let stream: http2.ClientHttp2Stream;
    try {
      stream = session.request(headers, { endStream: body === undefined });
    } catch (err) {
      resolve({ status: 0, body: '', error: (err as NodeJS.ErrnoException).code ?? String(err) });
      return;
    }
    stream.on('response', (head) => {
      status = Number(head[':status']);
    });
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      text += chunk;
    });
    stream.on('error', (err: NodeJS.ErrnoException) => {
      error = err.code ?? err.message;
    });
    stream.on('close', () => resolve({ status, body: text, error: error ?? (stream.rstCode !== 0 && status === 0 ? `rst ${stream.rstCode}` : undefined) }));
    if (body !== undefined) stream.end(body);
  });
}

function connect(port: number): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false });
    session.on('error', () => session.destroy());
    session.once('remoteSettings', () => resolve(session));
    session.once('close', () => reject(new Error('the session closed before its settings arrived')));
  });
}

describe('HTTP/2 limits', () => {
  let backend: TestBackend;
  let lb: RunningBallast;
  let port: number;
  let inFlight = 0;
  let maxInFlight = 0;
  const completed: string[] = [];
  before(async () => {
    backend = await startBackend('b1', (req, res) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      let bytes = 0;
      req.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
      });
      req.on('end', () => {
        completed.push(`${req.method ?? ''} ${req.url ?? ''} ${bytes}`);
        setTimeout(() => {
          inFlight--;
          res.end('b1');
        }, req.url?.startsWith('/slow') === true ? 100 : 0);
      });
    });
    lb = await startBallast({
      listeners: [
        {
          name: 'secure',
          protocol: 'https',
          listen: '127.0.0.1:0',
          tls: { certificates: [{ cert: `${CERTS}/localhost.pem`, key: `${CERTS}/localhost-key.pem` }], http2: true },
          routes: [{ pool: 'app' }],
          maxConcurrentStreams: 4,
          maxHeaders: 20,
          maxHeaderSize: '4KiB',
          maxBodySize: '64KiB',
          timeouts: { requestHeaders: '1s' },
        },
      ],
      pools: [{ name: 'app', servers: [{ name: 'b1', address: backend.address }] }],
    });
    port = lb.handle.address('secure')?.port as number;
  });
  after(async () => {
    await lb.close();
    await backend.close();
  });

  test('SETTINGS advertise maxConcurrentStreams, and no more streams than that are served at once', async (t) => {
    const session = await connect(port);
    t.after(() => session.destroy());
    assert.equal(session.remoteSettings.maxConcurrentStreams, 4);
    maxInFlight = 0;
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => h2Request(session, { ':path': `/slow-${i}` })));
    assert.deepEqual(new Set(results.map((result) => result.status)), new Set([200]));
    assert.ok(maxInFlight <= 4, `at most 4 at once, saw ${maxInFlight}`);
  });

  test('too many or too large header fields are refused (431 or a reset stream), never forwarded', async (t) => {
    const session = await connect(port);
    t.after(() => session.destroy());
    const fields = (count: number): Record<string, string> => Object.fromEntries(Array.from({ length: count }, (_, i) => [`x-field-${i}`, 'v']));
    assert.equal((await h2Request(session, { ':path': '/fields-ok', ...fields(19) })).status, 200);
    for (const [what, headers] of [
      ['21 fields', { ':path': '/refused', ...fields(21) }],
      ['60 fields', { ':path': '/refused', ...fields(60) }],
      ['a 5 KB value', { ':path': '/refused', 'x-big': 'b'.repeat(5000) }],
    ] as const) {
      const result = await h2Request(session, headers);
      assert.ok(result.status === 431 || result.error !== undefined, `${what}: ${JSON.stringify(result)}`);
    }
    // A header list far beyond SETTINGS_MAX_HEADER_LIST_SIZE may cost the whole connection; a new one works.
    const huge = await connect(port);
    t.after(() => huge.destroy());
    const result = await h2Request(huge, { ':path': '/refused', 'x-huge': 'h'.repeat(100_000) });
    assert.notEqual(result.status, 200);
    const fresh = await connect(port);
    t.after(() => fresh.destroy());
    assert.equal((await h2Request(fresh, { ':path': '/after-huge' })).status, 200);
    assert.ok(!backend.requests.some((request) => request.url === '/refused'));
  });

  test('bodies are forwarded with or without Content-Length, and maxBodySize holds for both', async (t) => {
    const session = await connect(port);
    t.after(() => session.destroy());
    const small = await h2Request(session, { ':method': 'POST', ':path': '/upload-small' }, 'hello body');
    assert.equal(small.status, 200);
    assert.ok(completed.includes('POST /upload-small 10'), 'a body without Content-Length reaches the server whole');
    const big = Buffer.alloc(200_000, 1);
    const undeclared = await h2Request(session, { ':method': 'POST', ':path': '/upload-big' }, big);
    assert.ok(undeclared.status === 413 || undeclared.error !== undefined, JSON.stringify(undeclared));
    const declared = await h2Request(session, { ':method': 'POST', ':path': '/upload-big', 'content-length': String(big.length) }, big);
    assert.ok(declared.status === 413 || declared.error !== undefined, JSON.stringify(declared));
    assert.ok(!completed.some((line) => line.startsWith('POST /upload-big')));
  });

  test('CONNECT is refused with 405', async (t) => {
    const session = await connect(port);
    t.after(() => session.destroy());
    const result = await h2Request(session, { ':method': 'CONNECT', ':authority': 'example.com:443' });
    assert.equal(result.status, 405);
  });

  test('a burst of 2,000 streams opened and cancelled at once (rapid reset) leaves the listener serving', async (t) => {
    const session = await connect(port);
    t.after(() => session.destroy());
    for (let i = 0; i < 2000 && !session.destroyed && !session.closed; i++) {
      const stream = session.request({ ':path': '/reset' });
      stream.on('error', () => undefined);
      stream.close(http2.constants.NGHTTP2_CANCEL);
    }
    const fresh = await connect(port);
    t.after(() => fresh.destroy());
    assert.equal((await h2Request(fresh, { ':path': '/after-reset' })).status, 200);
  });

  test('a TLS handshake that never completes is closed after requestHeaders', async () => {
    const socket = net.connect(port, '127.0.0.1');
    const started = performance.now();
    socket.on('error', () => undefined);
    socket.write(Buffer.from([0x16, 0x03, 0x01])); // the start of a ClientHello, and nothing more
    await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 800 && elapsed < 10_000, `closed after ${Math.round(elapsed)} ms`);
  });

  test('HTTP/1.1 clients of the HTTP/2 listener get the header timeout (408) and limits (431)', async () => {
    const slow = await tlsExchange(port, ['GET / HTTP/1.1\r\n', ...Array.from({ length: 60 }, (_, i) => `X-Drip-${i}: v\r\n`)], 200);
    assert.equal(slow.alpn, 'http/1.1');
    assert.match(slow.text, /^HTTP\/1\.1 408 /);
    assert.ok(slow.ms >= 900 && slow.ms < 10_000, `closed after ${Math.round(slow.ms)} ms`);
    const fields = Array.from({ length: 25 }, (_, i) => `X-Field-${i}: v\r\n`).join('');
    const many = await tlsExchange(port, [`GET / HTTP/1.1\r\nHost: app.test\r\n${fields}\r\n`], 0);
    assert.match(many.text, /^HTTP\/1\.1 431 /);
  });
});

/** Writes `parts` over TLS with ALPN http/1.1 and reads until the server closes (at most 15 s). */
function tlsExchange(port: number, parts: readonly string[], gapMs: number): Promise<{ alpn: string | false; text: string; ms: number }> {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
    let text = '';
    let alpn: string | false = false;
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
    });
    socket.on('error', () => undefined);
    const timer = setTimeout(() => socket.destroy(), 15_000);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ alpn, text, ms: performance.now() - started });
    });
    socket.once('secureConnect', () => {
      alpn = socket.alpnProtocol ?? false;
      void (async () => {
        for (const part of parts) {
          if (socket.destroyed) return;
          socket.write(part);
          if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
        }
      })();
    });
  });
}
