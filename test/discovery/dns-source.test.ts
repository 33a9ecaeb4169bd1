/**
 * A DNS source over time, against a real DNS server on 127.0.0.1 whose
 * records, TTLs and availability the test changes while the source runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DnsSource } from '../../src/discovery/dns.js';
import { systemResolvers } from '../../src/discovery/dns.js';
import { TestDnsServer } from './dns-test-server.js';
import { dnsDiscovery, MemoryLogger, Reports, waitFor } from './helpers.js';

const SRV = '_api._tcp.example.com';
const TWO = ['127.0.0.11_8080@127.0.0.11:8080/1', '127.0.0.12_8080@127.0.0.12:8080/1'];

interface Fixture {
  readonly dns: TestDnsServer;
  readonly resolver: string;
  readonly logger: MemoryLogger;
  readonly reports: Reports;
  start(raw: Record<string, unknown>): DnsSource;
}

async function fixture(t: { after(fn: () => Promise<void>): void }): Promise<Fixture> {
  const dns = await TestDnsServer.start();
  const logger = new MemoryLogger();
  const reports = new Reports();
  const sources: DnsSource[] = [];
  t.after(async () => {
    await Promise.all(sources.map((source) => source.stop()));
    await dns.close();
  });
  const resolver = `127.0.0.1:${dns.port}`;
  return {
    dns,
    resolver,
    logger,
    reports,
    start(raw) {
      const source = new DnsSource(dnsDiscovery({ resolver, timeout: '1s', ...raw }), { pool: 'api', logger });
      sources.push(source);
      source.start(reports.listener);
      return source;
    },
  };
}

function twoTargets(dns: TestDnsServer, ttl = 60): void {
  dns.set(SRV, 'SRV', ttl, [
    { priority: 0, weight: 1, port: 8080, target: 'a.example.com' },
    { priority: 0, weight: 1, port: 8080, target: 'b.example.com' },
  ]);
  dns.set('a.example.com', 'A', ttl, ['127.0.0.11']);
  dns.set('b.example.com', 'A', ttl, ['127.0.0.12']);
}

test('SRV with two targets gives two servers, then follows record changes', async (t) => {
  const { dns, reports, start } = await fixture(t);
  twoTargets(dns);
  const source = start({ name: SRV, recordType: 'SRV', interval: '500ms', minInterval: '100ms' });
  await reports.until(TWO, 5000);
  assert.equal(source.status().state, 'ok');
  assert.equal(source.status().servers, 2);

  // A third target, a weight change and a removal, each picked up within the interval.
  dns.set(SRV, 'SRV', 60, [
    { priority: 0, weight: 1, port: 8080, target: 'a.example.com' },
    { priority: 0, weight: 1, port: 8080, target: 'b.example.com' },
    { priority: 0, weight: 1, port: 8080, target: 'c.example.com' },
  ]);
  dns.set('c.example.com', 'A', 60, ['127.0.0.13']);
  await reports.until([...TWO, '127.0.0.13_8080@127.0.0.13:8080/1'], 5000);
  dns.set(SRV, 'SRV', 60, [
    { priority: 0, weight: 9, port: 8080, target: 'a.example.com' },
    { priority: 0, weight: 1, port: 8080, target: 'c.example.com' },
  ]);
  await reports.until(['127.0.0.11_8080@127.0.0.11:8080/9', '127.0.0.13_8080@127.0.0.13:8080/1'], 5000);
  const count = reports.lists.length;
  assert.equal(count, 3, 'one report per change, none for unchanged answers');
  const lastChange = source.status().lastChange;
  assert.ok(lastChange !== null && lastChange <= Date.now());
});

test('a short TTL re-resolves sooner than the interval; a long one waits at most the interval', async (t) => {
  const { dns, start } = await fixture(t);
  twoTargets(dns, 1);
  const since = Date.now();
  start({ name: SRV, recordType: 'SRV', interval: '1m', minInterval: '200ms' });
  // TTL 1 s: the second query comes about a second after the first, long before the 1 minute interval.
  await waitFor(() => (dns.queriesFor(SRV, 'SRV', since).length >= 3 ? true : undefined), 15_000, 'three SRV queries');

  const capped = await fixture(t);
  twoTargets(capped.dns, 3600);
  const cappedSince = Date.now();
  capped.start({ name: SRV, recordType: 'SRV', interval: '300ms', minInterval: '100ms' });
  await waitFor(() => (capped.dns.queriesFor(SRV, 'SRV', cappedSince).length >= 3 ? true : undefined), 15_000, 'three SRV queries despite the 1 h TTL');
});

test('a TTL of 0 is not followed below minInterval', async (t) => {
  const { dns, start } = await fixture(t);
  twoTargets(dns, 0);
  const since = Date.now();
  // A generous query timeout: no retry of a slow answer may pass for a second resolution.
  start({ name: SRV, recordType: 'SRV', interval: '1m', minInterval: '1s', timeout: '5s' });
  await waitFor(() => (dns.queriesFor(SRV, 'SRV', since).length >= 2 ? true : undefined), 15_000, 'two SRV queries');
  const queries = dns.queriesFor(SRV, 'SRV', since);
  const [first, second] = queries;
  assert.ok(first !== undefined && second !== undefined);
  // The second query waited for minInterval (timer granularity allows a little less).
  assert.ok(second.at - first.at >= 900, `queries ${second.at - first.at} ms apart`);
});

test('with the resolver down the last servers stay; they follow again when it is back', async (t) => {
  const { dns, reports, logger, start } = await fixture(t);
  twoTargets(dns);
  const source = start({ name: SRV, recordType: 'SRV', interval: '400ms', minInterval: '100ms' });
  await reports.until(TWO, 5000);

  dns.mode = 'silent';
  await waitFor(() => (source.status().consecutiveFailures >= 2 ? true : undefined), 10_000, 'two failed resolutions');
  const status = source.status();
  assert.equal(status.state, 'failing');
  assert.equal(status.servers, 2);
  assert.match(status.lastError ?? '', /no answer within 1000 ms/);
  assert.equal(reports.lists.length, 1, 'failures report nothing');
  assert.ok(logger.warnings().some((line) => line.includes('resolution failed, keeping the last servers')));

  dns.mode = 'servfail';
  await waitFor(() => (/SERVFAIL/.test(source.status().lastError ?? '') ? true : undefined), 10_000, 'a SERVFAIL failure');
  assert.equal(reports.lists.length, 1);

  dns.set('b.example.com', 'A', 60, ['127.0.0.22']);
  dns.mode = 'answer';
  await reports.until(['127.0.0.11_8080@127.0.0.11:8080/1', '127.0.0.22_8080@127.0.0.22:8080/1'], 10_000);
  assert.equal(source.status().state, 'ok');
  assert.equal(source.status().lastError, null);
  assert.equal(source.status().consecutiveFailures, 0);
});

test('NXDOMAIN keeps the last servers; an SRV target of "." empties them', async (t) => {
  const { dns, reports, start } = await fixture(t);
  twoTargets(dns);
  const source = start({ name: SRV, recordType: 'SRV', interval: '300ms', minInterval: '100ms' });
  await reports.until(TWO, 5000);

  dns.remove(SRV);
  await waitFor(() => (source.status().lastError === 'NXDOMAIN: keeping the last 2 servers' ? true : undefined), 10_000, 'NXDOMAIN to be seen');
  assert.equal(source.status().state, 'failing');
  assert.equal(reports.lists.length, 1);

  dns.set(SRV, 'SRV', 60, [{ priority: 0, weight: 0, port: 0, target: '.' }]);
  await reports.until([], 10_000);
  assert.equal(source.status().state, 'ok');
  assert.equal(source.status().servers, 0);
});

test('A records on the configured port', async (t) => {
  const { dns, reports, start } = await fixture(t);
  dns.set('web.example.com', 'A', 60, ['127.0.0.31', '127.0.0.32']);
  start({ name: 'web.example.com', recordType: 'A', port: 3000, weight: 2, interval: '300ms', minInterval: '100ms' });
  await reports.until(['127.0.0.31_3000@127.0.0.31:3000/2', '127.0.0.32_3000@127.0.0.32:3000/2'], 5000);
  dns.set('web.example.com', 'A', 60, ['127.0.0.32']);
  await reports.until(['127.0.0.32_3000@127.0.0.32:3000/2'], 5000);
});

test('the first attempt ends even when it fails, and stop ends all activity', async (t) => {
  const { dns, reports, start } = await fixture(t);
  dns.mode = 'refused';
  const source = start({ name: SRV, recordType: 'SRV', interval: '200ms', minInterval: '100ms' });
  await source.firstAttempt();
  assert.equal(source.status().state, 'failing');
  assert.equal(reports.lists.length, 0);
  await source.stop();
  const count = dns.queries.length;
  await new Promise((resolve) => setTimeout(resolve, 600));
  assert.equal(dns.queries.length, count, 'no query after stop');
});

test('without a configured resolver the system resolvers are used', async (t) => {
  const dns = await TestDnsServer.start();
  t.after(() => dns.close());
  dns.set('web.example.com', 'A', 60, ['127.0.0.51']);
  const config = dnsDiscovery({ name: 'web.example.com', recordType: 'A', port: 80 });
  assert.deepEqual(config.resolvers, []);
  const source = new DnsSource(config, { pool: 'web', systemResolvers: () => [{ host: '127.0.0.1', port: dns.port }] });
  t.after(() => source.stop());
  const reports = new Reports();
  source.start(reports.listener);
  await reports.until(['127.0.0.51_80@127.0.0.51:80/1'], 5000);
  // What the system offers is parsed into addresses (127.0.0.1:53 when it names none).
  for (const resolver of systemResolvers()) assert.ok(resolver.port > 0 && resolver.host.length > 0);
});
