/**
 * End to end: a real Pool with active health checks, fed by SRV records from
 * a DNS server on 127.0.0.1, in front of real HTTP servers. The pool follows
 * the records as they change, health checks judge the discovered servers,
 * and a DNS outage changes nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configFromObject } from '../../src/config/index.js';
import { EventBus } from '../../src/core/events.js';
import { DiscoveryBinding } from '../../src/discovery/index.js';
import { Pool } from '../../src/pools/pool.js';
import { startBackend, type TestBackend } from '../helpers/http-backend.js';
import { TestDnsServer } from './dns-test-server.js';
import { dnsDiscovery, waitFor } from './helpers.js';

const SRV = '_web._tcp.example.com';

/** Names of the backends that answer requests sent to the servers the pool picks (`refused` for a dead one). */
async function servedBy(pool: Pool, requests: number): Promise<string[]> {
  const seen = new Set<string>();
  for (let i = 0; i < requests; i++) {
    const server = pool.pick({ clientAddress: '127.0.0.1', hashKey: undefined });
    if (server === null) continue;
    try {
      const response = await fetch(`http://${server.address.host}:${server.address.port}/`);
      seen.add(await response.text());
    } catch {
      seen.add('refused');
    }
  }
  return [...seen].sort();
}

test('a pool fed by SRV records follows record changes', async (t) => {
  const backends: TestBackend[] = [];
  for (const name of ['static', 'a', 'b', 'c']) backends.push(await startBackend(name));
  t.after(() => Promise.all(backends.map((backend) => backend.close())));
  const [statik, a, b, c] = backends as [TestBackend, TestBackend, TestBackend, TestBackend];

  const dns = await TestDnsServer.start();
  t.after(() => dns.close());
  const srv = (targets: readonly TestBackend[]): void => {
    dns.set(SRV, 'SRV', 1, targets.map((backend) => ({ priority: 0, weight: 1, port: backend.port, target: `${backend.name}.example.com` })));
  };
  for (const backend of [a, b, c]) dns.set(`${backend.name}.example.com`, 'A', 1, ['127.0.0.1']);
  srv([a, b]);

  const config = configFromObject({
    pools: [
      {
        name: 'web',
        algorithm: 'round-robin',
        servers: [{ name: 'static', address: statik.address }],
        healthCheck: { type: 'tcp', interval: '200ms', timeout: '1s', healthyThreshold: 1, unhealthyThreshold: 1, initialState: 'healthy' },
      },
    ],
  }).pools[0];
  assert.ok(config !== undefined);
  const pool = new Pool(config, { events: new EventBus() });
  pool.start();
  t.after(() => pool.stop());
  const poolWithDiscovery = {
    ...config,
    discovery: [dnsDiscovery({ name: SRV, recordType: 'SRV', resolver: `127.0.0.1:${dns.port}`, interval: '2s', minInterval: '200ms', timeout: '1s' })],
  };
  const binding = new DiscoveryBinding(pool, poolWithDiscovery);
  t.after(() => binding.stop());
  assert.equal(await binding.ready(5000), true);

  await waitFor(async () => ((await servedBy(pool, 12)).join() === 'a,b,static' ? true : undefined), 10_000, 'a, b and static to serve');
  const serverA = pool.get(`127.0.0.1_${a.port}`);
  assert.ok(serverA !== undefined, 'discovered servers are named after their address');

  // a leaves the records, c joins.
  srv([b, c]);
  await waitFor(async () => ((await servedBy(pool, 12)).join() === 'b,c,static' ? true : undefined), 10_000, 'b, c and static to serve');
  await waitFor(() => (pool.get(`127.0.0.1_${a.port}`) === undefined ? true : undefined), 10_000, 'a to leave the pool');

  // Health checks judge discovered servers like any other: c goes down.
  await c.close();
  await waitFor(async () => ((await servedBy(pool, 12)).join() === 'b,static' ? true : undefined), 10_000, 'c to be taken out by its health check');
  assert.equal(pool.get(`127.0.0.1_${c.port}`)?.state, 'unhealthy');

  // The DNS server fails: the pool keeps what it has.
  dns.mode = 'servfail';
  await waitFor(() => (binding.status().sources[0]?.state === 'failing' ? true : undefined), 10_000, 'the source to fail');
  assert.deepEqual([...pool.list()].map((server) => server.name).sort(), ['127.0.0.1_' + b.port, '127.0.0.1_' + c.port, 'static'].sort());
  assert.deepEqual(await servedBy(pool, 12), ['b', 'static']);

  // A reload rebuilds the pool with unchanged discovery: the new pool gets the discovered servers at once.
  const rebuilt = new Pool(config, { events: new EventBus() });
  t.after(() => rebuilt.stop());
  binding.attach(rebuilt, poolWithDiscovery);
  assert.deepEqual([...rebuilt.list()].map((server) => server.name).sort(), ['127.0.0.1_' + b.port, '127.0.0.1_' + c.port, 'static'].sort());
  dns.mode = 'answer';
  srv([a]);
  await waitFor(() => ([...rebuilt.list()].map((server) => server.name).sort().join() === ['127.0.0.1_' + a.port, 'static'].sort().join() ? true : undefined), 10_000, 'the rebuilt pool to follow');
  assert.ok(pool.get('127.0.0.1_' + a.port) === undefined, 'the old pool is no longer changed');
});
