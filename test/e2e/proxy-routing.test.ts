import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startBallast, type RunningBallast } from '../helpers/ballast.js';
import { curl } from '../helpers/curl.js';
import { startBackend, startBackends, type TestBackend } from '../helpers/http-backend.js';

async function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; body: string }> {
  const response = await fetch(url, { headers, method });
  return { status: response.status, body: await response.text() };
}

describe('round robin over real backends', () => {
  let backends: TestBackend[];
  let lb: RunningBallast;
  before(async () => {
    backends = await startBackends(3);
    lb = await startBallast({
      listeners: [{ name: 'web', protocol: 'http', listen: '127.0.0.1:0', routes: [{ pool: 'app' }] }],
      pools: [{ name: 'app', algorithm: 'round-robin', servers: backends.map((b) => ({ name: b.name, address: b.address })) }],
    });
  });
  after(async () => {
    await lb.close();
    await Promise.all(backends.map((b) => b.close()));
  });

  test('takes equal turns in order', async () => {
    const seen: string[] = [];
    for (let i = 0; i < 9; i++) seen.push((await get(`${lb.url()}/x`)).body);
    const first = seen.slice(0, 3);
    assert.deepEqual(new Set(first).size, 3, `first three requests hit three servers: ${seen.join(' ')}`);
    assert.deepEqual(seen, [...first, ...first, ...first]);
  });
});

describe('routes: first match wins', () => {
  const names = ['exact', 'wild', 'prefix', 'regex', 'method', 'header', 'cookie', 'fallback'] as const;
  const backends = new Map<string, TestBackend>();
  let lb: RunningBallast;
  before(async () => {
    for (const name of names) backends.set(name, await startBackend(name));
    const pool = (name: string) => ({ name, algorithm: 'round-robin', servers: [{ name, address: backends.get(name)?.address }] });
    lb = await startBallast({
      listeners: [
        {
          name: 'web',
          protocol: 'http',
          listen: '127.0.0.1:0',
          routes: [
            { match: { host: 'api.example.com' }, pool: 'exact' },
            { match: { host: '*.example.com' }, pool: 'wild' },
            { match: { path: '/static/' }, pool: 'prefix' },
            { match: { pathRegex: '^/v[0-9]+/items$' }, pool: 'regex' },
            { match: { methods: ['DELETE', 'PATCH'] }, pool: 'method' },
            { match: { headers: { 'x-canary': 'true' } }, pool: 'header' },
            { match: { cookies: { beta: '1' } }, pool: 'cookie' },
            { match: { host: 'only.test', path: '/fallback-never' }, pool: 'fallback' },
          ],
        },
        { name: 'open', protocol: 'http', listen: '127.0.0.1:0', routes: [{ match: { path: '/x' }, pool: 'fallback' }, { pool: 'prefix' }] },
      ],
      pools: names.map(pool),
    });
  });
  after(async () => {
    await lb.close();
    await Promise.all([...backends.values()].map((b) => b.close()));
  });

  test('exact host, case-insensitive and without port', async () => {
    const response = await curl(['-H', 'Host: API.Example.com:8080', `${lb.url()}/`]);
    assert.equal(response.body, 'exact');
  });

  test('wildcard host matches subdomains but not the apex', async () => {
    assert.equal((await curl(['-H', 'Host: www.example.com', `${lb.url()}/`])).body, 'wild');
    assert.equal((await curl(['-H', 'Host: a.b.example.com', `${lb.url()}/`])).body, 'wild');
    assert.equal((await curl(['-H', 'Host: example.com', `${lb.url()}/`])).status, 404);
  });

  test('path prefix', async () => {
    assert.equal((await get(`${lb.url()}/static/app.js?v=1`)).body, 'prefix');
    assert.equal((await get(`${lb.url()}/statics`)).status, 404);
  });

  test('path regex ignores the query string', async () => {
    assert.equal((await get(`${lb.url()}/v2/items?page=3`)).body, 'regex');
    assert.equal((await get(`${lb.url()}/v2/items/1`)).status, 404);
  });

  test('methods', async () => {
    assert.equal((await get(`${lb.url()}/anything`, {}, 'DELETE')).body, 'method');
    assert.equal((await get(`${lb.url()}/anything`, {}, 'GET')).status, 404);
  });

  test('header value', async () => {
    assert.equal((await get(`${lb.url()}/anything`, { 'x-canary': 'true' })).body, 'header');
    assert.equal((await get(`${lb.url()}/anything`, { 'x-canary': 'false' })).status, 404);
  });

  test('cookie value', async () => {
    assert.equal((await curl(['-b', 'session=abc; beta=1', `${lb.url()}/anything`])).body, 'cookie');
    assert.equal((await curl(['-b', 'beta=2', `${lb.url()}/anything`])).status, 404);
  });

  test('the first matching route wins over later ones', async () => {
    // Matches both the exact-host route and the path-prefix route; the earlier one wins.
    assert.equal((await curl(['-H', 'Host: api.example.com', `${lb.url()}/static/x`])).body, 'exact');
  });

  test('no route answers 404 with a short body', async () => {
    const response = await curl([`${lb.url()}/nothing-here`]);
    assert.equal(response.status, 404);
    assert.match(response.body, /no route/i);
    assert.ok(response.body.length < 200);
  });

  test('a route without match is the default', async () => {
    assert.equal((await get(`${lb.url('open')}/x`)).body, 'fallback');
    assert.equal((await get(`${lb.url('open')}/anything/else`)).body, 'prefix');
  });
});
