/**
 * The stub resolver against a real DNS server on 127.0.0.1: UDP, TCP after
 * truncation, failover between resolvers, and responses that must be ignored.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import dnsPacket from 'dns-packet';
import { DnsResolver, queryServer, RCODE } from '../../src/discovery/dns-client.js';
import { TestDnsServer } from './dns-test-server.js';

async function dnsServer(t: { after(fn: () => Promise<void>): void }): Promise<TestDnsServer> {
  const server = await TestDnsServer.start();
  t.after(() => server.close());
  return server;
}

/** A UDP port with nothing listening (bound, then released). */
async function closedPort(): Promise<number> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  const port = (socket.address() as AddressInfo).port;
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

test('an A query over UDP returns the records with their TTL', async (t) => {
  const server = await dnsServer(t);
  server.set('api.example.com', 'A', 42, ['127.0.0.11', '127.0.0.12']);
  const response = await queryServer({ host: '127.0.0.1', port: server.port }, 'API.example.com', 'A', { timeout: 2000 });
  assert.equal(response.rcode, RCODE.NOERROR);
  assert.equal(response.transport, 'udp');
  assert.deepEqual(
    response.answers.map((answer) => (answer.type === 'A' ? [answer.data, answer.ttl] : [])),
    [
      ['127.0.0.11', 42],
      ['127.0.0.12', 42],
    ],
  );
});

test('a truncated UDP answer is asked again over TCP', async (t) => {
  const server = await dnsServer(t);
  server.truncateUdp = true;
  server.set('_api._tcp.example.com', 'SRV', 30, [{ priority: 0, weight: 1, port: 8080, target: 'a.example.com' }]);
  const response = await queryServer({ host: '127.0.0.1', port: server.port }, '_api._tcp.example.com', 'SRV', { timeout: 2000 });
  assert.equal(response.transport, 'tcp');
  assert.equal(response.answers.length, 1);
  assert.deepEqual(server.queries.map((query) => query.transport), ['udp', 'tcp']);
});

test('NXDOMAIN is an answer, not a failure', async (t) => {
  const server = await dnsServer(t);
  const resolver = new DnsResolver([{ host: '127.0.0.1', port: server.port }], { timeout: 2000 });
  const response = await resolver.query('missing.example.com', 'A');
  assert.equal(response.rcode, RCODE.NXDOMAIN);
  assert.equal(response.authorities[0]?.type, 'SOA');
});

test('a silent or failing resolver is skipped for the next one', async (t) => {
  const silent = await dnsServer(t);
  silent.mode = 'silent';
  const failing = await dnsServer(t);
  failing.mode = 'servfail';
  const good = await dnsServer(t);
  good.set('api.example.com', 'A', 5, ['127.0.0.21']);
  const resolver = new DnsResolver(
    [silent, failing, good].map((server) => ({ host: '127.0.0.1', port: server.port })),
    { timeout: 1000 },
  );
  const response = await resolver.query('api.example.com', 'A');
  assert.equal(response.server.port, good.port);
  assert.equal(silent.queries.length, 1);
  assert.equal(failing.queries.length, 1);
});

test('when every resolver fails the error names each problem', async (t) => {
  const failing = await dnsServer(t);
  failing.mode = 'refused';
  const port = await closedPort();
  const resolver = new DnsResolver(
    [
      { host: '127.0.0.1', port: failing.port },
      { host: '127.0.0.1', port },
    ],
    { timeout: 10_000, attempts: 2 },
  );
  const started = Date.now();
  await assert.rejects(resolver.query('api.example.com', 'A'), (error: Error) => {
    assert.match(error.message, new RegExp(`A api.example.com @127.0.0.1:${failing.port}: REFUSED`));
    assert.match(error.message, new RegExp(`@127.0.0.1:${port} \\(udp\\): .*ECONNREFUSED`));
    return true;
  });
  // A closed port is refused at once; nothing waited for the 10 s timeout.
  assert.ok(Date.now() - started < 8000, 'refused without waiting for the timeout');
  assert.equal(failing.queries.length, 2, 'two passes over the list');
});

test('responses with another ID or question are ignored', async (t) => {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  t.after(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  socket.on('message', (message, rinfo) => {
    const query = dnsPacket.decode(message);
    const question = query.questions?.[0];
    if (question === undefined) return;
    const reply = (id: number, name: string, address: string): void => {
      const packet = dnsPacket.encode({
        type: 'response',
        id,
        flags: 1 << 10,
        questions: [{ ...question, name }],
        answers: [{ type: 'A', name, ttl: 5, data: address }],
      });
      socket.send(packet, rinfo.port, rinfo.address);
    };
    reply(((query.id ?? 0) + 1) % 65536, question.name, '192.0.2.66');
    reply(query.id ?? 0, 'other.example.com', '192.0.2.67');
    setTimeout(() => reply(query.id ?? 0, question.name, '127.0.0.31'), 20);
  });
  const port = (socket.address() as AddressInfo).port;
  const response = await queryServer({ host: '127.0.0.1', port }, 'api.example.com', 'A', { timeout: 3000 });
  assert.deepEqual(response.answers.map((answer) => (answer.type === 'A' ? answer.data : '')), ['127.0.0.31']);
});

test('an aborted query rejects at once', async (t) => {
  const server = await dnsServer(t);
  server.mode = 'silent';
  const controller = new AbortController();
  const pending = queryServer({ host: '127.0.0.1', port: server.port }, 'api.example.com', 'A', { timeout: 30_000, signal: controller.signal });
  setTimeout(() => controller.abort(), 50);
  await assert.rejects(pending, /aborted/);
});
