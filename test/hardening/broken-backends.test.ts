/**
 * Broken and hostile backends: a raw TCP server answers with exact bytes,
 * chosen by the request path. Ballast must answer 502 for anything it cannot
 * trust, never reuse a connection after a framing error, pass a truncated
 * answer on as truncated (never as complete), give 504 when headers never
 * finish, and survive floods of informational responses.
 */
import assert from 'node:assert/strict';
import type net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { simpleConfig, startBallast, type RunningBallast } from '../helpers/ballast.js';
import { portOf, rawExchange, responsesComplete, startRawBackend, type RawAnswer, type RawBackend, type RawRequest } from './raw.js';

const OK = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';

/** Writes `count` informational responses then, if `final`, a 200. */
function informational(count: number, final: boolean): (socket: net.Socket) => void {
  return (socket) => {
    socket.write('HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n'.repeat(count) + (final ? OK : ''));
  };
}

const ANSWERS: Record<string, RawAnswer> = {
  '/ok': OK,
  '/garbage': 'HTTTP/1.1 200 OK\r\n\r\n',
  '/not-http': 'hello there\r\n\r\n',
  '/status-42': 'HTTP/1.1 42 Odd\r\nContent-Length: 2\r\n\r\nok',
  '/status-999': 'HTTP/1.1 999 Odd\r\nContent-Length: 2\r\n\r\nok',
  '/cl-te': 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n',
  '/te-gzip': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nok',
  '/te-chunked-chunked': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n',
  '/te-xchunked': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunked\r\n\r\nok',
  '/te-twice': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n',
  '/te-space-colon': 'HTTP/1.1 200 OK\r\nTransfer-Encoding : chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n',
  '/cl-twice': 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!',
  '/bare-lf': 'HTTP/1.1 200 OK\nContent-Length: 2\n\nok',
  '/unsolicited-101': 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nraw bytes',
  '/unsolicited-100': 'HTTP/1.1 100 Continue\r\n\r\n' + OK,
  '/reset-mid-body': (socket) => {
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nthe first part');
    setTimeout(() => socket.resetAndDestroy(), 50);
  },
  '/reset-mid-chunks': (socket) => {
    socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\ne\r\nthe first part\r\n');
    setTimeout(() => socket.resetAndDestroy(), 50);
  },
  '/fin-mid-body': (socket) => {
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nthe first part');
    setTimeout(() => socket.end(), 50);
  },
  '/half-close': (socket) => socket.end(),
  '/close-delimited': (socket) => socket.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it, up to the close'),
  '/headers-never-end': (socket) => socket.write('HTTP/1.1 200 OK\r\nX-Waiting: forever\r\n'),
  '/few-1xx': informational(3, true),
  '/1xx-flood': informational(2000, true),
  '/100-flood': 'HTTP/1.1 100 Continue\r\n\r\n'.repeat(2000) + OK,
  '/1xx-endless': (socket) => {
    const timer = setInterval(() => {
      if (socket.destroyed) clearInterval(timer);
      else socket.write('HTTP/1.1 103 Early Hints\r\n\r\n');
    }, 20);
    socket.on('close', () => clearInterval(timer));
  },
};

describe('broken backends', () => {
  let backend: RawBackend;
  let lb: RunningBallast;
  let port: number;
  before(async () => {
    backend = await startRawBackend((request: RawRequest) => ANSWERS[request.target] ?? OK);
    // No retries, so that each request is exactly one attempt on one backend connection.
    lb = await startBallast(simpleConfig([backend.address], { retries: { attempts: 0 }, timeouts: { response: '1s' } }));
    port = portOf(lb.url());
  });
  after(async () => {
    await lb.close();
    await backend.close();
  });

  /** A keep-alive GET of `path` through Ballast; returns the first response. */
  async function get(path: string, timeoutMs = 10_000): ReturnType<typeof rawExchange> {
    return rawExchange(port, [`GET ${path} HTTP/1.1\r\nHost: app.test\r\n\r\n`], { until: responsesComplete(1), timeoutMs });
  }

  /** The backend connection the last request for `path` arrived on. */
  function connectionOf(path: string): number {
    const request = backend.requests.findLast((candidate) => candidate.target === path);
    assert.ok(request, `the backend saw ${path}`);
    return request.connection;
  }

  /**
   * Runs `path` between two good requests: answered `status`, and the
   * connection it used is never used again (the good request after it
   * arrives on a new connection).
   */
  async function badAndDiscarded(path: string, status = 502): Promise<void> {
    assert.equal((await get('/ok')).status, 200);
    const result = await get(path);
    assert.equal(result.status, status, `${path}: ${JSON.stringify(result.text.slice(0, 100))}`);
    assert.ok(!result.text.includes('raw bytes') && !result.text.includes('ok!'), `${path}: nothing of the bad answer is forwarded`);
    const bad = connectionOf(path);
    assert.equal((await get('/ok')).status, 200, `${path}: still serving`);
    assert.notEqual(connectionOf('/ok'), bad, `${path}: the connection that carried it is not reused`);
    assert.equal(backend.requestsPerConnection()[bad], backend.requests.filter((request) => request.connection === bad).length);
    assert.equal(backend.requests.filter((request) => request.connection === bad).at(-1)?.target, path, `${path}: last request on its connection`);
  }

  test('a garbage or impossible status line is 502', async () => {
    for (const path of ['/garbage', '/not-http', '/status-42', '/status-999']) await badAndDiscarded(path);
  });

  test('Content-Length with Transfer-Encoding, or a transfer coding other than chunked, is 502 and the connection is dropped', async () => {
    for (const path of ['/cl-te', '/te-gzip', '/te-chunked-chunked', '/te-xchunked', '/te-twice', '/te-space-colon']) await badAndDiscarded(path);
  });

  test('duplicate Content-Length, bare LF line endings and an unsolicited 101 are 502', async () => {
    for (const path of ['/cl-twice', '/bare-lf', '/unsolicited-101']) await badAndDiscarded(path);
  });

  test('a reset or close in the middle of the body reaches the client as a truncated response, never a complete one', async () => {
    for (const path of ['/reset-mid-body', '/reset-mid-chunks', '/fin-mid-body']) {
      const result = await get(path);
      assert.equal(result.status, 200, path);
      assert.equal(result.responses[0]?.complete, false, `${path}: the client can tell the body is incomplete`);
      assert.ok(result.closed, `${path}: the client connection is closed`);
      assert.ok(result.text.includes('the first part'), `${path}: what arrived was passed on`);
    }
    assert.equal((await get('/ok')).status, 200);
  });

  test('a server that half-closes before answering is 502; a close-delimited answer is passed on complete', async () => {
    await badAndDiscarded('/half-close');
    const result = await get('/close-delimited');
    assert.equal(result.status, 200);
    assert.equal(result.responses[0]?.complete, true);
    assert.equal(result.responses[0]?.body, 'all of it, up to the close');
  });

  test('headers that never finish are 504 after the response timeout', async () => {
    const result = await get('/headers-never-end', 15_000);
    assert.equal(result.status, 504);
    assert.ok(result.ms >= 900 && result.ms < 10_000, `answered after ${Math.round(result.ms)} ms`);
    assert.equal((await get('/ok')).status, 200);
  });

  test('a few informational responses are absorbed; a flood of them is 502 at once, not a hang', async () => {
    const few = await get('/few-1xx');
    assert.equal(few.status, 200, 'the 1xx are not forwarded: the first response the client sees is the final one');
    assert.equal(few.responses[0]?.body, 'ok');
    const unasked = await get('/unsolicited-100');
    assert.equal(unasked.status, 200, 'a 100 Continue nobody asked for is an interim answer, absorbed like any 1xx (RFC 9110 section 15.2)');
    assert.equal(unasked.responses[0]?.body, 'ok');
    for (const path of ['/1xx-flood', '/100-flood']) await badAndDiscarded(path);
    const endless = await get('/1xx-endless', 15_000);
    assert.equal(endless.status, 502);
    assert.ok(endless.ms < 5000, `gave up after ${Math.round(endless.ms)} ms, without waiting for a timeout`);
    assert.equal((await get('/ok')).status, 200);
  });
});
