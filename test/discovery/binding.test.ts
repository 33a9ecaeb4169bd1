/**
 * DiscoveryBinding against a real Pool: servers from a watched file and a
 * DNS server join, drain and leave; reloads keep what did not change.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PoolConfig } from '../../src/config/types.js';
import { configFromObject } from '../../src/config/index.js';
import { EventBus, type BallastEvent } from '../../src/core/events.js';
import { DiscoveryBinding } from '../../src/discovery/binding.js';
import type { DiscoveryConfig } from '../../src/discovery/types.js';
import { Pool } from '../../src/pools/pool.js';
import { TestDnsServer } from './dns-test-server.js';
import { dnsDiscovery, fileDiscovery, MemoryLogger, tempDir, waitFor } from './helpers.js';

type PoolWithDiscovery = PoolConfig & { readonly discovery: readonly DiscoveryConfig[] };

function poolConfig(discovery: readonly DiscoveryConfig[], extra: Record<string, unknown> = {}): PoolWithDiscovery {
  const pool = configFromObject({
    pools: [{ name: 'api', algorithm: 'round-robin', servers: [{ name: 'static-1', address: '127.0.0.1:3001' }], ...extra }],
  }).pools[0];
  assert.ok(pool !== undefined);
  return { ...pool, discovery };
}

function members(pool: Pool): string {
  return [...pool.list()]
    .map((server) => `${server.name}:${server.address.port}/${server.configuredWeight}${server.backup ? '/backup' : ''}`)
    .sort()
    .join(' ');
}

function picks(pool: Pool, count: number): string[] {
  const seen = new Set<string>();
  for (let i = 0; i < count; i++) seen.add(pool.pick({ clientAddress: '127.0.0.1', hashKey: undefined })?.name ?? 'none');
  return [...seen].sort();
}

async function until(pool: Pool, expected: string, what: string): Promise<void> {
  await waitFor(() => (members(pool) === expected ? true : undefined), 5000, `${what} (pool: ${members(pool)})`);
}

interface Fixture {
  readonly dir: string;
  readonly events: BallastEvent[];
  readonly logger: MemoryLogger;
  pool(config: PoolConfig): Pool;
  bind(pool: Pool, config: PoolWithDiscovery, onApplied?: (pool: Pool) => void): DiscoveryBinding;
  write(name: string, lines: readonly string[]): string;
}

function fixture(t: { after(fn: () => Promise<void> | void): void }): Fixture {
  const dir = tempDir(t);
  const bus = new EventBus();
  const events: BallastEvent[] = [];
  bus.subscribe((event) => events.push(event));
  const logger = new MemoryLogger();
  return {
    dir,
    events,
    logger,
    pool(config) {
      const pool = new Pool(config, { events: bus });
      t.after(() => pool.stop());
      return pool;
    },
    bind(pool, config, onApplied) {
      const binding = new DiscoveryBinding(pool, config, { logger, ...(onApplied === undefined ? {} : { onApplied }) });
      t.after(() => binding.stop());
      return binding;
    },
    write(name, lines) {
      const path = join(dir, name);
      // Written aside and renamed over, as the docs advise: never read half-written.
      writeFileSync(`${path}.tmp`, `${lines.join('\n')}\n`);
      renameSync(`${path}.tmp`, path);
      return path;
    },
  };
}

test('the pool follows the file: servers join, change weight, and drain out', async (t) => {
  const f = fixture(t);
  const path = f.write('servers.yaml', ['- { name: d1, address: 127.0.0.1:4001 }', '- { name: d2, address: 127.0.0.1:4002 }']);
  const config = poolConfig([fileDiscovery({ path, interval: '100ms' })]);
  const pool = f.pool(config);
  const applied: string[] = [];
  const binding = f.bind(pool, config, (p) => applied.push(members(p)));
  assert.equal(await binding.ready(5000), true);
  await until(pool, 'd1:4001/1 d2:4002/1 static-1:3001/1', 'the file servers to join');
  assert.deepEqual(picks(pool, 30), ['d1', 'd2', 'static-1']);
  assert.deepEqual(applied, ['d1:4001/1 d2:4002/1 static-1:3001/1'], 'onApplied after each list');

  // d1 is busy when it leaves the file: it drains (no new requests) and leaves the pool's list at once.
  const d1 = pool.get('d1');
  assert.ok(d1 !== undefined);
  pool.begin(d1);
  f.write('servers.yaml', ['- { name: d2, address: 127.0.0.1:4002, weight: 4 }']);
  await until(pool, 'd2:4002/4 static-1:3001/1', 'd1 to leave and d2 to weigh 4');
  assert.equal(d1.state, 'draining');
  assert.deepEqual(picks(pool, 30), ['d2', 'static-1']);
  assert.ok(f.events.some((e) => e.type === 'server-draining' && e.server === 'd1' && e.reason === 'discovery'));
  assert.ok(f.events.some((e) => e.type === 'server-weight' && e.server === 'd2' && e.reason === 'discovery'));
  pool.end(d1, 1, false);
  assert.ok(f.logger.lines.some((line) => line.message === 'discovery: pool servers changed'));
});

test('a reload keeps unchanged sources running and applies new static servers at once', async (t) => {
  const f = fixture(t);
  const dns = await TestDnsServer.start();
  t.after(() => dns.close());
  dns.set('web.example.com', 'A', 3600, ['127.0.0.21']);
  const a = dnsDiscovery({ name: 'web.example.com', recordType: 'A', port: 5000, resolver: `127.0.0.1:${dns.port}`, interval: '1h', minInterval: '1s' });
  const config = poolConfig([a]);
  const pool = f.pool(config);
  const binding = f.bind(pool, config);
  await until(pool, '127.0.0.21_5000:5000/1 static-1:3001/1', 'the A record to be found');
  const queries = dns.queries.length;

  // Same discovery, other static servers: no new DNS query, the new list applies at once.
  const reloaded = poolConfig([a], { servers: [{ name: 'static-2', address: '127.0.0.1:3002' }] });
  pool.config = reloaded;
  binding.attach(pool, reloaded);
  assert.equal(members(pool), '127.0.0.21_5000:5000/1 static-2:3002/1');
  assert.equal(dns.queries.length, queries, 'the unchanged source was not restarted');

  // A changed source: its old servers leave, the new one's join when found.
  dns.set('api.example.com', 'A', 3600, ['127.0.0.22']);
  const changed = poolConfig([{ ...a, name: 'api.example.com' }], { servers: [{ name: 'static-2', address: '127.0.0.1:3002' }] });
  binding.attach(pool, changed);
  await until(pool, '127.0.0.22_5000:5000/1 static-2:3002/1', 'the new source to be followed');
  assert.equal(binding.status().sources.length, 1);
  assert.equal(binding.status().sources[0]?.target, 'A api.example.com');
});

test('a pool rebuilt by a reload gets the discovered servers and adopts their state', async (t) => {
  const f = fixture(t);
  const path = f.write('servers.json', ['[{ "address": "127.0.0.1:4001" }]']);
  const config = poolConfig([fileDiscovery({ path })]);
  const pool = f.pool(config);
  const binding = f.bind(pool, config);
  await until(pool, '127.0.0.1_4001:4001/1 static-1:3001/1', 'the file server to join');
  const discovered = pool.get('127.0.0.1_4001');
  assert.ok(discovered !== undefined);
  pool.begin(discovered);
  pool.end(discovered, 3, false);

  // The policy changed (algorithm): the runtime builds a new pool, attaches discovery, then adopts.
  const rebuiltConfig = poolConfig(config.discovery, { algorithm: 'least-connections' });
  const rebuilt = f.pool(rebuiltConfig);
  binding.attach(rebuilt, rebuiltConfig);
  rebuilt.adopt(pool);
  assert.equal(members(rebuilt), '127.0.0.1_4001:4001/1 static-1:3001/1');
  assert.equal(rebuilt.get('127.0.0.1_4001')?.counters.requests, 1, 'counters adopted from the old pool');
  assert.equal(members(pool), '', 'the old pool retired everything');

  f.write('servers.json', ['[{ "address": "127.0.0.1:4002" }]']);
  await until(rebuilt, '127.0.0.1_4002:4002/1 static-1:3001/1', 'the rebuilt pool to follow the file');
});

test('entries that clash with static servers are left out and shown in status', async (t) => {
  const f = fixture(t);
  const path = f.write('servers.yaml', ['- { name: static-1, address: 127.0.0.1:4009 }', '- { name: other, address: 127.0.0.1:3001 }', '- { name: ok, address: 127.0.0.1:4010, backup: true }']);
  const config = poolConfig([fileDiscovery({ path })]);
  const pool = f.pool(config);
  const binding = f.bind(pool, config);
  await until(pool, 'ok:4010/1/backup static-1:3001/1', 'the non-clashing server to join');
  assert.deepEqual(binding.status().conflicts, [
    'server "static-1" has a name already in use for another address',
    'server "other" has the address of "static-1"',
  ]);
  assert.ok(f.logger.warnings().some((line) => line.includes('servers left out')));
});
