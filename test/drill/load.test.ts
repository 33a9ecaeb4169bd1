/**
 * The load generator against real HTTP servers on 127.0.0.1: open-loop
 * scheduling, latency from the scheduled time, timeouts, refused
 * connections, the closed loop and the in-flight bound.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { TimeBuckets } from '../../src/drill/buckets.js';
import { classifyError, LoadGenerator } from '../../src/drill/load.js';
import { buildScenario, type LoadSpec } from '../../src/drill/scenario.js';
import { freePort } from '../helpers/net.js';
import { nameHandler, startBackend } from '../helpers/http-backend.js';

/** Generous timeout and slow threshold unless a test sets its own: a starved machine must not turn into failures. */
function spec(url: string, load: Record<string, unknown>): LoadSpec {
  return buildScenario({ target: { url }, load: { timeout: '30s', slow: '30s', ...load } }, 'test').load;
}

async function run(url: string, load: Record<string, unknown>, maxInFlight?: number) {
  const buckets = new TimeBuckets();
  const generator = new LoadGenerator({ spec: spec(url, load), target: { url: new URL(url), resolver: undefined }, buckets, runId: 'run-1', ...(maxInFlight === undefined ? {} : { maxInFlight }) });
  const started = performance.now();
  generator.start(started);
  try {
    await generator.done();
  } finally {
    await generator.close();
  }
  return { generator, buckets, elapsed: performance.now() - started, totals: generator.totals };
}

test('open loop: exactly rate × duration requests, each counted once by the server, tagged as drill traffic', async (t) => {
  const backend = await startBackend('b1');
  t.after(() => backend.close());
  const { totals, buckets } = await run(`http://${backend.address}/hello?x=1`, { rate: 200, duration: '1s', method: 'POST', body: 'ping', headers: { 'x-extra': 'yes' } });
  assert.deepEqual(totals, { sent: 200, succeeded: 200, failed: 0, slow: 0 });
  assert.equal(backend.requests.length, 200);
  for (const request of backend.requests) {
    assert.equal(request.method, 'POST');
    assert.equal(request.url, '/hello?x=1');
    assert.equal(request.headers['x-ballast-drill'], 'run-1');
    assert.equal(request.headers['x-extra'], 'yes');
  }
  // 20 requests scheduled in each 100 ms bucket.
  assert.deepEqual(buckets.buckets.slice(0, 10).map((b) => b.sent), Array(10).fill(20));
});

test('a stalled server shows as latency counted from the scheduled time, and the load does not slow down', async (t) => {
  let stalled = false;
  const held: ServerResponse[] = [];
  const backend = await startBackend('b1', (req, res, self) => {
    if (stalled) {
      req.resume();
      held.push(res);
      return;
    }
    nameHandler(req, res, self);
  });
  t.after(() => backend.close());
  const stallAt = setTimeout(() => {
    stalled = true;
  }, 400);
  const releaseAt = setTimeout(() => {
    stalled = false;
    for (const res of held.splice(0)) res.end('late');
  }, 1000);
  t.after(() => {
    clearTimeout(stallAt);
    clearTimeout(releaseAt);
  });
  const { totals, buckets } = await run(`http://${backend.address}/`, { rate: 100, duration: '1500ms', slow: '200ms', connections: 4 });
  assert.equal(totals.sent, 150, 'open loop: requests keep being scheduled during the stall');
  assert.equal(totals.failed, 0);
  assert.ok(totals.slow >= 20, `requests waiting on the stall are slow (${totals.slow})`);
  // The request scheduled just after the stall began waited for (nearly) all of it.
  const stallBucket = buckets.buckets[5];
  assert.ok((stallBucket?.latency.maxMs ?? 0) >= 250, `max latency of requests scheduled at 500-600 ms: ${stallBucket?.latency.maxMs}`);
  const calm = buckets.buckets[1];
  assert.ok((calm?.latency.percentile(50) ?? 1000) < (stallBucket?.latency.maxMs ?? 0) - 150, 'before the stall requests were quicker');
});

test('requests without an answer fail as timeouts, counted from their scheduled time', async (t) => {
  const backend = await startBackend('b1', (req) => req.resume());
  t.after(() => backend.close());
  const { totals, buckets, elapsed } = await run(`http://${backend.address}/`, { rate: 50, duration: '400ms', timeout: '300ms' });
  assert.deepEqual(totals, { sent: 20, succeeded: 0, failed: 20, slow: 0 });
  assert.deepEqual([...buckets.buckets[0]?.errors ?? []], [['timeout', 5]]);
  const latency = buckets.latency(0, 1000);
  assert.ok(latency.percentile(1) >= 299, `timeouts take the timeout (${latency.percentile(1)})`);
  assert.ok(latency.maxMs < 5000, `and not much more (${latency.maxMs})`);
  assert.ok(elapsed < 15_000, `done() resolves once the last request timed out (${elapsed} ms)`);
});

test('refused connections, unexpected statuses and the in-flight bound are failures of their own kind', async (t) => {
  const closedPort = await freePort();
  const refused = await run(`http://127.0.0.1:${closedPort}/`, { rate: 100, duration: '200ms' });
  assert.equal(refused.totals.failed, 20);
  const kinds = new Map<string, number>();
  for (const bucket of refused.buckets.buckets) for (const [kind, count] of bucket.errors) kinds.set(kind, (kinds.get(kind) ?? 0) + count);
  assert.deepEqual([...kinds], [['refused', 20]]);

  const missing = await startBackend('b404', (req, res) => {
    req.resume();
    res.writeHead(404);
    res.end();
  });
  t.after(() => missing.close());
  const notFound = await run(`http://${missing.address}/`, { rate: 100, duration: '100ms' });
  assert.equal(notFound.totals.failed, 10);
  assert.deepEqual([...(notFound.buckets.buckets[0]?.errors ?? [])], [['http-404', 10]]);
  assert.deepEqual(notFound.buckets.buckets[0]?.statusClasses, [0, 0, 0, 10, 0]);
  const accepted = await run(`http://${missing.address}/`, { rate: 100, duration: '100ms', expectStatus: '4xx' });
  assert.equal(accepted.totals.succeeded, 10, 'expectStatus decides what counts as success');

  const silent = await startBackend('silent', (req) => req.resume());
  t.after(() => silent.close());
  const bounded = await run(`http://${silent.address}/`, { rate: 100, duration: '200ms', timeout: '300ms' }, 5);
  assert.equal(bounded.totals.sent, 20);
  const overload = new Map<string, number>();
  for (const bucket of bounded.buckets.buckets) for (const [kind, count] of bucket.errors) overload.set(kind, (overload.get(kind) ?? 0) + count);
  assert.equal(overload.get('timeout'), 5);
  assert.equal(overload.get('client-overload'), 15);
});

test('closed loop: N clients, every response counted once', async (t) => {
  let concurrent = 0;
  let peak = 0;
  const backend = await startBackend('b1', (req, res) => {
    concurrent++;
    peak = Math.max(peak, concurrent);
    req.resume();
    setTimeout(() => {
      concurrent--;
      res.end('ok');
    }, 5);
  });
  t.after(() => backend.close());
  const { totals } = await run(`http://${backend.address}/`, { concurrency: 3, duration: '400ms' });
  assert.ok(totals.sent > 10, `sent ${totals.sent}`);
  assert.equal(totals.succeeded, totals.sent);
  assert.equal(backend.requests.length, totals.sent);
  assert.ok(peak <= 3, `never more than 3 at once (${peak})`);
});

test('error classification', () => {
  const coded = (code: string): Error => Object.assign(new Error(code), { code });
  assert.equal(classifyError(coded('ECONNREFUSED')), 'refused');
  assert.equal(classifyError(coded('UND_ERR_SOCKET')), 'reset');
  assert.equal(classifyError(coded('UND_ERR_HEADERS_TIMEOUT')), 'timeout');
  assert.equal(classifyError(coded('EAI_AGAIN')), 'dns');
  assert.equal(classifyError(coded('EWHATEVER')), 'ewhatever');
  assert.equal(classifyError(new Error('no code')), 'error');
});
