import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { startBallast, type RunningBallast } from '../helpers/ballast.js';
import { startBackend, type TestBackend } from '../helpers/http-backend.js';
import { eventually } from '../helpers/net.js';
import { run } from '../helpers/process.js';

const CERTS = 'test/fixtures/certs';

/** The certificate subject a TLS client gets, via the real openssl s_client. */
async function subjectFor(port: number, args: readonly string[]): Promise<{ code: number; subject: string; output: string }> {
  const result = await run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, ...args], { input: '', timeoutMs: 15_000 });
  const match = /subject=([^\n]*)/.exec(result.stdout);
  return { code: result.code, subject: match?.[1]?.trim() ?? '', output: result.stdout + result.stderr };
}

describe('https listeners: SNI, TLS versions, HTTP/2, routing by :authority', () => {
  let web: TestBackend;
  let api: TestBackend;
  let lb: RunningBallast;
  let port: number;
  before(async () => {
    web = await startBackend('web');
    api = await startBackend('api');
    lb = await startBallast({
      listeners: [
        {
          name: 'secure',
          protocol: 'https',
          listen: '127.0.0.1:0',
          tls: {
            certificates: [
              { cert: `${CERTS}/localhost.pem`, key: `${CERTS}/localhost-key.pem` },
              { cert: `${CERTS}/other-test.pem`, key: `${CERTS}/other-test-key.pem` },
            ],
            http2: true,
          },
          routes: [{ match: { host: 'api.example.com' }, pool: 'api' }, { pool: 'web' }],
        },
      ],
      pools: [
        { name: 'web', algorithm: 'round-robin', servers: [{ name: 'web', address: web.address }] },
        { name: 'api', algorithm: 'round-robin', servers: [{ name: 'api', address: api.address }] },
      ],
    });
    port = lb.handle.address('secure')?.port as number;
  });
  after(async () => {
    await lb.close();
    await web.close();
    await api.close();
  });

  test('SNI picks the certificate naming the host, wildcards included; no SNI gets the default', async () => {
    assert.match((await subjectFor(port, ['-servername', 'other.test'])).subject, /CN\s*=\s*other\.test/);
    assert.match((await subjectFor(port, ['-servername', 'www.example.com'])).subject, /CN\s*=\s*localhost/);
    assert.match((await subjectFor(port, ['-noservername'])).subject, /CN\s*=\s*localhost/);
  });

  test('TLS 1.2 and 1.3 are accepted, TLS 1.1 is refused', async () => {
    assert.equal((await subjectFor(port, ['-servername', 'localhost', '-tls1_2'])).code, 0);
    assert.equal((await subjectFor(port, ['-servername', 'localhost', '-tls1_3'])).code, 0);
    const old = await subjectFor(port, ['-servername', 'localhost', '-tls1_1', '-cipher', 'DEFAULT@SECLEVEL=0']);
    assert.notEqual(old.code, 0, `TLS 1.1 must fail:\n${old.output}`);
  });

  test('curl --http2 reaches an HTTP/1.1 backend, with X-Forwarded-Proto: https', async () => {
    const result = await run('curl', ['-sk', '--http2', '-w', '\n%{http_version}', '--resolve', `www.example.com:${port}:127.0.0.1`, `https://www.example.com:${port}/page`]);
    assert.equal(result.stdout, 'web\n2');
    const seen = web.requests.at(-1);
    assert.equal(seen?.headers['x-forwarded-proto'], 'https');
    assert.equal(seen?.headers.host, `www.example.com:${port}`);
  });

  test('HTTP/1.1 over TLS works on the same port', async () => {
    const result = await run('curl', ['-sk', '--http1.1', '-w', '\n%{http_version}', `https://127.0.0.1:${port}/`]);
    assert.equal(result.stdout, 'web\n1.1');
  });

  test('routes match :authority under HTTP/2', async () => {
    const result = await run('curl', ['-sk', '--http2', '--resolve', `api.example.com:${port}:127.0.0.1`, `https://api.example.com:${port}/v1`]);
    assert.equal(result.stdout, 'api');
  });

  test('h2load: 400 HTTP/2 requests over 4 connections all succeed', async () => {
    const result = await run('h2load', ['-n', '400', '-c', '4', '-m', '10', `https://127.0.0.1:${port}/`], { timeoutMs: 60_000 });
    assert.match(result.stdout, /400 succeeded, 0 failed, 0 errored/, result.stdout + result.stderr);
  });
});

describe('WebSocket', () => {
  let echo: WebSocketServer;
  let echoPort: number;
  let plain: TestBackend;
  let lb: RunningBallast;
  const serverSockets: WebSocket[] = [];
  before(async () => {
    echo = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => echo.once('listening', () => resolve()));
    echoPort = (echo.address() as { port: number }).port;
    echo.on('connection', (socket) => {
      serverSockets.push(socket);
      socket.on('message', (data, binary) => socket.send(data, { binary }));
    });
    plain = await startBackend('plain');
    lb = await startBallast({
      listeners: [
        { name: 'web', protocol: 'http', listen: '127.0.0.1:0', routes: [{ match: { path: '/plain' }, pool: 'plain' }, { pool: 'ws' }] },
        {
          name: 'secure',
          protocol: 'https',
          listen: '127.0.0.1:0',
          tls: { certificates: [{ cert: `${CERTS}/localhost.pem`, key: `${CERTS}/localhost-key.pem` }] },
          routes: [{ pool: 'ws' }],
        },
      ],
      pools: [
        { name: 'ws', algorithm: 'round-robin', servers: [{ name: 'echo', address: `127.0.0.1:${echoPort}` }] },
        { name: 'plain', algorithm: 'round-robin', servers: [{ name: 'plain', address: plain.address }] },
      ],
    });
  });
  after(async () => {
    await lb.close();
    await new Promise<void>((resolve) => echo.close(() => resolve()));
    await plain.close();
  });

  async function echoThousand(url: string): Promise<void> {
    const socket = new WebSocket(url, { rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    const received: string[] = [];
    const done = new Promise<void>((resolve) => {
      socket.on('message', (data) => {
        received.push(String(data));
        if (received.length === 1000) resolve();
      });
    });
    for (let i = 0; i < 1000; i++) socket.send(`message ${i}`);
    await done;
    assert.deepEqual(received, Array.from({ length: 1000 }, (_, i) => `message ${i}`));
    socket.close();
  }

  test('1,000 messages echo through an http listener', async () => {
    await echoThousand(`ws://127.0.0.1:${lb.handle.address('web')?.port}/chat`);
  });

  test('1,000 messages echo through an https listener (wss)', async () => {
    await echoThousand(`wss://127.0.0.1:${lb.handle.address('secure')?.port}/chat`);
  });

  test('closing the client closes the server side, and closing the server closes the client', async () => {
    const url = `ws://127.0.0.1:${lb.handle.address('web')?.port}/chat`;
    const first = new WebSocket(url);
    await new Promise<void>((resolve) => first.once('open', () => resolve()));
    await eventually(() => serverSockets.length > 0, 'the server to see the connection');
    const serverSide = serverSockets.at(-1) as WebSocket;
    first.close();
    await eventually(() => serverSide.readyState === WebSocket.CLOSED, 'the server side to close');

    const count = serverSockets.length;
    const second = new WebSocket(url);
    await new Promise<void>((resolve) => second.once('open', () => resolve()));
    await eventually(() => serverSockets.length > count, 'the server to see the second connection');
    (serverSockets.at(-1) as WebSocket).terminate();
    await eventually(() => second.readyState === WebSocket.CLOSED, 'the client side to close');
  });

  test('an Upgrade: h2c request is answered as plain HTTP/1.1, never upgraded', async () => {
    const port = lb.handle.address('web')?.port as number;
    const result = await run('curl', ['-s', '--http2', '-w', '\n%{http_code} %{http_version}', `http://127.0.0.1:${port}/plain`]);
    assert.equal(result.stdout, 'plain\n200 1.1');
    const seen = plain.requests.at(-1);
    assert.equal(seen?.headers.upgrade, undefined);
    assert.equal(seen?.headers['http2-settings'], undefined);
  });
});

describe('certificate reload', () => {
  test('a reload with a new default certificate serves it to new connections', async (t) => {
    const backend = await startBackend('web');
    const listener = (first: string, second: string) => ({
      name: 'secure',
      protocol: 'https',
      listen: '127.0.0.1:0',
      tls: {
        certificates: [
          { cert: `${CERTS}/${first}.pem`, key: `${CERTS}/${first}-key.pem` },
          { cert: `${CERTS}/${second}.pem`, key: `${CERTS}/${second}-key.pem` },
        ],
      },
      routes: [{ pool: 'web' }],
    });
    const pools = [{ name: 'web', algorithm: 'round-robin', servers: [{ name: 'web', address: backend.address }] }];
    const lb = await startBallast({ listeners: [listener('localhost', 'other-test')], pools });
    t.after(async () => {
      await lb.close();
      await backend.close();
    });
    const port = lb.handle.address('secure')?.port as number;
    assert.match((await subjectFor(port, ['-noservername'])).subject, /CN\s*=\s*localhost/);
    await lb.handle.reload({ log: { level: 'silent', access: 'off' }, listeners: [listener('other-test', 'localhost')], pools });
    assert.equal(lb.handle.address('secure')?.port, port, 'the socket is kept');
    assert.match((await subjectFor(port, ['-noservername'])).subject, /CN\s*=\s*other\.test/);
  });
});
