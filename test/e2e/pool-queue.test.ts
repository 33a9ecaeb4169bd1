/**
 * Per-server connection limits and the pool queue end to end: requests beyond
 * `maxConnections` wait in the queue and are served in turn; a request that
 * waits longer than `queue.timeout` gets 503; when the queue is full the
 * answer is 503 at once.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startBallast, simpleConfig, type RunningBallast } from '../helpers/ballast.js';
import { startBackend, type TestBackend } from '../helpers/http-backend.js';
import { eventually } from '../helpers/net.js';

interface Cleanup {
  after(fn: () => Promise<void>): void;
}

interface SlowBackend {
  readonly backend: TestBackend;
  /** Most requests this backend was answering at once. */
  maxConcurrent(): number;
}

/** A backend that answers after `delayMs` and records its concurrency. */
async function slowBackend(t: Cleanup, name: string, delayMs: number): Promise<SlowBackend> {
  let current = 0;
  let max = 0;
  const backend = await startBackend(name, (req, res) => {
    req.resume();
    current++;
    max = Math.max(max, current);
    setTimeout(() => {
      current--;
      res.writeHead(200, { 'x-backend': name });
      res.end(name);
    }, delayMs);
  });
  t.after(() => backend.close());
  return { backend, maxConcurrent: () => max };
}

interface Answer {
  readonly status: number;
  readonly backend: string | null;
  /** Milliseconds from the request until the answer. */
  readonly ms: number;
}

async function timedGet(url: string): Promise<Answer> {
  const started = performance.now();
  const response = await fetch(url);
  await response.arrayBuffer();
  return { status: response.status, backend: response.headers.get('x-backend'), ms: performance.now() - started };
}

async function ballast(t: Cleanup, backends: readonly SlowBackend[], pool: Record<string, unknown>): Promise<RunningBallast> {
  const lb = await startBallast(simpleConfig(backends.map((b) => b.backend.address), pool));
  t.after(() => lb.close());
  return lb;
}

/** Requests the pool has sent to servers now. */
function sent(lb: RunningBallast): number {
  return lb.handle.status().pools[0]?.inFlight ?? 0;
}

/** Requests the listener is handling now, queued ones included. */
function accepted(lb: RunningBallast): number {
  return lb.handle.status().listeners[0]?.inFlight ?? 0;
}

test('beyond maxConnections requests wait in the queue and are all served, one at a time per server', async (t) => {
  const backends = [await slowBackend(t, 'b1', 150), await slowBackend(t, 'b2', 150)];
  const lb = await ballast(t, backends, { maxConnections: 1, queue: { size: 10, timeout: '20s' } });
  const answers = await Promise.all(Array.from({ length: 8 }, () => timedGet(`${lb.url()}/x`)));
  assert.deepEqual(answers.map((a) => a.status), new Array<number>(8).fill(200));
  assert.deepEqual(backends.map((b) => b.maxConcurrent()), [1, 1], 'no server ever had more than maxConnections requests');
  const slowest = Math.max(...answers.map((a) => a.ms));
  assert.ok(slowest >= 4 * 150 * 0.9, `eight requests over two single-slot servers take four rounds (${slowest.toFixed(0)} ms)`);
});

test('a request that waits longer than queue.timeout gets 503', async (t) => {
  const backends = [await slowBackend(t, 'b1', 3000)];
  const lb = await ballast(t, backends, { maxConnections: 1, queue: { size: 5, timeout: '300ms' } });
  const first = timedGet(`${lb.url()}/first`);
  await eventually(() => sent(lb) === 1, 'the first request to hold the only slot');
  const waiting = await timedGet(`${lb.url()}/second`);
  console.log(`queue timeout: 503 after ${waiting.ms.toFixed(0)} ms (queue.timeout 300 ms)`);
  assert.equal(waiting.status, 503);
  assert.ok(waiting.ms >= 250, `it waited for queue.timeout (${waiting.ms.toFixed(0)} ms)`);
  assert.ok(waiting.ms < 2500, `and no longer than needed (${waiting.ms.toFixed(0)} ms)`);
  assert.equal((await first).status, 200, 'the request holding the slot finishes normally');
});

test('a full queue answers 503 at once; the queued request is served when a slot frees', async (t) => {
  const backends = [await slowBackend(t, 'b1', 1500)];
  const lb = await ballast(t, backends, { maxConnections: 1, queue: { size: 1, timeout: '20s' } });
  const first = timedGet(`${lb.url()}/first`);
  await eventually(() => sent(lb) === 1, 'the first request to hold the only slot');
  const second = timedGet(`${lb.url()}/second`);
  await eventually(() => accepted(lb) === 2, 'the second request to wait in the queue');
  const third = await timedGet(`${lb.url()}/third`);
  console.log(`queue full: 503 after ${third.ms.toFixed(1)} ms`);
  assert.equal(third.status, 503);
  assert.ok(third.ms < 1000, `answered at once, not after the queue timeout (${third.ms.toFixed(0)} ms)`);
  assert.deepEqual([(await first).status, (await second).status], [200, 200]);
  assert.equal(backends[0]?.maxConcurrent(), 1);
});

test('queue size 0: no waiting, 503 as soon as every server is at its limit', async (t) => {
  const backends = [await slowBackend(t, 'b1', 1000)];
  const lb = await ballast(t, backends, { maxConnections: 1, queue: { size: 0 } });
  const first = timedGet(`${lb.url()}/first`);
  await eventually(() => sent(lb) === 1, 'the first request to hold the only slot');
  const refused = await timedGet(`${lb.url()}/second`);
  assert.equal(refused.status, 503);
  assert.ok(refused.ms < 900, `answered before the slot freed (${refused.ms.toFixed(0)} ms)`);
  assert.equal((await first).status, 200);
});
