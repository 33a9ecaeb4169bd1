/**
 * Acceptance: requests through a Ballast listener follow the SRV records of
 * a pool as they change, across a reload, with a static server alongside.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startBallast } from '../helpers/ballast.js';
import { startBackend, type TestBackend } from '../helpers/http-backend.js';
import { TestDnsServer } from '../discovery/dns-test-server.js';
import { waitFor } from '../discovery/helpers.js';

const SRV = '_web._tcp.example.com';

/** The backends that answered `count` requests through `url`. */
async function answering(url: string, count: number): Promise<string> {
  const seen = new Set<string>();
  for (let i = 0; i < count; i++) {
    const response = await fetch(url);
    seen.add(response.status === 200 ? await response.text() : `status ${response.status}`);
  }
  return [...seen].sort().join(',');
}

test('requests follow the SRV records of a pool, across a reload', async (t) => {
  const backends: TestBackend[] = [];
  for (const name of ['static', 'a', 'b', 'c']) backends.push(await startBackend(name));
  t.after(() => Promise.all(backends.map((backend) => backend.close())));
  const [statik, a, b, c] = backends as [TestBackend, TestBackend, TestBackend, TestBackend];
  const dns = await TestDnsServer.start();
  t.after(() => dns.close());
  const srv = (targets: readonly TestBackend[]): void =>
    dns.set(SRV, 'SRV', 1, targets.map((backend) => ({ priority: 0, weight: 1, port: backend.port, target: `${backend.name}.example.com` })));
  for (const backend of [a, b, c]) dns.set(`${backend.name}.example.com`, 'A', 1, ['127.0.0.1']);
  srv([a, b]);

  const config = (algorithm: string): Record<string, unknown> => ({
    listeners: [{ name: 'web', protocol: 'http', listen: '127.0.0.1:0', routes: [{ pool: 'app' }] }],
    pools: [
      {
        name: 'app',
        algorithm,
        servers: [{ name: 'static', address: statik.address }],
        discovery: [{ type: 'dns', name: SRV, recordType: 'SRV', resolver: `127.0.0.1:${dns.port}`, interval: '1s', minInterval: '200ms', timeout: '1s' }],
      },
    ],
  });
  const ballast = await startBallast(config('round-robin'));
  t.after(() => ballast.close());
  const url = `${ballast.url()}/`;

  // Start-up waited for the first answer: the discovered servers serve from the first request.
  assert.equal(await answering(url, 9), 'a,b,static');
  const status = ballast.handle.status().pools[0];
  assert.equal(status?.discovery?.sources[0]?.state, 'ok');
  assert.deepEqual(status?.servers.map((server) => server.name).sort(), [`127.0.0.1_${a.port}`, `127.0.0.1_${b.port}`, 'static'].sort());

  srv([b, c]);
  await waitFor(async () => ((await answering(url, 9)) === 'b,c,static' ? true : undefined), 10_000, 'b, c and static to answer');

  // A reload that changes the policy rebuilds the pool; discovery keeps running and the servers stay.
  const queries = dns.queries.length;
  await ballast.handle.reload(config('least-connections'));
  assert.equal(await answering(url, 12), 'b,c,static');
  assert.ok(dns.queries.length - queries < 3, 'the unchanged source was not restarted');

  srv([c]);
  await waitFor(async () => ((await answering(url, 9)) === 'c,static' ? true : undefined), 10_000, 'c and static to answer');
});
