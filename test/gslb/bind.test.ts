/**
 * Dynamic updates against a real BIND 9 primary started by the test.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { GslbNode } from '../../src/gslb/index.js';
import { startNamed } from '../helpers/named.js';
import { digShort, freeUdpPort, gslbConfig, requireProgram, tempDir, waitFor, wwwFailover } from './helpers.js';

const SECRET = Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 0xff)).toString('base64');

function startExampleZone(t: TestContext): ReturnType<typeof startNamed> {
  return startNamed(t, tempDir(t), { records: ['www IN A 192.0.2.1'], secret: SECRET });
}

test('after failover BIND serves the backup address; the sender is the first healthy target', async (t) => {
  requireProgram('dig', 'dnsutils');
  const named = await startExampleZone(t);
  const dynamicUpdate = {
    server: { host: '127.0.0.1', port: named.port },
    zone: 'example.com',
    tsig: { name: named.keyName, algorithm: 'hmac-sha256' as const, secret: named.secret },
  };
  const [euPort, usPort] = [await freeUdpPort(), await freeUdpPort()];
  const options = { updateRetryMin: 200, updateRetryMax: 1000 };
  const eu = new GslbNode(
    gslbConfig({ site: 'eu', heartbeatPort: euPort, peers: [{ site: 'us', port: usPort }], records: [wwwFailover()], dynamicUpdate }),
    { localReady: () => true },
    options,
  );
  const us = new GslbNode(
    gslbConfig({ site: 'us', heartbeatPort: usPort, peers: [{ site: 'eu', port: euPort }], records: [wwwFailover()], dynamicUpdate }),
    { localReady: () => true },
    options,
  );
  t.after(() => Promise.all([eu.close(), us.close()]));
  await Promise.all([eu.start(), us.start()]);

  // At start-up the sender (eu, first healthy target) writes the current answer once.
  await waitFor(async () => ((await digShort(named.port, 'www.example.com')).join() === '127.0.0.10' ? true : undefined), 10_000, 'BIND to show eu');
  assert.equal(eu.status().records[0]?.updateSender, 'eu');
  assert.equal(us.status().records[0]?.updateSender, 'eu');
  assert.equal(eu.status().dynamicUpdate?.state, 'ok');
  assert.equal(us.status().dynamicUpdate?.updatesSent, 0, 'us is not the sender');

  // eu dies: us detects it, becomes the sender, and writes its own address.
  await eu.close();
  await waitFor(async () => ((await digShort(named.port, 'www.example.com')).join() === '127.0.0.20' ? true : undefined), 10_000, 'BIND to show us');
  const status = us.status();
  assert.equal(status.records[0]?.updateSender, 'us');
  assert.equal(status.dynamicUpdate?.state, 'ok');
  assert.deepEqual(status.dynamicUpdate?.records, ['www.example.com A']);
  assert.equal(status.dynamicUpdate?.lastError, null);
});

test('a wrong TSIG key is refused by BIND and reported in status, and retried', async (t) => {
  requireProgram('dig', 'dnsutils');
  const named = await startExampleZone(t);
  const port = await freeUdpPort();
  const warnings: string[] = [];
  const node = new GslbNode(
    gslbConfig({
      site: 'eu',
      heartbeatPort: port,
      peers: [],
      records: [{ name: 'www', type: 'A', policy: 'failover', targets: [{ site: 'eu', address: '127.0.0.10', weight: 1 }] }],
      dynamicUpdate: {
        server: { host: '127.0.0.1', port: named.port },
        zone: 'example.com',
        tsig: { name: named.keyName, algorithm: 'hmac-sha256', secret: Buffer.alloc(32, 9).toString('base64') },
      },
    }),
    { localReady: () => true, logger: { info: () => undefined, warn: (message) => warnings.push(message), error: (message) => warnings.push(message) } },
    { updateRetryMin: 200, updateRetryMax: 400 },
  );
  t.after(() => node.close());
  await node.start();

  const status = await waitFor(() => {
    const update = node.status().dynamicUpdate;
    return update !== null && update.failures >= 2 ? update : undefined;
  }, 10_000, 'the update to fail twice');
  assert.match(status.lastError?.message ?? '', /NOTAUTH \(TSIG BADSIG\)/);
  assert.equal(status.updatesSent, 0);
  assert.ok(warnings.some((line) => line.includes('NOTAUTH')), 'logged');
  assert.deepEqual(await digShort(named.port, 'www.example.com'), ['192.0.2.1'], 'the zone is unchanged');
  await waitFor(() => (named.log().includes('BADSIG') ? true : undefined), 5000, 'BIND to log the bad signature');
});
