import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { simpleConfig, startBallast, type RunningBallast } from '../helpers/ballast.js';
import { curl } from '../helpers/curl.js';
import { startBackend, type TestBackend } from '../helpers/http-backend.js';

/** The headers the backend saw on its most recent request. */
function lastHeaders(backend: TestBackend): Record<string, string | string[] | undefined> {
  const request = backend.requests.at(-1);
  assert.ok(request, 'the backend received a request');
  return request.headers;
}

describe('header rewriting (curl through an untrusting listener)', () => {
  let backend: TestBackend;
  let lb: RunningBallast;
  before(async () => {
    backend = await startBackend('b1', (req, res) => {
      req.resume();
      res.writeHead(200, {
        'content-type': 'text/plain',
        connection: 'x-internal',
        'x-internal': 'secret',
        'keep-alive': 'timeout=5',
        'x-kept': 'yes',
      });
      res.end('ok');
    });
    lb = await startBallast(simpleConfig([backend.address]));
  });
  after(async () => {
    await lb.close();
    await backend.close();
  });

  test('hop-by-hop request headers and those named in Connection are removed', async () => {
    await curl([
      '-H', 'Connection: keep-alive, X-Custom-Hop',
      '-H', 'X-Custom-Hop: 1',
      '-H', 'Keep-Alive: timeout=5',
      '-H', 'Proxy-Connection: keep-alive',
      '-H', 'TE: trailers',
      '-H', 'Upgrade: h2c',
      '-H', 'X-End-To-End: kept',
      `${lb.url()}/`,
    ]);
    const headers = lastHeaders(backend);
    for (const name of ['x-custom-hop', 'keep-alive', 'proxy-connection', 'te', 'upgrade']) {
      assert.equal(headers[name], undefined, `${name} must not reach the server`);
    }
    assert.equal(headers['x-end-to-end'], 'kept');
  });

  test('Connection: close, X-Forwarded-For drops the client value before Ballast adds its own', async () => {
    await curl(['-H', 'Connection: close, X-Forwarded-For', '-H', 'X-Forwarded-For: 6.6.6.6', `${lb.url()}/`]);
    assert.equal(lastHeaders(backend)['x-forwarded-for'], '127.0.0.1');
  });

  test('X-Forwarded-For/-Proto/-Host and Via are added', async () => {
    await curl(['-H', 'Host: shop.example.com', '-H', 'Via: 1.0 edge', `${lb.url()}/`]);
    const headers = lastHeaders(backend);
    assert.equal(headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(headers['x-forwarded-proto'], 'http');
    assert.equal(headers['x-forwarded-host'], 'shop.example.com');
    assert.equal(headers.host, 'shop.example.com');
    assert.equal(headers.via, '1.0 edge, 1.1 ballast');
  });

  test('every request carries an X-Request-Id: the client\'s when it is a valid token, else a new UUID', async () => {
    await curl([`${lb.url()}/`]);
    assert.match(String(lastHeaders(backend)['x-request-id']), /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    await curl(['-H', 'X-Request-Id: abc-123_from.client', `${lb.url()}/`]);
    assert.equal(lastHeaders(backend)['x-request-id'], 'abc-123_from.client');
    await curl(['-H', `X-Request-Id: ${'x'.repeat(200)}`, `${lb.url()}/`]);
    assert.match(String(lastHeaders(backend)['x-request-id']), /^[0-9a-f-]{36}$/, 'an oversized id is replaced');
    await curl(['-H', 'X-Request-Id: bad id<script>', `${lb.url()}/`]);
    assert.match(String(lastHeaders(backend)['x-request-id']), /^[0-9a-f-]{36}$/, 'an id with other characters is replaced');
  });

  test('a client X-Forwarded-For from an untrusted peer is replaced, not appended', async () => {
    await curl(['-H', 'X-Forwarded-For: 1.2.3.4', '-H', 'X-Forwarded-Proto: https', `${lb.url()}/`]);
    const headers = lastHeaders(backend);
    assert.equal(headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(headers['x-forwarded-proto'], 'http');
  });

  test('hop-by-hop response headers and those named in Connection are removed', async () => {
    const response = await curl([`${lb.url()}/`]);
    assert.equal(response.status, 200);
    assert.equal(response.headers['x-internal'], undefined);
    assert.notEqual(response.headers['keep-alive'], 'timeout=5');
    assert.equal(response.headers['x-kept'], 'yes');
  });
});

describe('X-Forwarded-For from a trusted proxy', () => {
  let backend: TestBackend;
  let lb: RunningBallast;
  before(async () => {
    backend = await startBackend('b1');
    lb = await startBallast(simpleConfig([backend.address], {}, { trustedProxies: ['127.0.0.0/8'] }));
  });
  after(async () => {
    await lb.close();
    await backend.close();
  });

  test('is kept and the peer appended', async () => {
    await curl(['-H', 'X-Forwarded-For: 203.0.113.7, 10.0.0.1', '-H', 'X-Forwarded-Proto: https', `${lb.url()}/`]);
    const headers = lastHeaders(backend);
    assert.equal(headers['x-forwarded-for'], '203.0.113.7, 10.0.0.1, 127.0.0.1');
    assert.equal(headers['x-forwarded-proto'], 'https');
  });
});

describe('errors from the server side', () => {
  let hanging: TestBackend;
  let healthy: TestBackend;
  let lb: RunningBallast;
  before(async () => {
    hanging = await startBackend('hang', () => undefined);
    healthy = await startBackend('ok');
    const refused = await startBackend('gone');
    const refusedAddress = refused.address;
    await refused.close();
    lb = await startBallast({
      listeners: [
        {
          name: 'web',
          protocol: 'http',
          listen: '127.0.0.1:0',
          routes: [
            { match: { path: '/refused' }, pool: 'refused' },
            { match: { path: '/slow' }, pool: 'slow' },
            { match: { path: '/none' }, pool: 'none' },
          ],
        },
      ],
      pools: [
        { name: 'refused', algorithm: 'round-robin', retries: { attempts: 0 }, servers: [{ name: 'gone', address: refusedAddress }] },
        { name: 'slow', algorithm: 'round-robin', retries: { attempts: 0 }, timeouts: { response: '300ms' }, servers: [{ name: 'hang', address: hanging.address }] },
        { name: 'none', algorithm: 'round-robin', servers: [{ name: 'ok', address: healthy.address, weight: 0 }] },
      ],
    });
  });
  after(async () => {
    await lb.close();
    await hanging.close();
    await healthy.close();
  });

  test('a server that refuses the connection gives 502', async () => {
    const response = await curl([`${lb.url()}/refused`]);
    assert.equal(response.status, 502);
    assert.match(response.body, /Bad Gateway/);
  });

  test('a server slower than the response timeout gives 504', async () => {
    const started = Date.now();
    const response = await curl([`${lb.url()}/slow`]);
    assert.equal(response.status, 504);
    assert.match(response.body, /Gateway Timeout/);
    assert.ok(Date.now() - started < 10_000);
  });

  test('no available server gives 503 at once', async () => {
    const response = await curl([`${lb.url()}/none`]);
    assert.equal(response.status, 503);
    assert.match(response.body, /no server/i);
    assert.equal(healthy.requests.length, 0);
  });

  test('the proxy still serves after the errors', async () => {
    const response = await curl([`${lb.url()}/refused`]);
    assert.equal(response.status, 502);
  });
});
