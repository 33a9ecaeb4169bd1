/**
 * The HTTP/1 head parser on its own: what it accepts, what it refuses with
 * which status, and what it records for the proxy's fast paths.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { describeRequestLine, Field, parseRequestHead, parseResponseHead, RequestHead, ResponseHead, scanHead } from '../../src/http1/head.js';

function request(text: string): RequestHead {
  const head = parseRequestHead(text);
  assert.ok(head instanceof RequestHead, `expected a request head, got ${String(head)}`);
  return head;
}

function response(text: string): ResponseHead {
  const head = parseResponseHead(text);
  assert.ok(head instanceof ResponseHead, 'expected a response head');
  head.bytes = Buffer.from(text, 'latin1');
  return head;
}

describe('scanHead', () => {
  test('finds the end of a head, resumes where it stopped, refuses bare LF', () => {
    const whole = Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n\r\nrest');
    assert.deepEqual(scanHead(whole, 0, whole.length), { kind: 'complete', end: 27 });
    const partial = Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n');
    assert.deepEqual(scanHead(partial, 0, partial.length), { kind: 'incomplete', scanned: partial.length });
    assert.deepEqual(scanHead(Buffer.from('GET / HTTP/1.1\nHost: a\n\n'), 0, 24), { kind: 'invalid' });
  });

  test('a head arriving in pieces: resuming after the part already searched finds the same end', () => {
    const text = `GET / HTTP/1.1\r\nX-Long: ${'a'.repeat(500)}\r\n\r\n`;
    const whole = Buffer.from(text);
    let scanned = 0;
    let searched = 0;
    for (let length = 1; length <= whole.length; length++) {
      const scan = scanHead(whole, scanned, length, searched);
      if (scan.kind === 'complete') {
        assert.equal(length, whole.length);
        assert.equal(scan.end, whole.length);
        return;
      }
      assert.equal(scan.kind, 'incomplete');
      if (scan.kind === 'incomplete') scanned = scan.scanned;
      searched = length;
    }
    assert.fail('the end of the head was not found');
  });
});

describe('parseRequestHead', () => {
  test('a plain request: method, target, version, Host, and its fields pass as received', () => {
    const head = request('GET /a?b=1 HTTP/1.1\r\nHost: Example.test\r\nAccept: */*\r\n\r\n');
    assert.equal(head.method, 'GET');
    assert.equal(head.target, '/a?b=1');
    assert.equal(head.minor, 1);
    assert.equal(head.host, 'Example.test');
    assert.equal(head.hostCount, 1);
    assert.equal(head.fieldCount, 2);
    assert.equal(head.fieldBytes, 'Host'.length + 'Example.test'.length + 'Accept'.length + '*/*'.length);
    assert.equal(head.plain, true);
    assert.deepEqual(head.rawHeaders, ['Host', 'Example.test', 'Accept', '*/*']);
  });

  test('fields the proxy rewrites make a request not plain; names compare without case', () => {
    for (const field of ['connection: keep-alive', 'X-FORWARDED-FOR: 1.2.3.4', 'Via: 1.0 other', 'X-Request-Id: abc', 'Expect: 100-continue', 'Content-Length: 0', 'X_Custom: 1']) {
      assert.equal(request(`GET / HTTP/1.1\r\nHost: a\r\n${field}\r\n\r\n`).plain, false, field);
    }
    assert.ok((request('GET / HTTP/1.1\r\nHOST: a\r\nCookie: x=1\r\n\r\n').fields & Field.Cookie) !== 0);
  });

  test('framing: Content-Length, chunked, Connection, HTTP/1.0 keep-alive', () => {
    assert.equal(request('POST / HTTP/1.1\r\nContent-Length: 12\r\n\r\n').contentLength, 12);
    assert.equal(request('POST / HTTP/1.1\r\nTransfer-Encoding: Chunked \r\n\r\n').chunked, true);
    assert.equal(request('GET / HTTP/1.1\r\nConnection: Keep-Alive, Close\r\n\r\n').close, true);
    assert.equal(request('GET / HTTP/1.0\r\n\r\n').close, true);
    assert.equal(request('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n').close, false);
    assert.equal(request('GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n').connectionUpgrade, true);
  });

  test('refusals and their statuses', () => {
    const cases: [string, number][] = [
      ['get / HTTP/1.1\r\n\r\n', 400],
      ['BREW / HTTP/1.1\r\n\r\n', 400],
      ['GET /\r\n\r\n', 505],
      ['GET / HTTP/2.0\r\n\r\n', 505],
      ['GET / HTTP/1.2\r\n\r\n', 400],
      ['GET /a b HTTP/1.1\r\n\r\n', 400],
      ['GET / HTTP/1.1\r\nBad Name: x\r\n\r\n', 400],
      ['GET / HTTP/1.1\r\nName : x\r\n\r\n', 400],
      ['GET / HTTP/1.1\r\n: x\r\n\r\n', 400],
      ['GET / HTTP/1.1\r\nNo-Colon\r\n\r\n', 400],
      ['GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n', 400],
      ['POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n', 400],
      ['POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\n', 400],
      ['POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n', 400],
      ['POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n', 501],
      ['POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', 501],
      ['POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n', 400],
      ['POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n', 400],
      ['POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n', 400],
      ['POST / HTTP/1.1\r\nTransfer-Encoding:\r\n\r\n', 400],
    ];
    for (const [text, status] of cases) assert.equal(parseRequestHead(text), status, JSON.stringify(text));
  });
});

describe('parseResponseHead', () => {
  test('status, reason, framing', () => {
    const head = response('HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\n\r\n');
    assert.equal(head.status, 404);
    assert.equal(head.reason, 'Not Found');
    assert.equal(head.contentLength, 5);
    assert.equal(response('HTTP/1.1 200\r\nTransfer-Encoding: chunked\r\n\r\n').chunked, true);
  });

  test('malformed heads are refused', () => {
    for (const text of [
      'HTTP/2 200 OK\r\n\r\n',
      'HTTP/1.1 2x0 OK\r\n\r\n',
      'HTTP/1.1 099 Low\r\n\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n',
      'HTTP/1.1 200 OK\r\nX: \x00\r\n\r\n',
    ]) {
      assert.equal(parseResponseHead(text), null, JSON.stringify(text));
    }
  });

  test('Connection and Keep-Alive lines are cut when a head is passed on; other hop-by-hop fields prevent it', () => {
    const head = response('HTTP/1.1 200 OK\r\nServer: s\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nContent-Length: 2\r\n\r\n');
    assert.equal(head.forwardable, true);
    assert.equal(head.forwardBytes(null).toString('latin1'), 'HTTP/1.1 200 OK\r\nServer: s\r\nContent-Length: 2\r\n\r\n');
    assert.equal(head.forwardBytes(Buffer.from('ok')).toString('latin1'), 'HTTP/1.1 200 OK\r\nServer: s\r\nContent-Length: 2\r\n\r\nok');
    assert.equal(response('HTTP/1.1 200 OK\r\nConnection: x-private\r\nX-Private: 1\r\n\r\n').forwardable, false);
    assert.equal(response('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n').forwardable, false);
    assert.equal(response('HTTP/1.1 200 OK\r\nTrailer: x\r\nContent-Length: 1\r\n\r\n').forwardable, false);
  });

  test('a body adjacent to its head is joined without a copy', () => {
    const bytes = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', 'latin1');
    const head = parseResponseHead(bytes.toString('latin1', 0, bytes.length - 2)) as ResponseHead;
    head.bytes = bytes.subarray(0, bytes.length - 2);
    const joined = head.forwardBytes(bytes.subarray(bytes.length - 2));
    assert.equal(joined.buffer, bytes.buffer);
    assert.equal(joined.toString('latin1'), bytes.toString('latin1'));
  });
});

describe('describeRequestLine', () => {
  const describeLine = (text: string, maxTarget = 64): { method: string; target: string } => describeRequestLine(Buffer.from(text, 'latin1'), maxTarget);

  test('reads method and target of a broken, cut or bare-LF request line', () => {
    assert.deepEqual(describeLine('GET /a b c HTTP/1.1\r\nHost: x\r\n\r\n'), { method: 'GET', target: '/a' });
    assert.deepEqual(describeLine('POST /upload HTTP/1.1\nHost: x\n\n'), { method: 'POST', target: '/upload' });
    assert.deepEqual(describeLine('GET /half'), { method: 'GET', target: '/half' });
    assert.deepEqual(describeLine('GET'), { method: 'GET', target: '-' });
  });

  test('an unknown method or a line that is not HTTP gives "-" for both', () => {
    assert.deepEqual(describeLine('FETCH / HTTP/1.1\r\n'), { method: '-', target: '-' });
    assert.deepEqual(describeLine('\x16\x03\x01 binary'), { method: '-', target: '-' });
    assert.deepEqual(describeLine(''), { method: '-', target: '-' });
  });

  test('a huge target is cut at maxTarget without reading the rest of the input', () => {
    const { method, target } = describeLine(`GET /${'x'.repeat(100_000)} HTTP/1.1\r\n`, 100);
    assert.equal(method, 'GET');
    assert.equal(target.length, 100);
  });
});
