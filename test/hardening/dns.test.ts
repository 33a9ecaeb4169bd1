/**
 * The GSLB DNS server against hostile input over real UDP and TCP sockets:
 * malformed and truncated packets, compression-pointer loops, huge label
 * counts, ANY, names outside the zone, a flood from one address (response
 * rate limiting), and TCP clients that stall or connect in bulk. Every case
 * ends with a sane reply or silence, quickly, and the server keeps answering.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import dnsPacket from 'dns-packet';
import type { RecordType } from 'dns-packet';
import type { DnsRecordConfig } from '../../src/config/types.js';
import { systemClock } from '../../src/core/clock.js';
import { seededRandom } from '../../src/core/random.js';
import { computeAnswers } from '../../src/gslb/dns-answers.js';
import { DnsServer } from '../../src/gslb/dns-server.js';

const RCODE = { NOERROR: 0, FORMERR: 1, NXDOMAIN: 3, REFUSED: 5 } as const;

const RECORDS: DnsRecordConfig[] = [
  { name: 'www', type: 'A', policy: 'failover', targets: [{ site: 'eu', address: '127.0.0.10', weight: 1 }] },
  {
    name: 'many',
    type: 'A',
    policy: 'all-healthy',
    targets: Array.from({ length: 60 }, (_, i) => ({ site: 'eu', address: `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}`, weight: 1 })),
  },
];

/** A 12-byte DNS header. */
function header(id: number, qd: number, an = 0, ns = 0, ar = 0): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(0x0100, 2);
  h.writeUInt16BE(qd, 4);
  h.writeUInt16BE(an, 6);
  h.writeUInt16BE(ns, 8);
  h.writeUInt16BE(ar, 10);
  return h;
}

/** Wire-format name from labels (no compression). */
function wireName(labels: readonly string[]): Buffer {
  return Buffer.concat([...labels.map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label, 'latin1')])), Buffer.from([0])]);
}

const QTYPE_A_IN = Buffer.from([0, 1, 0, 1]);

function query(name: string, type: string, id = 1, edns = false): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: type as RecordType, name }],
    additionals: edns ? [{ type: 'OPT', name: '.', udpPayloadSize: 4096, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }] : [],
  });
}

const rcodeOf = (reply: Buffer): number => reply.readUInt16BE(2) & 0xf;

describe('GSLB DNS under hostile input', () => {
  let server: DnsServer;
  let port: number;
  let client: dgram.Socket;
  /** Replies received by `client`, by query id. */
  const replies = new Map<number, Buffer>();

  before(async () => {
    server = new DnsServer({
      listen: { host: '127.0.0.1', port: 0 },
      zone: 'example.com',
      ttl: 5000,
      nameservers: [{ name: 'ns1.example.com', address: '127.0.0.1' }],
      hostmaster: 'hostmaster.example.com',
      udpPayloadSize: 1232,
      random: seededRandom(7),
      clock: systemClock,
      rateLimit: { perSecond: 50, burst: 100 },
      tcpIdleTimeout: 1000,
      maxTcpConnections: 16,
    });
    server.setAnswers(computeAnswers(RECORDS, 'example.com', () => true), 1);
    port = await server.listen();
    client = dgram.createSocket('udp4');
    client.on('message', (message) => {
      if (message.length >= 2) replies.set(message.readUInt16BE(0), message);
    });
    await new Promise<void>((resolve) => client.bind(0, '127.0.0.2', () => resolve()));
  });
  after(async () => {
    client.close();
    await server.close();
  });

  /** Sends `packet` from 127.0.0.2 and waits up to `waitMs` for a reply with `id`. */
  async function ask(packet: Buffer, id: number, waitMs = 1000): Promise<Buffer | undefined> {
    replies.delete(id);
    await new Promise<void>((resolve) => client.send(packet, port, '127.0.0.1', () => resolve()));
    const deadline = Date.now() + waitMs;
    while (!replies.has(id) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    return replies.get(id);
  }

  async function stillAnswers(): Promise<void> {
    const reply = await ask(query('www.example.com', 'A', 4242), 4242);
    assert.ok(reply, 'the server still answers');
    const decoded = dnsPacket.decode(reply);
    assert.deepEqual(decoded.answers?.map((answer) => (answer as { data?: unknown }).data), ['127.0.0.10']);
  }

  test('packets shorter than a header, and responses, get no reply', async () => {
    for (const length of [0, 1, 2, 11]) {
      const packet = Buffer.alloc(length, 0x41);
      assert.equal(server.responder.respond(packet, false), null, `${length} bytes`);
    }
    const response = dnsPacket.encode({ type: 'response', id: 77, questions: [{ type: 'A', name: 'www.example.com' }] });
    assert.equal(await ask(response, 77, 300), undefined, 'a response is never answered (no reflection loops)');
    await stillAnswers();
  });

  test('malformed and truncated questions are FORMERR with the query id, never an echo of the garbage', async () => {
    const cases: [string, Buffer][] = [
      ['no question although one is announced', header(101, 1)],
      ['zero questions', Buffer.concat([header(102, 0)])],
      ['two questions', Buffer.concat([header(103, 2), wireName(['www', 'example', 'com']), QTYPE_A_IN, wireName(['www', 'example', 'com']), QTYPE_A_IN])],
      ['a label running past the end', Buffer.concat([header(104, 1), Buffer.from([63, 97, 98, 99])])],
      ['reserved label type 0x40', Buffer.concat([header(105, 1), Buffer.from([0x41, 97, 0]), QTYPE_A_IN])],
      ['the question cut before its type', Buffer.concat([header(106, 1), wireName(['www', 'example', 'com']), Buffer.from([0])])],
      ['counts far beyond the packet', Buffer.concat([header(107, 65535, 65535, 65535, 65535), wireName(['www']), QTYPE_A_IN])],
    ];
    for (const [what, packet] of cases) {
      const id = packet.readUInt16BE(0);
      const reply = await ask(packet, id);
      assert.ok(reply, `${what}: answered`);
      assert.equal(rcodeOf(reply), RCODE.FORMERR, what);
      assert.ok(reply.length <= 512, `${what}: a small reply`);
    }
    await stillAnswers();
  });

  test('compression-pointer loops and long pointer chains are FORMERR at once', async () => {
    const selfLoop = Buffer.concat([header(201, 1), Buffer.from([0xc0, 0x0c]), QTYPE_A_IN]);
    const pairLoop = Buffer.concat([header(202, 1), Buffer.from([0xc0, 0x0e, 0xc0, 0x0c]), QTYPE_A_IN]);
    const forward = Buffer.concat([header(203, 1), Buffer.from([0xc3, 0xff]), QTYPE_A_IN]);
    // 300 pointers, each to the one before it, the first to the name "a" at offset 12.
    const pointers: number[] = [];
    for (let i = 0; i < 300; i++) {
      const target = i === 0 ? 12 : 15 + (i - 1) * 2;
      pointers.push(0xc0 | (target >> 8), target & 0xff);
    }
    const chain = Buffer.concat([header(204, 1), Buffer.from([1, 97, 0]), Buffer.from(pointers), QTYPE_A_IN]);
    const started = performance.now();
    for (let round = 0; round < 200; round++) {
      for (const packet of [selfLoop, pairLoop, forward, chain]) {
        const reply = server.responder.respond(packet, false);
        assert.ok(reply === null || rcodeOf(reply) !== RCODE.NOERROR, 'never a normal answer');
      }
    }
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 5000, `800 hostile packets took ${Math.round(elapsed)} ms`);
    for (const packet of [selfLoop, pairLoop, forward]) {
      const reply = await ask(packet, packet.readUInt16BE(0));
      assert.ok(reply);
      assert.equal(rcodeOf(reply), RCODE.FORMERR);
    }
    await stillAnswers();
  });

  test('huge label counts and overlong names are refused; deep names inside the zone are NXDOMAIN', async () => {
    // 127 one-letter labels: 253 characters, the longest name there is, outside the zone: refused, no amplification.
    const longest = Buffer.concat([header(300, 1), wireName(Array.from({ length: 127 }, () => 'a')), QTYPE_A_IN]);
    const longestReply = await ask(longest, 300);
    assert.ok(longestReply);
    assert.equal(rcodeOf(longestReply), RCODE.REFUSED);
    assert.ok(longestReply.length <= longest.length, `${longestReply.length} bytes answer ${longest.length}`);
    // 128 labels: longer than any name may be.
    const overlong = Buffer.concat([header(301, 1), wireName(Array.from({ length: 128 }, () => 'a')), QTYPE_A_IN]);
    const overlongReply = await ask(overlong, 301);
    assert.ok(overlongReply);
    assert.ok([RCODE.FORMERR, RCODE.REFUSED].includes(rcodeOf(overlongReply) as 1 | 5), `rcode ${rcodeOf(overlongReply)}`);
    assert.ok(overlongReply.length < 64, `the name is not echoed back (${overlongReply.length} bytes)`);
    // Binary and dotted labels are never names of this zone.
    const binary = Buffer.concat([header(302, 1), Buffer.from([3, 0xff, 0x2e, 0x00]), wireName(['example', 'com']), QTYPE_A_IN]);
    const binaryReply = await ask(binary, 302);
    assert.ok(binaryReply);
    assert.equal(rcodeOf(binaryReply), RCODE.REFUSED);
    // 110 labels under the zone fit in 253 characters: an ordinary NXDOMAIN.
    const deep = `${Array.from({ length: 110 }, () => 'a').join('.')}.example.com`;
    const deepReply = await ask(query(deep, 'A', 303), 303);
    assert.ok(deepReply);
    assert.equal(rcodeOf(deepReply), RCODE.NXDOMAIN);
    await stillAnswers();
  });

  test('ANY gets a minimal answer, and a UDP answer never exceeds what the client can take', async () => {
    const apex = dnsPacket.decode((await ask(query('example.com', 'ANY', 401), 401)) as Buffer);
    assert.deepEqual(apex.answers?.map((answer) => answer.type), ['SOA'], 'one RRset at the apex, not everything');
    const small = await ask(query('many.example.com', 'ANY', 402), 402);
    assert.ok(small);
    assert.ok(small.length <= 512, `${small.length} bytes without EDNS`);
    assert.ok((small.readUInt16BE(2) & 0x0200) !== 0, 'the large RRset is truncated (TC): the client must use TCP');
    const withEdns = await ask(query('many.example.com', 'ANY', 403, true), 403);
    assert.ok(withEdns);
    assert.ok(withEdns.length <= 1232, `${withEdns.length} bytes with EDNS`);
  });

  test('names outside the zone are REFUSED with no data, including look-alike suffixes', async () => {
    for (const [id, name] of [
      [501, 'www.example.org'],
      [502, 'evilexample.com'],
      [503, 'com'],
      [504, 'example.com.evil.test'],
    ] as const) {
      const reply = await ask(query(name, 'A', id), id);
      assert.ok(reply, name);
      assert.equal(rcodeOf(reply), RCODE.REFUSED, name);
      const decoded = dnsPacket.decode(reply);
      assert.equal(decoded.answers?.length ?? 0, 0, name);
      assert.equal(decoded.authorities?.length ?? 0, 0, name);
      assert.equal(reply.readUInt16BE(2) & 0x0080, 0, `${name}: no recursion offered`);
    }
  });

  test('a flood from one address is rate limited; other addresses are served, and the flooder again later', async (t) => {
    const flooder = dgram.createSocket('udp4');
    let answered = 0;
    flooder.on('message', () => answered++);
    await new Promise<void>((resolve) => flooder.bind(0, '127.0.0.1', () => resolve()));
    t.after(() => flooder.close());
    const limitedBefore = server.responder.counters.rateLimited;
    const packet = query('www.example.com', 'A', 600);
    // In bursts of 25, each given a moment to be read: client and server share this event loop and one socket buffer.
    const started = performance.now();
    for (let i = 0; i < 1000; i += 25) {
      await Promise.all(Array.from({ length: 25 }, () => new Promise<void>((resolve) => flooder.send(packet, port, '127.0.0.1', () => resolve()))));
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    const seconds = (performance.now() - started) / 1000;
    const limited = server.responder.counters.rateLimited - limitedBefore;
    // Burst 100, then 50 per second.
    const allowed = 100 + 50 * seconds;
    assert.ok(answered >= 100 && answered <= allowed + 10, `${answered} answered in ${seconds.toFixed(2)} s; the bucket allows ${Math.round(allowed)}`);
    assert.ok(limited >= 1000 - allowed - 100, `${limited} of 1,000 queries were dropped`);
    await stillAnswers();
    // The bucket refills: after a second the flooding address is answered again.
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const before = answered;
    flooder.send(query('www.example.com', 'A', 601), port, '127.0.0.1');
    const deadline = Date.now() + 2000;
    while (answered === before && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(answered, before + 1);
  });

  test('TCP: a frame that never completes is closed after the idle timeout; a connection flood is capped', async (t) => {
    const stalled = net.connect(port, '127.0.0.1');
    t.after(() => stalled.destroy());
    const started = performance.now();
    stalled.write(Buffer.from([0, 100, 1, 2, 3]));
    await new Promise<void>((resolve) => stalled.once('close', () => resolve()));
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 800 && elapsed < 10_000, `closed after ${Math.round(elapsed)} ms`);

    const sockets: net.Socket[] = [];
    t.after(() => sockets.forEach((socket) => socket.destroy()));
    let closedEarly = 0;
    await Promise.all(
      Array.from(
        { length: 40 },
        () =>
          new Promise<void>((resolve) => {
            const socket = net.connect(port, '127.0.0.1');
            sockets.push(socket);
            socket.on('error', () => undefined);
            socket.once('connect', () => setTimeout(resolve, 200));
            socket.once('close', () => {
              closedEarly++;
              resolve();
            });
          }),
      ),
    );
    assert.ok(closedEarly >= 40 - 16, `${closedEarly} of 40 connections beyond the cap of 16 were closed`);
    await stillAnswers();
  });
});
