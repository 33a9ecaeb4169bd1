/**
 * Request smuggling: every message whose framing two parsers could read
 * differently is refused and its connection closed, so the bytes after it
 * (a second, "smuggled" request) are never read, let alone forwarded. The
 * backend records every request it sees; it must never see one of these.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { simpleConfig, startBallast, type RunningBallast } from '../helpers/ballast.js';
import { startBackend, type TestBackend } from '../helpers/http-backend.js';
import { portOf, rawExchange, responsesComplete } from './raw.js';

const HOST = 'Host: app.test\r\n';
/** Appended to every hostile message: it must never reach the backend. */
const SMUGGLED = `GET /smuggled HTTP/1.1\r\n${HOST}\r\n`;

interface HostileCase {
  readonly name: string;
  /** The message, without the trailing smuggled request. */
  readonly bytes: string;
  readonly status: number;
}

const post = (headers: string, body: string): string => `POST /hostile HTTP/1.1\r\n${HOST}${headers}\r\n${body}`;
const chunked = (body: string): string => post('Transfer-Encoding: chunked\r\n', body);

const CL_TE: HostileCase[] = [
  { name: 'Content-Length then Transfer-Encoding', bytes: post('Content-Length: 6\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n'), status: 400 },
  { name: 'Transfer-Encoding then Content-Length', bytes: post('Transfer-Encoding: chunked\r\nContent-Length: 6\r\n', '0\r\n\r\n'), status: 400 },
  { name: 'Content-Length: 0 with Transfer-Encoding', bytes: post('Content-Length: 0\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n'), status: 400 },
];

const TE_TE: HostileCase[] = [
  { name: 'chunked, chunked', bytes: post('Transfer-Encoding: chunked, chunked\r\n', '0\r\n\r\n'), status: 400 },
  { name: 'two Transfer-Encoding fields', bytes: post('Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n'), status: 400 },
  { name: 'gzip alone', bytes: post('Transfer-Encoding: gzip\r\n', '0\r\n\r\n'), status: 501 },
  { name: 'gzip, chunked', bytes: post('Transfer-Encoding: gzip, chunked\r\n', '0\r\n\r\n'), status: 501 },
  { name: 'chunked, gzip', bytes: post('Transfer-Encoding: chunked, gzip\r\n', '0\r\n\r\n'), status: 400 },
  { name: 'unknown coding xchunked', bytes: post('Transfer-Encoding: xchunked\r\n', '0\r\n\r\n'), status: 501 },
  { name: 'space before the colon', bytes: post('Transfer-Encoding : chunked\r\nContent-Length: 5\r\n', '0\r\n\r\n'), status: 400 },
  { name: 'vertical tab before the value', bytes: post('Transfer-Encoding:\x0bchunked\r\n', '0\r\n\r\n'), status: 400 },
  { name: 'value on a continuation line', bytes: post('Transfer-Encoding:\r\n chunked\r\n', '0\r\n\r\n'), status: 400 },
  { name: 'field line starting with a space', bytes: post('X-A: 1\r\n Transfer-Encoding: chunked\r\n', '0\r\n\r\n'), status: 400 },
];

const CONTENT_LENGTH: HostileCase[] = [
  { name: 'duplicate, same value', bytes: post('Content-Length: 3\r\nContent-Length: 3\r\n', 'abc'), status: 400 },
  { name: 'duplicate, different values', bytes: post('Content-Length: 3\r\nContent-Length: 4\r\n', 'abcd'), status: 400 },
  { name: 'a list', bytes: post('Content-Length: 3, 3\r\n', 'abc'), status: 400 },
  { name: 'a plus sign', bytes: post('Content-Length: +3\r\n', 'abc'), status: 400 },
  { name: 'negative', bytes: post('Content-Length: -1\r\n', 'abc'), status: 400 },
  { name: 'hexadecimal', bytes: post('Content-Length: 0x3\r\n', 'abc'), status: 400 },
  { name: 'beyond 64 bits', bytes: post('Content-Length: 99999999999999999999999\r\n', 'abc'), status: 400 },
  { name: 'a space inside', bytes: post('Content-Length: 1 2\r\n', 'abc'), status: 400 },
];

const CHUNKS: HostileCase[] = [
  { name: 'chunk size beyond 64 bits', bytes: chunked('FFFFFFFFFFFFFFFFF1\r\nabc\r\n0\r\n\r\n'), status: 400 },
  { name: 'negative chunk size', bytes: chunked('-3\r\nabc\r\n0\r\n\r\n'), status: 400 },
  { name: 'space after the chunk size', bytes: chunked('3 \r\nabc\r\n0\r\n\r\n'), status: 400 },
  { name: 'empty chunk extension', bytes: chunked('3;\r\nabc\r\n0\r\n\r\n'), status: 400 },
  { name: 'chunk extension ended by a bare LF', bytes: chunked('3;x\nabc\r\n0\r\n\r\n'), status: 400 },
  { name: 'unterminated quoted extension', bytes: chunked('3;x="a\r\nabc\r\n0\r\n\r\n'), status: 400 },
  { name: 'chunk data longer than its size', bytes: chunked('3\r\nabcX0\r\n\r\n'), status: 400 },
  { name: 'huge chunk extension', bytes: chunked(`3;x=${'a'.repeat(20_000)}\r\nabc\r\n0\r\n\r\n`), status: 413 },
];

const LINE_ENDINGS: HostileCase[] = [
  { name: 'bare LF line endings', bytes: `GET /hostile HTTP/1.1\nHost: app.test\n\n`, status: 400 },
  { name: 'a bare LF inside the header block', bytes: `GET /hostile HTTP/1.1\r\n${HOST}X-A: b\nX-B: c\r\n\r\n`, status: 400 },
  { name: 'a bare CR inside a value', bytes: `GET /hostile HTTP/1.1\r\n${HOST}X-A: b\rTransfer-Encoding: chunked\r\n\r\n`, status: 400 },
  { name: 'obs-fold continuation line', bytes: `GET /hostile HTTP/1.1\r\n${HOST}X-A: a\r\n b\r\n\r\n`, status: 400 },
  { name: 'NUL in a value', bytes: `GET /hostile HTTP/1.1\r\n${HOST}X-A: a\x00b\r\n\r\n`, status: 400 },
];

describe('request smuggling', () => {
  let backend: TestBackend;
  let lb: RunningBallast;
  let port: number;
  /** Requests the backend read to the end of their body ("METHOD /path"). */
  const completed: string[] = [];
  before(async () => {
    backend = await startBackend('b1', (req, res) => {
      req.resume();
      req.on('end', () => {
        completed.push(`${req.method ?? ''} ${req.url ?? ''}`);
        res.end('b1');
      });
    });
    lb = await startBallast(simpleConfig([backend.address]));
    port = portOf(lb.url());
  });
  after(async () => {
    await lb.close();
    await backend.close();
  });

  /**
   * Sends one hostile message followed by a smuggled request; checks the
   * refusal, that the backend completed no request, and never saw the
   * smuggled one. (A message whose head is valid and whose chunked body
   * breaks later may have its head forwarded before the error is read, as
   * bodies stream; that request is aborted, never completed.)
   */
  async function refused(testCase: HostileCase): Promise<void> {
    const before = completed.length;
    const result = await rawExchange(port, [testCase.bytes + SMUGGLED]);
    assert.equal(result.status, testCase.status, `${testCase.name}: ${JSON.stringify(result.text.slice(0, 120))}`);
    assert.equal(result.responses.length, 1, `${testCase.name}: exactly one answer, nothing for the smuggled request`);
    assert.ok(result.closed, `${testCase.name}: the connection is closed`);
    assert.deepEqual(completed.slice(before), [], `${testCase.name}: the backend completed no request`);
    assert.ok(!backend.requests.some((request) => request.url === '/smuggled'), `${testCase.name}: the smuggled request never reached the backend`);
  }

  /** Ballast still answers a plain request. */
  async function stillServes(): Promise<void> {
    const result = await rawExchange(port, [`GET /after HTTP/1.1\r\n${HOST}Connection: close\r\n\r\n`]);
    assert.equal(result.status, 200);
    assert.equal(result.responses[0]?.body, 'b1');
  }

  for (const [group, cases] of [
    ['Content-Length with Transfer-Encoding (CL.TE / TE.CL)', CL_TE],
    ['obfuscated Transfer-Encoding (TE.TE)', TE_TE],
    ['malformed Content-Length', CONTENT_LENGTH],
    ['bad chunk sizes and extensions', CHUNKS],
    ['bare LF / CR, obs-fold, NUL', LINE_ENDINGS],
  ] as const) {
    test(`${group}: refused, connection closed, nothing forwarded`, async () => {
      for (const testCase of cases) await refused(testCase);
      await stillServes();
    });
  }

  test('valid framing variants are read the same way by Ballast and the backend', async () => {
    // OWS may be a tab and codings are case-insensitive; the pipelined request after the body is a real, separate request.
    for (const te of ['Transfer-Encoding:\tchunked', 'Transfer-Encoding: CHUNKED', 'Transfer-Encoding: chunked ']) {
      const before = backend.requests.length;
      const result = await rawExchange(
        port,
        [`POST /framed HTTP/1.1\r\n${HOST}${te}\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /next HTTP/1.1\r\n${HOST}\r\n`],
        { until: responsesComplete(2) },
      );
      assert.deepEqual(
        result.responses.map((response) => response.status),
        [200, 200],
        `${JSON.stringify(te)}: ${JSON.stringify(result.text.slice(0, 200))}`,
      );
      // Two upstream exchanges, possibly on two connections: their order at the backend is not fixed.
      assert.deepEqual(backend.requests.slice(before).map((request) => `${request.method} ${request.url}`).sort(), ['GET /next', 'POST /framed']);
    }
  });

  test('a header named Transfer_Encoding is not a transfer coding and never reaches the backend', async () => {
    const before = backend.requests.length;
    const result = await rawExchange(
      port,
      [`POST /underscore HTTP/1.1\r\n${HOST}Transfer_Encoding: chunked\r\nContent-Length: 5\r\nConnection: close\r\n\r\n0\r\n\r\n`],
    );
    assert.equal(result.status, 200);
    const seen = backend.requests.slice(before);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]?.headers['transfer_encoding'], undefined);
    assert.equal(seen[0]?.headers['content-length'], '5');
  });

  test('the body of a refused message is never parsed as a request, however it is split', async () => {
    // The same CL.TE message written byte by byte: still one refusal, still nothing forwarded.
    const message = CL_TE[0] as HostileCase;
    const before = backend.requests.length;
    const result = await rawExchange(port, [...(message.bytes + SMUGGLED)].map((char) => char), { gapMs: 1, timeoutMs: 10_000 });
    assert.equal(result.status, 400);
    assert.ok(result.closed);
    assert.equal(backend.requests.length, before);
    await stillServes();
  });
});
