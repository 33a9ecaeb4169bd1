/**
 * When a failed request is tried again on another server, end to end: what
 * was sent decides (a connect failure sent nothing; after sending only
 * idempotent requests are repeated), a started response is never repeated, and
 * the retry budget bounds a retry storm. Each test starts a fresh Ballast, so
 * round robin's first pick is the first server listed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startBallast, simpleConfig, type RunningBallast } from '../helpers/ballast.js';
import { curl } from '../helpers/curl.js';
import type { Cleanup } from '../helpers/http-backend.js';
import { freePort } from '../helpers/net.js';
import { startBackendProcesses, type BackendProcess } from '../fixtures/backend-server.js';
import { runLoad } from '../fixtures/load-client.js';

async function ballastOver(t: Cleanup, addresses: readonly string[], pool: Record<string, unknown> = {}): Promise<RunningBallast> {
  const lb = await startBallast(simpleConfig(addresses, pool));
  t.after(() => lb.close());
  return lb;
}

/** An address where nothing listens: connecting is refused. */
async function deadAddress(): Promise<string> {
  return `127.0.0.1:${await freePort()}`;
}

async function send(url: string, method: string, body?: string, headers: Record<string, string> = {}): Promise<{ status: number; backend: string | null; bodyBytes: string | null }> {
  const response = await fetch(url, { method, headers, ...(body === undefined ? {} : { body }) });
  await response.arrayBuffer();
  return { status: response.status, backend: response.headers.get('x-backend'), bodyBytes: response.headers.get('x-body-bytes') };
}

test('POST is not retried once it was sent', async (t) => {
  const [reset, ok] = (await startBackendProcesses(t, [{ name: 'reset', mode: 'reset' }, { name: 'ok' }])) as [BackendProcess, BackendProcess];
  const lb = await ballastOver(t, [reset.address, ok.address]);
  const answer = await send(`${lb.url()}/orders`, 'POST', 'item=1');
  assert.equal(answer.status, 502, 'the reset reaches the client as 502');
  assert.equal((await reset.stats()).methods['POST'], 1, 'the server that reset saw the POST once');
  assert.equal((await ok.stats()).requests, 0, 'the POST was not repeated on another server');
});

test('POST is retried on a connect failure, its buffered body intact', async (t) => {
  const [ok] = (await startBackendProcesses(t, [{ name: 'ok' }])) as [BackendProcess];
  const lb = await ballastOver(t, [await deadAddress(), ok.address]);
  const answer = await send(`${lb.url()}/orders`, 'POST', 'item=1');
  assert.deepEqual(answer, { status: 200, backend: 'ok', bodyBytes: '6' });
  assert.equal((await ok.stats()).methods['POST'], 1);
});

test('POST with an Idempotency-Key is retried after it was sent', async (t) => {
  const [reset, ok] = (await startBackendProcesses(t, [{ name: 'reset', mode: 'reset' }, { name: 'ok' }])) as [BackendProcess, BackendProcess];
  const lb = await ballastOver(t, [reset.address, ok.address]);
  const answer = await send(`${lb.url()}/orders`, 'POST', 'item=1', { 'idempotency-key': 'order-42' });
  assert.deepEqual(answer, { status: 200, backend: 'ok', bodyBytes: '6' });
  assert.equal((await reset.stats()).requests, 1);
});

for (const method of ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']) {
  test(`${method} is retried after a reset`, async (t) => {
    const [reset, ok] = (await startBackendProcesses(t, [{ name: 'reset', mode: 'reset' }, { name: 'ok' }])) as [BackendProcess, BackendProcess];
    const lb = await ballastOver(t, [reset.address, ok.address]);
    const answer = await send(`${lb.url()}/item`, method, method === 'PUT' ? 'v=1' : undefined);
    assert.equal(answer.status, 200);
    assert.equal(answer.backend, 'ok');
    assert.equal((await reset.stats()).methods[method], 1, `the ${method} reached the resetting server first`);
  });
}

test('5xx answers listed in retries.on are retried; a 500 is passed through', async (t) => {
  const [unavailable, ok] = (await startBackendProcesses(t, [{ name: 'unavailable', status: 503 }, { name: 'ok' }])) as [BackendProcess, BackendProcess];
  const lb = await ballastOver(t, [unavailable.address, ok.address]);
  assert.deepEqual(await send(`${lb.url()}/a`, 'GET'), { status: 200, backend: 'ok', bodyBytes: '0' });
  await unavailable.control({ status: 500 });
  assert.deepEqual(await send(`${lb.url()}/b`, 'GET'), { status: 500, backend: 'unavailable', bodyBytes: '0' });
});

test('a response that started is never retried: the client sees it cut short', async (t) => {
  const [partial, ok] = (await startBackendProcesses(t, [{ name: 'partial', mode: 'partial' }, { name: 'ok' }])) as [BackendProcess, BackendProcess];
  const lb = await ballastOver(t, [partial.address, ok.address]);
  const answer = await curl([`${lb.url()}/page`]);
  assert.equal(answer.status, 200, 'the headers had been forwarded');
  assert.equal(answer.exitCode, 18, 'curl reports a transfer closed with data outstanding (exit 18)');
  assert.equal((await partial.stats()).requests, 1);
  assert.equal((await ok.stats()).requests, 0, 'no second server was asked');
});

test('a body larger than retries.bufferBytes is streamed: not retried after it was sent', async (t) => {
  const [reset, ok] = (await startBackendProcesses(t, [{ name: 'reset', mode: 'reset' }, { name: 'ok' }])) as [BackendProcess, BackendProcess];
  const lb = await ballastOver(t, [reset.address, ok.address], { retries: { bufferBytes: '1KiB' } });
  const large = 'x'.repeat(64 * 1024);
  const answer = await send(`${lb.url()}/upload`, 'PUT', large, { 'idempotency-key': 'upload-1' });
  assert.equal(answer.status, 502);
  assert.equal((await ok.stats()).requests, 0, 'an unbuffered body cannot be replayed');
  const small = await send(`${lb.url()}/upload`, 'PUT', 'x'.repeat(1024));
  assert.deepEqual(small, { status: 200, backend: 'ok', bodyBytes: '1024' }, 'a body up to the limit is sent whole');
});

test('a body larger than retries.bufferBytes is still retried on a connect failure', async (t) => {
  const [ok] = (await startBackendProcesses(t, [{ name: 'ok' }])) as [BackendProcess];
  const lb = await ballastOver(t, [await deadAddress(), ok.address], { retries: { bufferBytes: '1KiB' } });
  const answer = await send(`${lb.url()}/upload`, 'POST', 'y'.repeat(64 * 1024));
  assert.deepEqual(answer, { status: 200, backend: 'ok', bodyBytes: String(64 * 1024) });
});

test('the retry budget stops a retry storm when every server fails', async (t) => {
  const backends = await startBackendProcesses(t, [
    { name: 'b1', status: 503 },
    { name: 'b2', status: 503 },
    { name: 'b3', status: 503 },
  ]);
  const lb = await ballastOver(
    t,
    backends.map((b) => b.address),
    { retries: { attempts: 2, budgetPercent: 20 } },
  );
  const requests = 600;
  const summary = await runLoad({ url: `${lb.url()}/x`, concurrency: 10, durationMs: 9000, maxRequests: requests });
  const attempts = (await Promise.all(backends.map((b) => b.stats()))).reduce((sum, s) => sum + s.requests, 0);
  const retries = attempts - summary.sent;
  console.log(`retry storm: ${summary.sent} requests made ${attempts} attempts (${retries} retries; ${2 * summary.sent} without a budget)`);
  assert.equal(summary.sent, requests, 'every request was sent within the time limit');
  assert.equal(summary.records.filter((r) => r.status !== 503).length, 0, 'the clients see the servers’ 503');
  // 20 % of the requests plus the floor of 3 retries per second over the 10 s window.
  assert.ok(retries <= requests * 0.2 + 30, `retries stay within the budget (${retries})`);
  assert.ok(retries >= 30, `the budget allowed some retries (${retries})`);
});
