import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AdminErrorCodes } from '../../src/admin/api.js';
import { ErrorCodes } from '../../src/core/errors.js';
import type { BallastEvent } from '../../src/core/events.js';
import type { RuntimeStatus } from '../../src/runtime/status.js';
import { startBackends, type TestBackend } from '../helpers/http-backend.js';
import { TOKEN, errorCode, json, serverStatus, startAdmin, type AdminHarness } from './admin-harness.js';

const COOKIE_SECRET = 'cookie-secret-never-shown-4242';

function appConfig(backends: readonly TestBackend[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    listeners: [{ name: 'web', protocol: 'http', listen: '127.0.0.1:0', routes: [{ pool: 'app' }] }],
    pools: [
      {
        name: 'app',
        algorithm: 'round-robin',
        servers: backends.map((b) => ({ name: b.name, address: b.address })),
        stickySession: { type: 'cookie', cookie: 'BALLAST_ROUTE', secret: COOKIE_SECRET, ttl: '1h' },
        ...extra,
      },
    ],
  };
}

async function status(admin: AdminHarness): Promise<RuntimeStatus> {
  const response = await admin.call('GET', '/api/v1/status');
  assert.equal(response.status, 200, response.body);
  return json(response) as RuntimeStatus;
}

async function events(admin: AdminHarness): Promise<BallastEvent[]> {
  const response = await admin.call('GET', '/api/v1/events');
  assert.equal(response.status, 200, response.body);
  return json(response) as BallastEvent[];
}

describe('admin API', () => {
  let backends: TestBackend[];
  let admin: AdminHarness;
  before(async () => {
    backends = await startBackends(2);
    admin = await startAdmin(appConfig(backends));
  });
  after(async () => {
    await admin?.close();
    await Promise.all((backends ?? []).map((b) => b.close()));
  });

  test('reads answer without a token', async () => {
    const current = await status(admin);
    assert.equal(current.listeners.length, 1);
    assert.deepEqual(current.pools.map((p) => p.name), ['app']);
    assert.deepEqual(current.pools[0]?.servers.map((s) => s.name), ['b1', 'b2']);
    assert.equal(serverStatus(current, 'app', 'b1').state, 'healthy');

    const statusAnswer = await admin.call('GET', '/api/v1/status');
    assert.match(statusAnswer.headers['content-type'] ?? '', /^application\/json/);
    assert.equal(statusAnswer.headers['cache-control'], 'no-store');
    assert.equal(statusAnswer.headers['x-content-type-options'], 'nosniff');
    assert.equal(statusAnswer.headers['access-control-allow-origin'], undefined, 'no cross-origin access is granted');

    const availability = await admin.call('GET', '/api/v1/availability');
    assert.equal(availability.status, 200);
    const report = json(availability) as { now: number; entities: { kind: string; id: string }[] };
    assert.equal(typeof report.now, 'number');
    assert.ok(report.entities.some((e) => e.kind === 'process'), availability.body);

    assert.ok(Array.isArray(await events(admin)));

    const metrics = await admin.call('GET', '/metrics');
    assert.equal(metrics.status, 200);
    assert.match(metrics.headers['content-type'] ?? '', /^text\/plain/);
    assert.match(metrics.body, /# HELP ballast_http_requests_total /);

    const page = await admin.call('GET', '/');
    assert.equal(page.status, 200);
    assert.match(page.headers['content-type'] ?? '', /^text\/html/);
    assert.match(page.headers['content-security-policy'] ?? '', /script-src 'self'/);
    assert.match(page.body, /<script src="\/assets\/dashboard\.js" defer><\/script>/);
    for (const [path, type] of [['/assets/dashboard.js', /^text\/javascript/], ['/assets/dashboard.css', /^text\/css/], ['/favicon.svg', /^image\/svg\+xml/]] as const) {
      const asset = await admin.call('GET', path);
      assert.equal(asset.status, 200, path);
      assert.match(asset.headers['content-type'] ?? '', type, path);
      const etag = asset.headers.etag;
      assert.ok(etag !== undefined, `${path} has an ETag`);
      const again = await admin.call('GET', path, { headers: [`If-None-Match: ${etag}`] });
      assert.equal(again.status, 304, `${path} revalidates`);
    }
  });

  test('each state-changing call: 401 without the token, 403 with a wrong one, and 200 with it', async () => {
    const calls: { name: string; method: string; path: string; body?: string; check: (s: RuntimeStatus, e: BallastEvent[]) => void }[] = [
      {
        name: 'drain',
        method: 'POST',
        path: '/api/v1/pools/app/servers/b1/drain',
        check: (s, e) => {
          assert.equal(serverStatus(s, 'app', 'b1').state, 'draining');
          assert.ok(e.some((ev) => ev.type === 'server-draining' && ev.pool === 'app' && ev.server === 'b1' && ev.reason === 'admin'));
        },
      },
      {
        name: 'enable',
        method: 'POST',
        path: '/api/v1/pools/app/servers/b1/enable',
        check: (s, e) => {
          assert.equal(serverStatus(s, 'app', 'b1').state, 'healthy');
          assert.ok(e.some((ev) => ev.type === 'server-enabled' && ev.server === 'b1'));
        },
      },
      {
        name: 'disable',
        method: 'POST',
        path: '/api/v1/pools/app/servers/b2/disable',
        check: (s, e) => {
          assert.equal(serverStatus(s, 'app', 'b2').state, 'disabled');
          assert.ok(e.some((ev) => ev.type === 'server-disabled' && ev.server === 'b2'));
        },
      },
      {
        name: 'enable again',
        method: 'POST',
        path: '/api/v1/pools/app/servers/b2/enable',
        check: (s) => assert.equal(serverStatus(s, 'app', 'b2').state, 'healthy'),
      },
      {
        name: 'weight',
        method: 'PUT',
        path: '/api/v1/pools/app/servers/b2/weight',
        body: '{"weight": 7}',
        check: (s, e) => {
          assert.equal(serverStatus(s, 'app', 'b2').weight, 7);
          assert.ok(e.some((ev) => ev.type === 'server-weight' && ev.server === 'b2' && ev.detail?.weight === 7));
        },
      },
      {
        name: 'reload',
        method: 'POST',
        path: '/api/v1/reload',
        check: (_s, e) => assert.ok(e.some((ev) => ev.type === 'config-reloaded')),
      },
    ];
    for (const call of calls) {
      const before = JSON.stringify((await status(admin)).pools);
      const eventsBefore = (await events(admin)).length;
      const body = call.body === undefined ? {} : { body: call.body };

      const anonymous = await admin.call(call.method, call.path, body);
      assert.equal(anonymous.status, 401, `${call.name} without a token: ${anonymous.body}`);
      assert.equal(errorCode(anonymous), ErrorCodes.UNAUTHORIZED);
      assert.match(anonymous.headers['www-authenticate'] ?? '', /^Bearer /);

      const wrong = await admin.call(call.method, call.path, { ...body, token: `${TOKEN}x` });
      assert.equal(wrong.status, 403, `${call.name} with a wrong token: ${wrong.body}`);
      assert.equal(errorCode(wrong), ErrorCodes.FORBIDDEN);

      const basic = await admin.call(call.method, call.path, { ...body, headers: [`Authorization: Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}`] });
      assert.equal(basic.status, 401, `${call.name} with another scheme`);

      assert.equal(JSON.stringify((await status(admin)).pools), before, `${call.name}: refused calls change nothing`);
      assert.equal((await events(admin)).length, eventsBefore, `${call.name}: refused calls announce nothing`);

      const allowed = await admin.call(call.method, call.path, { ...body, token: TOKEN });
      assert.equal(allowed.status, 200, `${call.name} with the token: ${allowed.body}`);
      assert.equal((json(allowed) as { ok: unknown }).ok, true);
      call.check(await status(admin), await events(admin));
    }
    const lowerCase = await admin.call('POST', '/api/v1/pools/app/servers/b1/enable', { headers: [`authorization: bearer ${TOKEN}`] });
    assert.equal(lowerCase.status, 200, 'the scheme is case-insensitive');
  });

  test('an action answer tells the new state', async () => {
    const drained = await admin.call('POST', '/api/v1/pools/app/servers/b1/drain', { token: TOKEN });
    assert.deepEqual(json(drained), { ok: true, pool: 'app', server: 'b1', action: 'drain', state: 'draining', weight: 1 });
    const enabled = await admin.call('POST', '/api/v1/pools/app/servers/b1/enable', { token: TOKEN });
    assert.equal((json(enabled) as { state: string }).state, 'healthy');
  });

  test('unknown pool or server: 404 with a stable code, after the token check', async () => {
    const pool = await admin.call('POST', '/api/v1/pools/nope/servers/b1/drain', { token: TOKEN });
    assert.equal(pool.status, 404);
    assert.equal(errorCode(pool), ErrorCodes.UNKNOWN_POOL);
    assert.match((json(pool) as { error: { message: string } }).error.message, /nope/);
    const server = await admin.call('POST', '/api/v1/pools/app/servers/nope/disable', { token: TOKEN });
    assert.equal(server.status, 404);
    assert.equal(errorCode(server), ErrorCodes.UNKNOWN_SERVER);
    const weight = await admin.call('PUT', '/api/v1/pools/app/servers/nope/weight', { token: TOKEN, body: '{"weight":1}' });
    assert.equal(weight.status, 404);
    assert.equal(errorCode(weight), ErrorCodes.UNKNOWN_SERVER);
    const anonymous = await admin.call('POST', '/api/v1/pools/nope/servers/b1/drain');
    assert.equal(anonymous.status, 401, 'names are not revealed to callers without the token');
    const encoded = await admin.call('POST', '/api/v1/pools/app/servers/b%2F1/drain', { token: TOKEN });
    assert.equal(encoded.status, 404);
    assert.equal(errorCode(encoded), ErrorCodes.UNKNOWN_SERVER);
    const malformed = await admin.call('POST', '/api/v1/pools/app/servers/%E0%A4%A/drain', { token: TOKEN });
    assert.equal(malformed.status, 400);
    assert.equal(errorCode(malformed), ErrorCodes.BAD_REQUEST);
  });

  test('weight must be an integer from 0 to 1000', async () => {
    const path = '/api/v1/pools/app/servers/b1/weight';
    for (const body of ['', 'seven', '[]', '7', '{}', '{"weight":"3"}', '{"weight":3.5}', '{"weight":-1}', '{"weight":1001}', '{"weight":null}', '{"weight":3,"extra":1}', '{"wieght":3}']) {
      const response = await admin.call('PUT', path, { token: TOKEN, body });
      assert.equal(response.status, 400, `body ${JSON.stringify(body)}: ${response.body}`);
      assert.equal(errorCode(response), ErrorCodes.BAD_REQUEST);
    }
    assert.equal(serverStatus(await status(admin), 'app', 'b1').weight, 1, 'rejected bodies change nothing');
    for (const weight of [0, 1000, 1]) {
      const response = await admin.call('PUT', path, { token: TOKEN, body: JSON.stringify({ weight }) });
      assert.equal(response.status, 200, response.body);
      assert.equal(serverStatus(await status(admin), 'app', 'b1').weight, weight);
    }
    const large = await admin.call('PUT', path, { token: TOKEN, body: JSON.stringify({ weight: 1, pad: 'x'.repeat(20_000) }) });
    assert.equal(large.status, 413);
    assert.equal(errorCode(large), AdminErrorCodes.PAYLOAD_TOO_LARGE);
    const stillServing = await admin.call('GET', '/api/v1/status');
    assert.equal(stillServing.status, 200);
  });

  test('unknown paths answer 404 and wrong methods 405 with Allow, both as JSON', async () => {
    for (const path of ['/api/v1/nope', '/api/v2/status', '/api/v1/status/', '/api/v1/pools/app/servers/b1/explode', '/api/v1/pools/app', '/index.html']) {
      const response = await admin.call('GET', path);
      assert.equal(response.status, 404, path);
      assert.match(response.headers['content-type'] ?? '', /^application\/json/);
      assert.equal(errorCode(response), AdminErrorCodes.NOT_FOUND, path);
    }
    const cases: [string, string, string][] = [
      ['GET', '/api/v1/pools/app/servers/b1/drain', 'POST'],
      ['PUT', '/api/v1/pools/app/servers/b1/enable', 'POST'],
      ['POST', '/api/v1/pools/app/servers/b1/weight', 'PUT'],
      ['GET', '/api/v1/reload', 'POST'],
      ['DELETE', '/api/v1/status', 'GET, HEAD'],
      ['POST', '/metrics', 'GET, HEAD'],
      ['POST', '/', 'GET, HEAD'],
      ['OPTIONS', '/api/v1/reload', 'POST'],
    ];
    for (const [method, path, allow] of cases) {
      const response = await admin.call(method, path, { token: TOKEN });
      assert.equal(response.status, 405, `${method} ${path}`);
      assert.equal(response.headers.allow, allow, `${method} ${path}`);
      assert.equal(errorCode(response), AdminErrorCodes.METHOD_NOT_ALLOWED);
      assert.equal(response.headers['access-control-allow-origin'], undefined);
    }
  });

  test('reload applies a new config file, or answers 422 with the problems and keeps the running config', async () => {
    admin.writeConfig(appConfig(backends, { algorithm: 'least-connections' }));
    const applied = await admin.call('POST', '/api/v1/reload', { token: TOKEN });
    assert.equal(applied.status, 200, applied.body);
    assert.deepEqual(json(applied), { ok: true });
    assert.equal((await status(admin)).pools[0]?.algorithm, 'least-connections');

    admin.writeConfig('listeners:\n  - name: web\n    protocol: gopher\n');
    const refused = await admin.call('POST', '/api/v1/reload', { token: TOKEN });
    assert.equal(refused.status, 422, refused.body);
    const answer = json(refused) as { ok: boolean; errors: string[] };
    assert.equal(answer.ok, false);
    assert.ok(answer.errors.length > 0);
    assert.ok(answer.errors.every((line) => /ballast\.yaml:\d+:\d+: /.test(line)), answer.errors.join('\n'));
    assert.equal((await status(admin)).pools[0]?.algorithm, 'least-connections', 'the running config stays');
    assert.ok((await events(admin)).some((e) => e.type === 'config-reload-failed'));
    admin.writeConfig(appConfig(backends));
    const restored = await admin.call('POST', '/api/v1/reload', { token: TOKEN });
    assert.equal(restored.status, 200, restored.body);
  });

  test('a new token applies to the next call', async () => {
    const path = '/api/v1/pools/app/servers/b1/enable';
    admin.admin.updateToken(`${TOKEN}-rotated`);
    try {
      assert.equal((await admin.call('POST', path, { token: TOKEN })).status, 403, 'the old token is refused');
      assert.equal((await admin.call('POST', path, { token: `${TOKEN}-rotated` })).status, 200);
      admin.admin.updateToken(undefined);
      const none = await admin.call('POST', path, { token: `${TOKEN}-rotated` });
      assert.equal(none.status, 403);
      assert.match((json(none) as { error: { message: string } }).error.message, /no admin token is configured/);
    } finally {
      admin.admin.updateToken(TOKEN);
    }
    assert.equal((await admin.call('POST', path, { token: TOKEN })).status, 200);
  });

  test('no secret shows in status, events, availability, metrics, the dashboard or the log', async () => {
    await admin.call('POST', '/api/v1/pools/app/servers/b1/drain', { token: `wrong-${TOKEN}` });
    await admin.call('POST', '/api/v1/pools/app/servers/b1/drain');
    const refusals = admin.warnings.filter((w) => w.msg === 'admin call refused');
    assert.ok(refusals.length >= 2, 'refused calls are logged');
    assert.ok(refusals.some((w) => (w.obj as { failure?: string }).failure === 'wrong'));
    const everything = [
      ...(await Promise.all(['/api/v1/status', '/api/v1/events', '/api/v1/availability', '/metrics', '/', '/assets/dashboard.js'].map(async (path) => (await admin.call('GET', path)).body))),
      JSON.stringify(admin.warnings),
    ].join('\n');
    for (const secret of [TOKEN, COOKIE_SECRET]) assert.ok(!everything.includes(secret), `a secret leaked: ${secret.slice(0, 6)}…`);
  });
});

describe('admin API without a configured token', () => {
  let backends: TestBackend[];
  let admin: AdminHarness;
  before(async () => {
    backends = await startBackends(1);
    admin = await startAdmin(appConfig(backends), { token: null });
  });
  after(async () => {
    await admin?.close();
    await Promise.all((backends ?? []).map((b) => b.close()));
  });

  test('refuses every state-changing call with 403 and says no token is configured; reads still work', async () => {
    for (const [method, path, body] of [
      ['POST', '/api/v1/pools/app/servers/b1/drain', undefined],
      ['POST', '/api/v1/pools/app/servers/b1/disable', undefined],
      ['POST', '/api/v1/pools/app/servers/b1/enable', undefined],
      ['PUT', '/api/v1/pools/app/servers/b1/weight', '{"weight":2}'],
      ['POST', '/api/v1/reload', undefined],
    ] as const) {
      for (const token of [undefined, TOKEN, '']) {
        const response = await admin.call(method, path, { ...(token === undefined ? {} : { token }), ...(body === undefined ? {} : { body }) });
        assert.equal(response.status, 403, `${method} ${path}`);
        assert.equal(errorCode(response), ErrorCodes.FORBIDDEN);
        assert.match((json(response) as { error: { message: string } }).error.message, /no admin token is configured/);
      }
    }
    const current = await status(admin);
    assert.equal(serverStatus(current, 'app', 'b1').state, 'healthy');
    assert.equal(serverStatus(current, 'app', 'b1').weight, 1);
  });
});
