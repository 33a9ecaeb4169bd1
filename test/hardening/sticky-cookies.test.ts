/**
 * Hostile sticky-session cookies: tampered, expired, issued for another pool,
 * naming a server that does not exist, oversized. Each is ignored (the
 * request is balanced as if it had no cookie, and gets a fresh, valid one);
 * none is an error, and none pins a client to a server of its choosing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { StickyCookie } from '../../src/persistence/cookie.js';
import { startBallast, type RunningBallast } from '../helpers/ballast.js';
import { startBackends, type TestBackend } from '../helpers/http-backend.js';
import { portOf, rawExchange } from './raw.js';

const SECRET = 'hardening-cookie-secret-0123456789';
const HOUR = 3_600_000;

/** `name=value` of a Set-Cookie value. */
function cookiePair(setCookie: string): string {
  return setCookie.split(';')[0] ?? '';
}

describe('sticky cookies from hostile clients', () => {
  let backends: TestBackend[];
  let lb: RunningBallast;
  let port: number;
  const genuine = new StickyCookie({ pool: 'app', cookie: 'BALLAST_ROUTE', secret: SECRET, ttlMs: HOUR });
  before(async () => {
    backends = await startBackends(2);
    lb = await startBallast({
      listeners: [{ name: 'web', protocol: 'http', listen: '127.0.0.1:0', routes: [{ pool: 'app' }] }],
      pools: [
        {
          name: 'app',
          algorithm: 'round-robin',
          stickySession: { type: 'cookie', cookie: 'BALLAST_ROUTE', secret: SECRET, ttl: '1h' },
          servers: backends.map((backend) => ({ name: backend.name, address: backend.address })),
        },
      ],
    });
    port = portOf(lb.url());
  });
  after(async () => {
    await lb.close();
    await Promise.all(backends.map((backend) => backend.close()));
  });

  /** Sends 10 requests with `cookie`; returns the backends that answered and the Set-Cookie values received. */
  async function tenWith(cookie: string): Promise<{ servers: Set<string>; setCookies: string[]; statuses: Set<number> }> {
    const servers = new Set<string>();
    const setCookies: string[] = [];
    const statuses = new Set<number>();
    for (let i = 0; i < 10; i++) {
      const result = await rawExchange(port, [`GET / HTTP/1.1\r\nHost: app.test\r\nCookie: ${cookie}\r\nConnection: close\r\n\r\n`]);
      statuses.add(result.status);
      const response = result.responses[0];
      if (response !== undefined) {
        servers.add(response.body);
        if (response.headers['set-cookie'] !== undefined) setCookies.push(response.headers['set-cookie']);
      }
    }
    return { servers, setCookies, statuses };
  }

  /** The cookie was ignored: requests spread over both servers, and each got a fresh cookie that verifies. */
  function assertIgnored(what: string, outcome: Awaited<ReturnType<typeof tenWith>>): void {
    assert.deepEqual(outcome.statuses, new Set([200]), `${what}: never an error`);
    assert.deepEqual(outcome.servers, new Set(['b1', 'b2']), `${what}: balanced as if there were no cookie`);
    assert.equal(outcome.setCookies.length, 10, `${what}: a fresh cookie each time`);
    for (const setCookie of outcome.setCookies) {
      const value = cookiePair(setCookie).slice('BALLAST_ROUTE='.length);
      assert.ok(genuine.verify(value, Date.now()) !== undefined, `${what}: the fresh cookie is genuine`);
    }
  }

  test('a genuine cookie pins the server it names', async () => {
    const outcome = await tenWith(cookiePair(genuine.issue('b2', Date.now(), false)));
    assert.deepEqual(outcome.servers, new Set(['b2']));
  });

  test('a tampered cookie is ignored: any changed MAC, expiry or server name', async () => {
    const pair = cookiePair(genuine.issue('b2', Date.now(), false));
    const [server, expiry, mac] = pair.slice('BALLAST_ROUTE='.length).split('~') as [string, string, string];
    const flip = (text: string, at: number): string => text.slice(0, at) + (text[at] === 'A' ? 'B' : 'A') + text.slice(at + 1);
    for (const [what, value] of [
      ['a changed MAC', `${server}~${expiry}~${flip(mac, 5)}`],
      ['a later expiry', `${server}~${(Number.parseInt(expiry, 36) + 86_400).toString(36)}~${mac}`],
      ['another server name', `b1~${expiry}~${mac}`],
      ['no MAC', `${server}~${expiry}~`],
      ['extra fields', `${server}~${expiry}~${mac}~b1`],
      ['garbage', '%00%ff<script>'],
    ] as const) {
      assertIgnored(what, await tenWith(`BALLAST_ROUTE=${value}`));
    }
  });

  test('an expired cookie, one issued for another pool, or one naming an unknown server is ignored', async () => {
    assertIgnored('expired', await tenWith(cookiePair(genuine.issue('b2', Date.now() - 2 * HOUR, false))));
    const otherPool = new StickyCookie({ pool: 'payments', cookie: 'BALLAST_ROUTE', secret: SECRET, ttlMs: HOUR });
    assertIgnored('another pool', await tenWith(cookiePair(otherPool.issue('b2', Date.now(), false))));
    assertIgnored('an unknown server', await tenWith(cookiePair(genuine.issue('ghost', Date.now(), false))));
  });

  test('an oversized cookie is ignored; a cookie header beyond maxHeaderSize is 431', async () => {
    const pair = cookiePair(genuine.issue('b2', Date.now(), false));
    assertIgnored('a 300-character value', await tenWith(`${pair}${'x'.repeat(300)}`));
    // Another large cookie beside a genuine one does not hide it.
    const beside = await tenWith(`junk=${'j'.repeat(8000)}; ${pair}`);
    assert.deepEqual(beside.servers, new Set(['b2']));
    const huge = await rawExchange(port, [`GET / HTTP/1.1\r\nHost: app.test\r\nCookie: junk=${'j'.repeat(20_000)}\r\n\r\n`]);
    assert.equal(huge.status, 431);
    assert.ok(huge.closed);
  });
});
