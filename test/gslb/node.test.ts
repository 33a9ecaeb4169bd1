/**
 * GslbNode in-process: forged and replayed heartbeats, manual failback,
 * status and events, config validation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import type { BallastEvent } from '../../src/core/events.js';
import { isBallastError } from '../../src/core/errors.js';
import { encodeHeartbeat } from '../../src/gslb/heartbeat.js';
import { GslbNode, validateGslbConfig } from '../../src/gslb/index.js';
import { freeUdpPort, gslbConfig, HeartbeatRelay, queryA, SECRET, sleep, waitFor, wwwFailover } from './helpers.js';

interface Pair {
  eu: GslbNode;
  us: GslbNode;
  relay: HeartbeatRelay;
  ports: Map<string, number>;
  ready: { eu: boolean; us: boolean };
  events: { eu: BallastEvent[]; us: BallastEvent[] };
}

async function startPair(t: { after(fn: () => Promise<void>): void }, failback: 'auto' | 'manual', failbackDelay: number): Promise<Pair> {
  const ports = new Map([
    ['eu', await freeUdpPort()],
    ['us', await freeUdpPort()],
  ]);
  const relay = await HeartbeatRelay.start(ports);
  const ready = { eu: true, us: true };
  const events = { eu: [] as BallastEvent[], us: [] as BallastEvent[] };
  const make = (site: 'eu' | 'us'): GslbNode =>
    new GslbNode(
      gslbConfig({ site, heartbeatPort: ports.get(site) ?? 0, peers: relay.peersOf(site), records: [wwwFailover()], failback, failbackDelay }),
      { localReady: () => ready[site], onEvent: (event) => events[site].push(event) },
    );
  const eu = make('eu');
  const us = make('us');
  t.after(async () => {
    await Promise.all([eu.close(), us.close()]);
    await relay.close();
  });
  await Promise.all([eu.start(), us.start()]);
  return { eu, us, relay, ports, ready, events };
}

const stateAt = (node: GslbNode, site: string) => node.status().sites.find((entry) => entry.site === site)?.state;

test('forged, replayed and unknown-sender heartbeats are ignored', async (t) => {
  const pair = await startPair(t, 'auto', 500);
  const { eu, us, relay, ports } = pair;
  await waitFor(() => (stateAt(us, 'eu') === 'active' ? true : undefined), 5000, 'eu active');

  // Capture a genuine heartbeat of eu saying "no healthy servers"...
  pair.ready.eu = false;
  await waitFor(() => (stateAt(us, 'eu') === 'down' ? true : undefined), 5000, 'eu down at us');
  const notReady = relay.captured.get('eu>us')?.at(-1);
  assert.ok(notReady, 'captured a heartbeat');
  // ...then let eu recover fully.
  pair.ready.eu = true;
  await waitFor(() => (stateAt(us, 'eu') === 'active' ? true : undefined), 5000, 'eu active again');
  const before = us.status().heartbeat.counters;
  const eventsBefore = pair.events.us.length;

  const attacker = dgram.createSocket('udp4');
  t.after(async () => new Promise<void>((resolve) => attacker.close(() => resolve())));
  const send = (packet: Buffer): Promise<void> =>
    new Promise((resolve) => attacker.send(packet, ports.get('us') ?? 0, '127.0.0.1', () => resolve()));
  const forged = {
    site: 'eu',
    ready: false,
    witness: false,
    incarnation: Date.now() + 60_000,
    sequence: 1,
    timestamp: Date.now(),
    view: [],
  };
  for (let i = 0; i < 10; i++) {
    await send(notReady); // replay of a genuine packet
    await send(encodeHeartbeat({ ...forged, sequence: i }, 'not-the-shared-secret')); // wrong secret
    await send(encodeHeartbeat({ ...forged, site: 'mallory', sequence: i }, SECRET)); // unknown sender
    await sleep(100);
  }
  const after = us.status().heartbeat.counters;
  assert.equal(after.rejected.replay - before.rejected.replay, 10);
  assert.equal(after.rejected['bad-mac'] - before.rejected['bad-mac'], 10);
  assert.equal(after.rejected['unknown-site'] - before.rejected['unknown-site'], 10);
  assert.equal(stateAt(us, 'eu'), 'active', 'nothing changed');
  assert.deepEqual(pair.events.us.slice(eventsBefore), []);
  assert.deepEqual(await queryA(us.dnsPort ?? 0, 'www.example.com'), ['127.0.0.10']);
  assert.equal(stateAt(eu, 'eu'), 'active');
});

test('manual failback holds a recovered site until an operator grants it, at every site', async (t) => {
  const pair = await startPair(t, 'manual', 300);
  const { eu, us } = pair;
  await waitFor(() => (stateAt(us, 'eu') === 'active' ? true : undefined), 5000, 'eu active');
  pair.ready.eu = false;
  await waitFor(() => (stateAt(us, 'eu') === 'down' ? true : undefined), 5000, 'eu down');
  pair.ready.eu = true;
  await waitFor(() => (stateAt(us, 'eu') === 'recovering' && stateAt(eu, 'eu') === 'recovering' ? true : undefined), 5000, 'eu recovering');
  await sleep(1500);
  const waiting = us.status().sites.find((site) => site.site === 'eu');
  assert.equal(waiting?.state, 'recovering');
  assert.equal(waiting?.awaitingFailback, true);
  assert.equal(waiting?.failbackAt, null);
  assert.deepEqual(await queryA(eu.dnsPort ?? 0, 'www.example.com'), ['127.0.0.20']);

  assert.throws(
    () => us.failback('us'),
    (error: unknown) => isBallastError(error) && error.status === 409,
  );
  assert.throws(
    () => us.failback('nowhere'),
    (error: unknown) => isBallastError(error) && error.status === 404,
  );
  const granted = us.failback('eu');
  assert.equal(granted.state, 'active');
  assert.equal(granted.reason, 'admin');
  // The grant travels in heartbeats: eu follows within an interval or two.
  await waitFor(() => (stateAt(eu, 'eu') === 'active' ? true : undefined), 2000, 'eu to learn the grant');
  await waitFor(async () => ((await queryA(eu.dnsPort ?? 0, 'www.example.com'))?.join() === '127.0.0.10' ? true : undefined), 2000, 'eu answers');
  const up = pair.events.eu.find((event) => event.type === 'site-up' && event.site === 'eu' && event.reason === 'admin');
  assert.equal(up?.detail?.['state'], 'active');
});

test('status reports sites, records, DNS and heartbeats; events carry type, site and reason', async (t) => {
  const pair = await startPair(t, 'auto', 400);
  const { us } = pair;
  await waitFor(() => (stateAt(us, 'eu') === 'active' ? true : undefined), 5000, 'eu active');
  await sleep(600);
  const status = us.status();
  assert.equal(status.site, 'us');
  assert.equal(status.failback, 'auto');
  assert.equal(status.failbackDelayMs, 400);
  assert.equal(status.heartbeat.intervalMs, 250);
  assert.ok(status.heartbeat.counters.sent > 0 && status.heartbeat.counters.accepted > 0);
  assert.deepEqual(status.quorum, { sites: 2, needed: 1, reachable: 2, has: true });
  const eu = status.sites.find((site) => site.site === 'eu');
  assert.ok(eu);
  assert.equal(eu.self, false);
  assert.equal(eu.reachable, true);
  assert.equal(eu.ready, true);
  assert.ok(eu.lastHeartbeat !== null && Math.abs(eu.lastHeartbeat - Date.now()) < 2000);
  assert.ok(eu.phi !== null && eu.phi < 8);
  assert.ok(eu.detectionTimeMs !== null && eu.detectionTimeMs > 800 && eu.detectionTimeMs < 1600);
  assert.deepEqual(status.records, [
    {
      name: 'www.example.com',
      type: 'A',
      policy: 'failover',
      answer: ['127.0.0.10'],
      weights: null,
      allTargetsDown: false,
      note: null,
      updateSender: 'eu',
    },
  ]);
  assert.equal(status.dns?.zone, 'example.com');
  assert.ok((status.dns?.serial ?? 0) > 1_700_000_000);
  assert.equal(status.dynamicUpdate, null);

  const serialBefore = status.dns?.serial ?? 0;
  pair.ready.eu = false;
  await waitFor(() => pair.events.us.find((event) => event.type === 'dns-changed'), 5000, 'a dns-changed event');
  const down = pair.events.us.find((event) => event.type === 'site-down');
  assert.equal(down?.site, 'eu');
  assert.equal(down?.reason, 'no-healthy-servers');
  assert.equal(down?.detail?.['previous'], 'active');
  const changed = pair.events.us.find((event) => event.type === 'dns-changed');
  assert.deepEqual(changed?.detail, { record: 'www.example.com', type: 'A', answer: '127.0.0.20', previous: '127.0.0.10', allTargetsDown: false });
  assert.ok((us.status().dns?.serial ?? 0) > serialBefore, 'SOA serial bumped');
});

test('config validation rejects what the schema cannot see', async () => {
  const port = await freeUdpPort();
  const base = gslbConfig({ site: 'eu', heartbeatPort: port, peers: [{ site: 'us', port: port + 1 }], records: [wwwFailover()] });
  const dns = base.dns;
  assert.ok(dns);
  const invalid = [
    { ...base, peers: [...base.peers, { site: 'us', address: { host: '127.0.0.1', port: 1 } }] },
    { ...base, heartbeat: { ...base.heartbeat, secret: 'short' } },
    { ...base, dns: { ...dns, records: [{ ...wwwFailover(), targets: [{ site: 'ap', address: '127.0.0.1', weight: 1 }] }] } },
    { ...base, dns: { ...dns, records: [{ ...wwwFailover(), type: 'AAAA' as const }] } },
    { ...base, dns: { ...dns, records: [wwwFailover(), wwwFailover()] } },
    { ...base, dns: { ...dns, records: [wwwFailover(), { ...wwwFailover(), type: 'CNAME' as const, targets: [{ site: 'eu', address: 'a.example.net', weight: 1 }] }] } },
    { ...base, witness: true },
  ];
  for (const config of invalid) {
    assert.throws(() => validateGslbConfig(config), (error: unknown) => isBallastError(error) && error.code === 'BALLAST_ERR_CONFIG_INVALID');
  }
  assert.doesNotThrow(() => validateGslbConfig(base));
});
