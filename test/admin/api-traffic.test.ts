import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { eventually } from '../helpers/net.js';
import { nameHandler, startBackend, type BackendHandler, type TestBackend } from '../helpers/http-backend.js';
import { TOKEN, serverStatus, startAdmin, type AdminHarness } from './admin-harness.js';

async function get(url: string): Promise<{ status: number; body: string }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.text() };
}

/** Sends `count` sequential requests and counts answers by backend name. */
async function distribution(url: string, count: number): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const { status, body } = await get(url);
    assert.equal(status, 200, body);
    seen.set(body, (seen.get(body) ?? 0) + 1);
  }
  return seen;
}

describe('drain through the admin API', () => {
  const held: (() => void)[] = [];
  /** `/slow` waits until the test releases it; everything else answers at once. */
  const gated: BackendHandler = (req, res, backend) => {
    if (req.url !== '/slow') {
      nameHandler(req, res, backend);
      return;
    }
    req.resume();
    held.push(() => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`slow from ${backend.name}`);
    });
  };
  let backends: TestBackend[];
  let admin: AdminHarness;
  before(async () => {
    backends = [await startBackend('b1', gated), await startBackend('b2', gated), await startBackend('b3', gated)];
    admin = await startAdmin({
      listeners: [{ name: 'web', protocol: 'http', listen: '127.0.0.1:0', routes: [{ pool: 'app' }] }],
      pools: [{ name: 'app', algorithm: 'round-robin', retries: { attempts: 0 }, servers: backends.map((b) => ({ name: b.name, address: b.address })) }],
    });
  });
  after(async () => {
    for (const release of held.splice(0)) release();
    await admin?.close();
    await Promise.all((backends ?? []).map((b) => b.close()));
  });

  test('takes the server out of rotation at once while its in-flight request finishes', async () => {
    const slow = get(`${admin.proxyUrl()}/slow`);
    await eventually(() => held.length === 1, 'the slow request reaches a server');
    const busy = backends.find((b) => b.requests.some((r) => r.url === '/slow'));
    assert.ok(busy !== undefined);
    await eventually(() => serverStatus(admin.runtime.status(), 'app', busy.name).activeConnections === 1, 'the request is in flight');

    const drained = await admin.call('POST', `/api/v1/pools/app/servers/${busy.name}/drain`, { token: TOKEN });
    assert.equal(drained.status, 200, drained.body);
    assert.equal(serverStatus(admin.runtime.status(), 'app', busy.name).state, 'draining');

    const seen = await distribution(`${admin.proxyUrl()}/fast`, 30);
    assert.equal(seen.get(busy.name), undefined, `no new request goes to the drained server: ${JSON.stringify([...seen])}`);
    assert.equal([...seen.values()].reduce((a, b) => a + b, 0), 30);
    assert.equal(seen.size, 2, 'the other two servers share the traffic');

    assert.equal(serverStatus(admin.runtime.status(), 'app', busy.name).activeConnections, 1, 'the in-flight request is still open');
    for (const release of held.splice(0)) release();
    const finished = await slow;
    assert.equal(finished.status, 200);
    assert.equal(finished.body, `slow from ${busy.name}`, 'the in-flight request completes on the drained server');
    await eventually(() => serverStatus(admin.runtime.status(), 'app', busy.name).activeConnections === 0, 'the drained server ends idle');

    const enabled = await admin.call('POST', `/api/v1/pools/app/servers/${busy.name}/enable`, { token: TOKEN });
    assert.equal(enabled.status, 200, enabled.body);
    const after = await distribution(`${admin.proxyUrl()}/fast`, 30);
    assert.equal(after.get(busy.name), 10, `the enabled server takes its turn again: ${JSON.stringify([...after])}`);
  });

  test('disable takes a server out of rotation too', async () => {
    const disabled = await admin.call('POST', '/api/v1/pools/app/servers/b3/disable', { token: TOKEN });
    assert.equal(disabled.status, 200, disabled.body);
    const seen = await distribution(`${admin.proxyUrl()}/fast`, 20);
    assert.equal(seen.get('b3'), undefined);
    const enabled = await admin.call('POST', '/api/v1/pools/app/servers/b3/enable', { token: TOKEN });
    assert.equal(enabled.status, 200, enabled.body);
  });
});

describe('weight through the admin API', () => {
  let backends: TestBackend[];
  let admin: AdminHarness;
  before(async () => {
    backends = [await startBackend('w1'), await startBackend('w2')];
    admin = await startAdmin({
      listeners: [{ name: 'web', protocol: 'http', listen: '127.0.0.1:0', routes: [{ pool: 'weighted' }] }],
      pools: [{ name: 'weighted', algorithm: 'weighted-round-robin', servers: backends.map((b) => ({ name: b.name, address: b.address, weight: 1 })) }],
    });
  });
  after(async () => {
    await admin?.close();
    await Promise.all((backends ?? []).map((b) => b.close()));
  });

  test('a weight change shifts the distribution', async () => {
    const even = await distribution(admin.proxyUrl(), 200);
    assert.ok(Math.abs((even.get('w1') ?? 0) - 100) <= 10, `equal weights share evenly: ${JSON.stringify([...even])}`);

    const heavier = await admin.call('PUT', '/api/v1/pools/weighted/servers/w1/weight', { token: TOKEN, body: '{"weight": 3}' });
    assert.equal(heavier.status, 200, heavier.body);
    assert.equal(serverStatus(admin.runtime.status(), 'weighted', 'w1').weight, 3);
    const skewed = await distribution(admin.proxyUrl(), 200);
    assert.ok(Math.abs((skewed.get('w1') ?? 0) - 150) <= 15, `weights 3:1 give about 150 of 200: ${JSON.stringify([...skewed])}`);

    const off = await admin.call('PUT', '/api/v1/pools/weighted/servers/w1/weight', { token: TOKEN, body: '{"weight": 0}' });
    assert.equal(off.status, 200, off.body);
    const none = await distribution(admin.proxyUrl(), 40);
    assert.equal(none.get('w1'), undefined, `weight 0 is never picked: ${JSON.stringify([...none])}`);
  });
});
