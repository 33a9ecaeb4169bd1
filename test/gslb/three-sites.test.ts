/**
 * Three sites (eu, us and a witness) whose heartbeats all pass through a UDP
 * relay the test controls.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BallastEvent } from '../../src/core/events.js';
import { GslbNode } from '../../src/gslb/index.js';
import { digShort, freeUdpPort, gslbConfig, HeartbeatRelay, queryA, requireProgram, sleep, waitFor, wwwFailover } from './helpers.js';

const EU = '127.0.0.10';
const US = '127.0.0.20';

test('one-way cuts move nothing; a site cut off from both others is declared down by the majority; one switch each way', async (t) => {
  requireProgram('dig', 'dnsutils');
  const names = ['eu', 'us', 'witness'] as const;
  const realPorts = new Map<string, number>();
  for (const name of names) realPorts.set(name, await freeUdpPort());
  const relay = await HeartbeatRelay.start(realPorts);
  const events = new Map<string, BallastEvent[]>(names.map((name) => [name, []]));
  const nodes = new Map<string, GslbNode>();
  for (const name of names) {
    const config = gslbConfig({
      site: name,
      heartbeatPort: realPorts.get(name) ?? 0,
      peers: relay.peersOf(name),
      witness: name === 'witness',
      failbackDelay: 2000,
      ...(name === 'witness' ? {} : { records: [wwwFailover()] }),
    });
    nodes.set(name, new GslbNode(config, { localReady: () => true, onEvent: (event) => events.get(name)?.push(event) }));
  }
  t.after(async () => {
    await Promise.all([...nodes.values()].map((node) => node.close()));
    await relay.close();
  });
  await Promise.all([...nodes.values()].map((node) => node.start()));
  const eu = nodes.get('eu') as GslbNode;
  const us = nodes.get('us') as GslbNode;
  const witness = nodes.get('witness') as GslbNode;
  const answer = async (node: GslbNode): Promise<string | undefined> => (await queryA(node.dnsPort ?? 0, 'www.example.com'))?.join();

  await waitFor(async () => ((await answer(eu)) === EU && (await answer(us)) === EU ? true : undefined), 5000, 'both to answer eu');
  assert.equal(witness.status().sites.find((site) => site.site === 'witness')?.witness, true);
  assert.equal(eu.status().sites.find((site) => site.site === 'witness')?.witness, true);
  assert.deepEqual(eu.status().quorum, { sites: 3, needed: 2, reachable: 3, has: true });

  // One direction of one link at a time, each held well past the detection time.
  const settledAt = Date.now();
  for (const [from, to] of [['eu', 'us'], ['us', 'eu'], ['eu', 'witness']] as const) {
    relay.cut(from, to);
    await sleep(2500);
    assert.equal(await answer(eu), EU, `eu during ${from}>${to} cut`);
    assert.equal(await answer(us), EU, `us during ${from}>${to} cut`);
    for (const node of nodes.values()) assert.ok(node.status().sites.every((site) => site.state === 'active'), `all active during ${from}>${to} cut`);
    relay.restore(from, to);
  }
  await sleep(500);
  for (const [name, list] of events) {
    assert.deepEqual(list.filter((event) => event.time >= settledAt), [], `${name}: no change from one-way cuts`);
  }

  // eu cut off from both others.
  const cutAt = Date.now();
  relay.isolate('eu', true);
  await waitFor(async () => ((await answer(us)) === US ? true : undefined), 5000, 'us to answer us');
  assert.ok(Date.now() - cutAt < 3000);
  assert.equal(us.status().sites.find((site) => site.site === 'eu')?.state, 'down');
  assert.equal(witness.status().sites.find((site) => site.site === 'eu')?.state, 'down');
  // The isolated site knows it lacks a majority and steps down rather than stay primary.
  await waitFor(async () => ((await answer(eu)) === US ? true : undefined), 5000, 'the isolated eu to step down');
  const euStatus = eu.status();
  assert.equal(euStatus.quorum.has, false);
  assert.equal(euStatus.sites.find((site) => site.site === 'eu')?.reason, 'isolated');
  assert.deepEqual(await digShort(us.dnsPort ?? 0, 'www.example.com'), [US]);

  const healedAt = Date.now();
  relay.isolate('eu', false);
  await waitFor(async () => ((await answer(us)) === EU && (await answer(eu)) === EU ? true : undefined), 8000, 'failback to eu');
  assert.ok(Date.now() - healedAt >= 2000, 'failback waited for the delay');
  for (const name of ['eu', 'us']) {
    const switches = (events.get(name) ?? []).filter((event) => event.type === 'dns-changed').map((event) => event.detail?.['answer']);
    assert.deepEqual(switches, [US, EU], `${name}: exactly one switch away and one back`);
  }
});
