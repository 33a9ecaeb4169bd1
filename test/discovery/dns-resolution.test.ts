/**
 * One resolution of a DNS source: records → servers, TTLs, CNAMEs and the
 * kinds of empty answers, against a real DNS server on 127.0.0.1.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DnsResolver } from '../../src/discovery/dns-client.js';
import { lookup, refreshDelay, resolveServers, retryDelay } from '../../src/discovery/dns.js';
import { TestDnsServer } from './dns-test-server.js';
import { brief, dnsDiscovery } from './helpers.js';

const SRV = '_api._tcp.example.com';

async function setup(t: { after(fn: () => Promise<void>): void }): Promise<{ server: TestDnsServer; resolver: DnsResolver; resolverAddress: string }> {
  const server = await TestDnsServer.start();
  t.after(() => server.close());
  return {
    server,
    resolver: new DnsResolver([{ host: '127.0.0.1', port: server.port }], { timeout: 2000 }),
    resolverAddress: `127.0.0.1:${server.port}`,
  };
}

describe('SRV resolution', () => {
  test('two targets with addresses in the additional section: two servers, no further queries', async (t) => {
    const { server, resolver } = await setup(t);
    server.set(SRV, 'SRV', 30, [
      { priority: 10, weight: 5, port: 8080, target: 'a.example.com' },
      { priority: 10, weight: 0, port: 8081, target: 'b.example.com' },
    ]);
    server.set('a.example.com', 'A', 20, ['127.0.0.11']);
    server.set('b.example.com', 'A', 40, ['127.0.0.12']);
    const result = await resolveServers(dnsDiscovery({ name: SRV, recordType: 'SRV' }), resolver);
    assert.deepEqual(brief(result.servers), ['127.0.0.11_8080@127.0.0.11:8080/5', '127.0.0.12_8081@127.0.0.12:8081/1']);
    assert.equal(result.ttl, 20, 'the least TTL of the SRV and address records');
    assert.equal(result.empty, undefined);
    assert.deepEqual(server.queries.map((query) => query.type), ['SRV']);
  });

  test('without additional addresses the targets are looked up; higher priorities are backups', async (t) => {
    const { server, resolver } = await setup(t);
    server.glue = false;
    server.set(SRV, 'SRV', 30, [
      { priority: 1, weight: 10, port: 9000, target: 'a.example.com' },
      { priority: 2, weight: 10, port: 9000, target: 'b.example.com' },
      { priority: 3, weight: 10, port: 9001, target: 'a.example.com' },
    ]);
    server.set('a.example.com', 'A', 8, ['127.0.0.11', '127.0.0.13']);
    server.set('b.example.com', 'A', 30, ['127.0.0.12']);
    const result = await resolveServers(dnsDiscovery({ name: SRV, recordType: 'SRV' }), resolver);
    assert.deepEqual(brief(result.servers), [
      '127.0.0.11_9000@127.0.0.11:9000/10',
      '127.0.0.11_9001@127.0.0.11:9001/10/backup',
      '127.0.0.12_9000@127.0.0.12:9000/10/backup',
      '127.0.0.13_9000@127.0.0.13:9000/10',
      '127.0.0.13_9001@127.0.0.13:9001/10/backup',
    ]);
    assert.equal(result.ttl, 8);
    assert.deepEqual(server.queries.map((query) => `${query.type} ${query.name}`).sort(), ['A a.example.com', 'A b.example.com', `SRV ${SRV}`]);
  });

  test('one address in two records keeps the most preferred record', async (t) => {
    const { server, resolver } = await setup(t);
    server.set(SRV, 'SRV', 30, [
      { priority: 5, weight: 1, port: 8080, target: 'b.example.com' },
      { priority: 1, weight: 7, port: 8080, target: 'a.example.com' },
    ]);
    server.set('a.example.com', 'A', 30, ['127.0.0.11']);
    server.set('b.example.com', 'A', 30, ['127.0.0.11']);
    const result = await resolveServers(dnsDiscovery({ name: SRV, recordType: 'SRV' }), resolver);
    assert.deepEqual(brief(result.servers), ['127.0.0.11_8080@127.0.0.11:8080/7']);
  });

  test('family both uses A and AAAA; ipv6 uses AAAA only', async (t) => {
    const { server, resolver } = await setup(t);
    server.set(SRV, 'SRV', 30, [{ priority: 0, weight: 1, port: 8080, target: 'a.example.com' }]);
    server.set('a.example.com', 'A', 30, ['127.0.0.11']);
    server.set('a.example.com', 'AAAA', 30, ['::1']);
    const both = await resolveServers(dnsDiscovery({ name: SRV, recordType: 'SRV', family: 'both' }), resolver);
    assert.deepEqual(brief(both.servers), ['0--1_8080@::1:8080/1', '127.0.0.11_8080@127.0.0.11:8080/1']);
    const v6 = await resolveServers(dnsDiscovery({ name: SRV, recordType: 'SRV', family: 'ipv6', backup: true }), resolver);
    assert.deepEqual(brief(v6.servers), ['0--1_8080@::1:8080/1/backup']);
  });

  test('a target of "." means the service is not available here', async (t) => {
    const { server, resolver } = await setup(t);
    server.set(SRV, 'SRV', 30, [{ priority: 0, weight: 0, port: 0, target: '.' }]);
    const result = await resolveServers(dnsDiscovery({ name: SRV, recordType: 'SRV' }), resolver);
    assert.deepEqual(result.servers, []);
    assert.equal(result.empty, 'declined');
  });

  test('targets without addresses are noted; with none left the answer is empty', async (t) => {
    const { server, resolver } = await setup(t);
    server.set(SRV, 'SRV', 30, [
      { priority: 0, weight: 1, port: 8080, target: 'a.example.com' },
      { priority: 0, weight: 1, port: 8080, target: 'gone.example.com' },
    ]);
    server.set('a.example.com', 'A', 30, ['127.0.0.11']);
    const partial = await resolveServers(dnsDiscovery({ name: SRV, recordType: 'SRV' }), resolver);
    assert.deepEqual(brief(partial.servers), ['127.0.0.11_8080@127.0.0.11:8080/1']);
    assert.deepEqual(partial.notes, ['SRV target gone.example.com has no A record']);
    assert.equal(partial.ttl, 2, 'the negative TTL of the missing target counts');
    server.remove('a.example.com');
    const none = await resolveServers(dnsDiscovery({ name: SRV, recordType: 'SRV' }), resolver);
    assert.equal(none.empty, 'no-address');
  });

  test('NXDOMAIN and NODATA give an empty answer with the negative TTL of the SOA', async (t) => {
    const { server, resolver } = await setup(t);
    const nx = await resolveServers(dnsDiscovery({ name: SRV, recordType: 'SRV' }), resolver);
    assert.deepEqual([nx.servers.length, nx.empty, nx.ttl], [0, 'NXDOMAIN', 2]);
    server.set(SRV, 'A', 30, ['127.0.0.1']);
    const nodata = await resolveServers(dnsDiscovery({ name: SRV, recordType: 'SRV' }), resolver);
    assert.deepEqual([nodata.servers.length, nodata.empty, nodata.ttl], [0, 'NODATA', 2]);
  });
});

describe('A and AAAA resolution', () => {
  test('each address on the configured port and weight', async (t) => {
    const { server, resolver } = await setup(t);
    server.set('api.example.com', 'A', 15, ['127.0.0.11', '127.0.0.12']);
    server.set('api.example.com', 'AAAA', 15, ['::1']);
    const a = await resolveServers(dnsDiscovery({ name: 'api.example.com', recordType: 'A', port: 8080, weight: 4 }), resolver);
    assert.deepEqual(brief(a.servers), ['127.0.0.11_8080@127.0.0.11:8080/4', '127.0.0.12_8080@127.0.0.12:8080/4']);
    assert.equal(a.ttl, 15);
    const aaaa = await resolveServers(dnsDiscovery({ name: 'api.example.com', recordType: 'AAAA', port: 8443 }), resolver);
    assert.deepEqual(brief(aaaa.servers), ['0--1_8443@::1:8443/1']);
  });

  test('CNAME chains are followed, inside one answer and across queries', async (t) => {
    const { server, resolver } = await setup(t);
    server.set('api.example.com', 'CNAME', 10, ['edge.example.com']);
    server.set('edge.example.com', 'CNAME', 50, ['lb.example.net']);
    server.set('lb.example.net', 'A', 30, ['127.0.0.41']);
    const result = await lookup(resolver, 'api.example.com', 'A');
    assert.equal(result.kind, 'records');
    assert.equal(result.ttl, 10, 'the least TTL along the chain');
    assert.deepEqual(server.queries.map((query) => `${query.type} ${query.name}`), ['A api.example.com', 'A lb.example.net']);
    const loop = await setup(t);
    loop.server.set('a.example.com', 'CNAME', 10, ['b.example.org']);
    loop.server.set('b.example.org', 'CNAME', 10, ['a.example.com']);
    await assert.rejects(lookup(loop.resolver, 'a.example.com', 'A'), /CNAME loop/);
  });
});

describe('schedule', () => {
  const config = { interval: 30_000, minInterval: 1000 };

  test('the TTL decides, within [minInterval, interval]', () => {
    assert.equal(refreshDelay(5, config), 5000);
    assert.equal(refreshDelay(0, config), 1000);
    assert.equal(refreshDelay(3600, config), 30_000);
    assert.equal(refreshDelay(undefined, config), 30_000);
  });

  test('failures back off from minInterval to interval', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6, 100].map((failures) => retryDelay(failures, config)), [1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
  });
});
