/**
 * Draining end to end: a drained server gets no new requests — sticky ones
 * included — while the requests it is already answering finish normally.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { simpleConfig, startWatchedBallast, type RunningBallast } from '../helpers/ballast.js';
import { startBackend, type BackendHandler, type Cleanup, type TestBackend } from '../helpers/http-backend.js';
import { eventually } from '../helpers/net.js';

/** Answers with its name; `/slow` answers after 800 ms. */
const handler: BackendHandler = (req, res, backend) => {
  req.resume();
  const answer = (): void => {
    res.writeHead(200, { 'x-backend': backend.name });
    res.end(backend.name);
  };
  if (req.url === '/slow') setTimeout(answer, 800);
  else answer();
};

async function backends(t: Cleanup, count: number): Promise<TestBackend[]> {
  const list: TestBackend[] = [];
  for (let i = 1; i <= count; i++) list.push(await startBackend(`b${i}`, handler));
  t.after(async () => {
    await Promise.all(list.map((b) => b.close()));
  });
  return list;
}

async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; backend: string | null; cookie: string | null; body: string }> {
  const response = await fetch(url, { headers });
  return { status: response.status, backend: response.headers.get('x-backend'), cookie: response.headers.get('set-cookie'), body: await response.text() };
}

function state(lb: RunningBallast, server: string): string | undefined {
  return lb.handle.status().pools[0]?.servers.find((s) => s.name === server)?.state;
}

function activeConnections(lb: RunningBallast, server: string): number {
  return lb.handle.status().pools[0]?.servers.find((s) => s.name === server)?.activeConnections ?? 0;
}

test('a drained server finishes its requests in flight and gets no new ones; enable brings it back', async (t) => {
  const servers = await backends(t, 2);
  const { lb, events } = await startWatchedBallast(t, simpleConfig(servers.map((b) => b.address)));

  const slow = get(`${lb.url()}/slow`);
  await eventually(() => activeConnections(lb, 'b1') === 1, 'the slow request to reach b1');
  lb.handle.serverAction('app', 'b1', { type: 'drain' });
  assert.equal(state(lb, 'b1'), 'draining');
  const drained = events.find((e) => e.type === 'server-draining');
  assert.deepEqual({ server: drained?.server, reason: drained?.reason }, { server: 'b1', reason: 'admin' });

  for (let i = 0; i < 6; i++) assert.equal((await get(`${lb.url()}/x`)).backend, 'b2', 'new requests avoid the drained server');
  assert.deepEqual(await slow, { status: 200, backend: 'b1', cookie: null, body: 'b1' }, 'the request in flight finished on b1');
  assert.equal(activeConnections(lb, 'b1'), 0);

  lb.handle.serverAction('app', 'b1', { type: 'enable' });
  const seen = new Set<string | null>();
  for (let i = 0; i < 4; i++) seen.add((await get(`${lb.url()}/x`)).backend);
  assert.deepEqual([...seen].sort(), ['b1', 'b2'], 'the enabled server takes traffic again');
});

test('a drained server gets no new sticky requests either', async (t) => {
  const servers = await backends(t, 2);
  const { lb } = await startWatchedBallast(
    t,
    simpleConfig(
      servers.map((b) => b.address),
      { stickySession: { type: 'cookie', cookie: 'ROUTE', secret: 'a-secret-of-at-least-16-chars' } },
    ),
  );
  const first = await get(`${lb.url()}/x`);
  const cookie = first.cookie?.split(';')[0] ?? '';
  assert.ok(cookie.startsWith('ROUTE='), `a sticky cookie was set: ${first.cookie}`);
  const home = first.backend as string;
  const other = home === 'b1' ? 'b2' : 'b1';
  for (let i = 0; i < 4; i++) assert.equal((await get(`${lb.url()}/x`, { cookie })).backend, home, 'the cookie keeps the client on its server');

  const slow = get(`${lb.url()}/slow`, { cookie });
  await eventually(() => activeConnections(lb, home) === 1, 'the sticky slow request to reach its server');
  lb.handle.serverAction('app', home, { type: 'drain' });
  for (let i = 0; i < 4; i++) {
    const answer = await get(`${lb.url()}/x`, { cookie });
    assert.equal(answer.backend, other, 'a sticky request for a drained server goes elsewhere');
  }
  assert.equal((await slow).backend, home, 'the sticky request in flight finished where it was');
});

test('a drained server gets no new requests from clients that hash to it (source-ip)', async (t) => {
  const servers = await backends(t, 3);
  const { lb } = await startWatchedBallast(t, simpleConfig(servers.map((b) => b.address), { algorithm: 'source-ip' }));
  const home = (await get(`${lb.url()}/x`)).backend as string;
  for (let i = 0; i < 3; i++) assert.equal((await get(`${lb.url()}/x`)).backend, home, 'this client always lands on one server');
  lb.handle.serverAction('app', home, { type: 'drain' });
  const after = new Set<string | null>();
  for (let i = 0; i < 4; i++) after.add((await get(`${lb.url()}/x`)).backend);
  assert.equal(after.size, 1, 'the client moved to one other server');
  assert.ok(!after.has(home), 'not the drained one');
});
