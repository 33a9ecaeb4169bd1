/**
 * Request targets and header abuse: invalid methods, absolute-form, CONNECT,
 * missing / duplicate / invalid Host, HTTP versions, header names with
 * underscores (drop, reject, allow), hop-by-hop abuse and forged
 * client-address headers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startBallast, type RunningBallast } from '../helpers/ballast.js';
import { startBackend, type RecordedRequest, type TestBackend } from '../helpers/http-backend.js';
import { portOf, rawExchange } from './raw.js';

const CLOSE = 'Connection: close\r\n';

describe('request targets and headers', () => {
  let web: TestBackend;
  let api: TestBackend;
  let lb: RunningBallast;
  let ports: Record<'web' | 'strict' | 'open' | 'behindProxy', number>;
  before(async () => {
    web = await startBackend('web');
    api = await startBackend('api');
    const routes = [{ match: { host: 'api.test' }, pool: 'api' }, { pool: 'web' }];
    lb = await startBallast({
      listeners: [
        { name: 'web', protocol: 'http', listen: '127.0.0.1:0', routes },
        { name: 'strict', protocol: 'http', listen: '127.0.0.1:0', routes, underscoreHeaders: 'reject' },
        { name: 'open', protocol: 'http', listen: '127.0.0.1:0', routes, underscoreHeaders: 'allow' },
        { name: 'behindProxy', protocol: 'http', listen: '127.0.0.1:0', routes, trustedProxies: ['127.0.0.7'] },
      ],
      pools: [
        { name: 'web', servers: [{ name: 'web', address: web.address }] },
        { name: 'api', servers: [{ name: 'api', address: api.address }] },
      ],
    });
    ports = {
      web: portOf(lb.url('web')),
      strict: portOf(lb.url('strict')),
      open: portOf(lb.url('open')),
      behindProxy: portOf(lb.url('behindProxy')),
    };
  });
  after(async () => {
    await lb.close();
    await web.close();
    await api.close();
  });

  /** The requests both backends saw since `mark()`. */
  function seenSince(mark: { web: number; api: number }): RecordedRequest[] {
    return [...web.requests.slice(mark.web), ...api.requests.slice(mark.api)];
  }
  const mark = (): { web: number; api: number } => ({ web: web.requests.length, api: api.requests.length });

  async function refusedWith(status: number, bytes: string, port = ports.web): Promise<void> {
    const before = mark();
    const result = await rawExchange(port, [bytes]);
    assert.equal(result.status, status, JSON.stringify(bytes.slice(0, 80)));
    assert.ok(result.closed, `closed after ${JSON.stringify(bytes.slice(0, 80))}`);
    assert.deepEqual(seenSince(before), [], `nothing forwarded for ${JSON.stringify(bytes.slice(0, 80))}`);
  }

  test('invalid, lower-case and malformed methods get 400', async () => {
    for (const line of ['FOO / HTTP/1.1', 'get / HTTP/1.1', 'G(T / HTTP/1.1', `${'X'.repeat(300)} / HTTP/1.1`, ' GET / HTTP/1.1']) {
      await refusedWith(400, `${line}\r\nHost: web.test\r\n\r\n`);
    }
  });

  test('absolute-form is routed by its own host and forwarded in origin-form with that Host', async () => {
    const before = mark();
    const result = await rawExchange(ports.web, [`GET http://api.test:8080/v1/items?q=1 HTTP/1.1\r\nHost: web.test\r\n${CLOSE}\r\n`]);
    assert.equal(result.status, 200);
    assert.equal(result.responses[0]?.body, 'api', 'routed by the target host, not the Host field');
    const [seen] = seenSince(before);
    assert.equal(seen?.url, '/v1/items?q=1');
    assert.equal(seen?.headers.host, 'api.test:8080');
    // HTTPS scheme and no path: origin-form "/"; an HTTP/1.0 absolute-form request without Host gets one.
    const bare = await rawExchange(ports.web, [`GET https://api.test HTTP/1.0\r\n\r\n`]);
    assert.equal(bare.responses[0]?.body, 'api');
    assert.equal(api.requests.at(-1)?.url, '/');
    assert.equal(api.requests.at(-1)?.headers.host, 'api.test');
  });

  test('other request-target forms get 400: userinfo, other schemes, empty authority, asterisk-form', async () => {
    for (const target of ['http://user:pw@api.test/', 'ftp://api.test/', 'http:///path', 'http://api.test#frag', 'api.test/path', '*']) {
      await refusedWith(400, `${target === '*' ? 'OPTIONS' : 'GET'} ${target} HTTP/1.1\r\nHost: web.test\r\n\r\n`);
    }
  });

  test('CONNECT is refused with 405 and nothing is tunnelled', async () => {
    await refusedWith(405, `CONNECT api.test:443 HTTP/1.1\r\nHost: api.test:443\r\n\r\nGET /inside HTTP/1.1\r\nHost: api.test\r\n\r\n`);
    assert.ok(!api.requests.some((request) => request.url === '/inside'));
  });

  test('HTTP/1.1 without Host, with two Host fields, or an invalid Host gets 400; HTTP/1.0 may omit it', async () => {
    await refusedWith(400, 'GET / HTTP/1.1\r\n\r\n');
    await refusedWith(400, 'GET / HTTP/1.1\r\nHost: api.test\r\nHost: api.test\r\n\r\n');
    await refusedWith(400, 'GET / HTTP/1.1\r\nHost: web.test\r\nHost: api.test\r\n\r\n');
    for (const host of ['evil.test@api.test', 'api.test/path', 'api test', 'api.test:80:80', '']) {
      await refusedWith(400, `GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
    }
    const ipv6 = await rawExchange(ports.web, [`GET / HTTP/1.1\r\nHost: [::1]:8080\r\n${CLOSE}\r\n`]);
    assert.equal(ipv6.status, 200);
    const old = await rawExchange(ports.web, ['GET / HTTP/1.0\r\n\r\n']);
    assert.equal(old.status, 200);
  });

  test('HTTP versions other than 1.0 and 1.1 are refused', async () => {
    await refusedWith(505, 'GET / HTTP/2.0\r\nHost: web.test\r\n\r\n');
    await refusedWith(400, 'GET / HTTP/1.2\r\nHost: web.test\r\n\r\n');
    await refusedWith(400, 'GET / HTTP/3\r\nHost: web.test\r\n\r\n');
    // An HTTP/0.9 simple request (no version at all).
    await refusedWith(505, 'GET /\r\n\r\n');
  });

  test('header names with underscores: dropped by default, refused under reject, kept under allow', async () => {
    const request = `GET /u HTTP/1.1\r\nHost: web.test\r\nX_Forwarded_For: 6.6.6.6\r\nX_Custom: 1\r\nX-Normal: 1\r\n${CLOSE}\r\n`;
    const dropped = await rawExchange(ports.web, [request]);
    assert.equal(dropped.status, 200);
    const seen = web.requests.at(-1);
    assert.equal(seen?.headers['x_forwarded_for'], undefined);
    assert.equal(seen?.headers['x_custom'], undefined);
    assert.equal(seen?.headers['x-normal'], '1');
    assert.equal(seen?.headers['x-forwarded-for'], '127.0.0.1');

    await refusedWith(400, request, ports.strict);

    const allowed = await rawExchange(ports.open, [request]);
    assert.equal(allowed.status, 200);
    assert.equal(web.requests.at(-1)?.headers['x_custom'], '1');
  });

  test('Connection cannot remove the forwarding headers, Host or the body framing', async () => {
    await rawExchange(ports.web, [`GET /hop HTTP/1.1\r\nHost: web.test\r\nConnection: close, X-Forwarded-For, X-Forwarded-Proto, Host, Via\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n`]);
    const seen = web.requests.at(-1);
    assert.equal(seen?.url, '/hop');
    assert.equal(seen?.headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(seen?.headers['x-forwarded-proto'], 'http');
    assert.equal(seen?.headers.host, 'web.test');
    assert.equal(seen?.headers.via, '1.1 ballast');

    const before = web.requests.length;
    const body = await rawExchange(ports.web, [`POST /hop-body HTTP/1.1\r\nHost: web.test\r\nConnection: close, Content-Length\r\nContent-Length: 3\r\n\r\nabc`]);
    assert.equal(body.status, 200);
    assert.equal(web.requests.length, before + 1);
    assert.equal(web.requests.at(-1)?.headers['content-length'], '3');
  });

  test('client-address headers from an untrusted peer are replaced or removed; a trusted proxy is appended to', async () => {
    const forged =
      'X-Forwarded-For: 1.1.1.1\r\nX-Forwarded-For: 2.2.2.2\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: bank.test\r\n' +
      'Forwarded: for=3.3.3.3;proto=https\r\nX-Real-IP: 4.4.4.4\r\n';
    await rawExchange(ports.web, [`GET /xff HTTP/1.1\r\nHost: web.test\r\n${forged}${CLOSE}\r\n`]);
    let seen = web.requests.at(-1)?.headers;
    assert.equal(seen?.['x-forwarded-for'], '127.0.0.1');
    assert.equal(seen?.['x-forwarded-proto'], 'http');
    assert.equal(seen?.['x-forwarded-host'], 'web.test');
    assert.equal(seen?.forwarded, undefined);
    assert.equal(seen?.['x-real-ip'], undefined);

    await rawExchange(ports.behindProxy, [`GET /xff HTTP/1.1\r\nHost: web.test\r\n${forged}${CLOSE}\r\n`], { localAddress: '127.0.0.7' });
    seen = web.requests.at(-1)?.headers;
    assert.equal(seen?.['x-forwarded-for'], '1.1.1.1, 2.2.2.2, 127.0.0.7');
    assert.equal(seen?.['x-forwarded-proto'], 'https');
    assert.equal(seen?.['x-real-ip'], '4.4.4.4');

    // The same listener does not believe a peer outside trustedProxies.
    await rawExchange(ports.behindProxy, [`GET /xff HTTP/1.1\r\nHost: web.test\r\n${forged}${CLOSE}\r\n`], { localAddress: '127.0.0.8' });
    assert.equal(web.requests.at(-1)?.headers['x-forwarded-for'], '127.0.0.8');
  });
});
