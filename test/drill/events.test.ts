/**
 * Following Ballast's state changes: the admin event stream (real admin
 * server and runtime), the polling fallback, and the in-process bus.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { followAdmin, followInProcess } from '../../src/drill/events.js';
import { sumMetric } from '../../src/drill/retries.js';
import { eventually, freePort } from '../helpers/net.js';
import { startBackend } from '../helpers/http-backend.js';
import { startAdminBallast } from './harness.js';

test('the admin event stream delivers state changes with their times', async (t) => {
  const backend = await startBackend('b1');
  t.after(() => backend.close());
  const ballast = await startAdminBallast({
    listeners: [{ name: 'web', protocol: 'http', listen: '127.0.0.1:0', routes: [{ pool: 'web' }] }],
    pools: [{ name: 'web', servers: [{ name: 'b1', address: backend.address }] }],
  });
  t.after(() => ballast.close());
  const follower = await followAdmin(ballast.adminUrl);
  t.after(() => follower.close());
  assert.equal(follower.source, 'sse');

  const before = Date.now();
  ballast.runtime.serverAction('web', 'b1', { type: 'drain' });
  await eventually(() => follower.events.some((e) => e.event.type === 'server-draining'), 'the draining event');
  const draining = follower.events.find((e) => e.event.type === 'server-draining');
  assert.equal(draining?.event.pool, 'web');
  assert.equal(draining?.event.server, 'b1');
  assert.ok((draining?.wallTime ?? 0) >= before - 5 && (draining?.wallTime ?? 0) <= Date.now(), 'Ballast’s own time, which is plausible here');

  ballast.runtime.serverAction('web', 'b1', { type: 'enable' });
  await eventually(() => follower.events.some((e) => e.event.type === 'server-enabled'), 'the enabled event');
  const keys = follower.events.map((e) => `${e.event.type}@${e.event.time}`);
  assert.equal(new Set(keys).size, keys.length, 'each event once');
  assert.deepEqual(follower.warnings, []);
});

test('without an event stream, /api/v1/status is polled and state changes become events', async (t) => {
  let state = 'healthy';
  const server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/api/v1/events') {
      res.end('[]');
      return;
    }
    res.end(JSON.stringify({ pools: [{ name: 'web', servers: [{ name: 'b1', state }, { name: 'b2', state: 'healthy' }] }], gslb: { sites: [{ site: 'eu', state: state === 'healthy' ? 'active' : 'down' }] } }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const follower = await followAdmin(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  t.after(() => follower.close());
  assert.equal(follower.source, 'poll');
  assert.match(follower.warnings[0] ?? '', /offers no event stream; polling/);

  state = 'ejected';
  await eventually(() => follower.events.some((e) => e.event.type === 'server-ejected'), 'the ejection seen by polling');
  state = 'healthy';
  await eventually(() => follower.events.some((e) => e.event.type === 'server-restored'), 'the restoration seen by polling');
  assert.deepEqual(
    follower.events.map((e) => [e.event.type, e.event.server ?? e.event.site]),
    [['server-ejected', 'b1'], ['site-down', 'eu'], ['server-restored', 'b1'], ['site-up', 'eu']],
  );
});

test('an admin URL that does not answer is an error; the in-process bus needs none', async () => {
  const port = await freePort();
  await assert.rejects(followAdmin(`http://127.0.0.1:${port}`));

  const listeners = new Set<(event: { type: 'server-down'; time: number }) => void>();
  const follower = followInProcess((listener) => {
    listeners.add(listener);
    return () => listeners.delete(listener);
  });
  for (const listener of listeners) listener({ type: 'server-down', time: Date.now() });
  assert.equal(follower.source, 'in-process');
  assert.equal(follower.events.length, 1);
  await follower.close();
  assert.equal(listeners.size, 0);
});

test('retries are read from the Prometheus counter, summed over its series', () => {
  const text = [
    '# HELP ballast_retries_total Requests retried.',
    '# TYPE ballast_retries_total counter',
    'ballast_retries_total{pool="web",reason="connect-failure"} 4',
    'ballast_retries_total{pool="web",reason="502"} 2.5e1',
    'ballast_retries_total_created 123',
    'ballast_requests_total 1000',
  ].join('\n');
  assert.equal(sumMetric(text, 'ballast_retries_total'), 29);
  assert.equal(sumMetric('ballast_requests_total 3\n', 'ballast_retries_total'), undefined);
});
