/**
 * The authoritative DNS server against dig (UDP and TCP), and a corpus of
 * 10,000 random, truncated and hostile packets.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import type { RecordType } from 'dns-packet';
import type { DnsRecordConfig } from '../../src/config/types.js';
import { systemClock } from '../../src/core/clock.js';
import { seededRandom, type Random } from '../../src/core/random.js';
import { computeAnswers } from '../../src/gslb/dns-answers.js';
import { DnsServer, type DnsServerOptions } from '../../src/gslb/dns-server.js';
import { dig, requireProgram, sleep, waitFor } from './helpers.js';

const records: DnsRecordConfig[] = [
  {
    name: 'www',
    type: 'A',
    policy: 'failover',
    targets: [
      { site: 'eu', address: '127.0.0.10', weight: 1 },
      { site: 'us', address: '127.0.0.20', weight: 1 },
    ],
  },
  {
    name: 'big',
    type: 'A',
    policy: 'all-healthy',
    targets: Array.from({ length: 30 }, (_, i) => ({ site: 'eu', address: `10.0.0.${i + 1}`, weight: 1 })),
  },
  {
    name: 'v6',
    type: 'AAAA',
    policy: 'all-healthy',
    targets: [
      { site: 'eu', address: '2001:db8::10', weight: 1 },
      { site: 'us', address: '2001:db8::20', weight: 1 },
    ],
  },
  { name: 'alias', type: 'CNAME', policy: 'failover', targets: [{ site: 'eu', address: 'www.example.com', weight: 1 }] },
  { name: 'deep.sub', type: 'A', policy: 'failover', targets: [{ site: 'eu', address: '127.0.0.30', weight: 1 }] },
  {
    name: 'wgt',
    type: 'A',
    policy: 'weighted',
    targets: [
      { site: 'eu', address: '127.0.0.41', weight: 1 },
      { site: 'us', address: '127.0.0.42', weight: 3 },
    ],
  },
];

function serverOptions(overrides: Partial<DnsServerOptions> = {}): DnsServerOptions {
  return {
    listen: { host: '127.0.0.1', port: 0 },
    zone: 'example.com',
    ttl: 5000,
    nameservers: [{ name: 'ns1.example.com', address: '127.0.0.1' }],
    hostmaster: 'hostmaster.example.com',
    udpPayloadSize: 1232,
    random: seededRandom(1),
    clock: systemClock,
    rateLimit: undefined,
    tcpIdleTimeout: 5000,
    maxTcpConnections: 64,
    ...overrides,
  };
}

interface DigResult {
  status: string;
  flags: Set<string>;
  answers: string[];
  authority: string[];
  additional: string[];
  raw: string;
}

function parseDig(raw: string): DigResult {
  const status = /status: ([A-Z]+)/.exec(raw)?.[1] ?? '';
  const flags = new Set((/;; flags: ([a-z ]*);/.exec(raw)?.[1] ?? '').trim().split(/\s+/));
  const section = (name: string): string[] => {
    const start = raw.indexOf(`;; ${name} SECTION:`);
    if (start === -1) return [];
    const lines: string[] = [];
    for (const line of raw.slice(start).split('\n').slice(1)) {
      if (line.trim() === '' || line.startsWith(';;')) break;
      lines.push(line.replace(/\s+/g, ' ').trim());
    }
    return lines;
  };
  return { status, flags, answers: section('ANSWER'), authority: section('AUTHORITY'), additional: section('ADDITIONAL'), raw };
}

async function query(port: number, ...args: string[]): Promise<DigResult> {
  return parseDig(await dig(port, args));
}

describe('authoritative DNS over dig', () => {
  let server: DnsServer;
  let port = 0;

  before(async () => {
    requireProgram('dig', 'dnsutils');
    server = new DnsServer(serverOptions());
    server.setAnswers(computeAnswers(records, 'example.com', (site) => site === 'eu'), 2026010101);
    port = await server.listen();
  });
  after(() => server.close());

  test('A by failover policy, authoritative, no recursion offered, configured TTL', async () => {
    const result = await query(port, 'www.example.com', 'A');
    assert.equal(result.status, 'NOERROR');
    assert.ok(result.flags.has('aa'));
    assert.ok(!result.flags.has('ra'));
    assert.deepEqual(result.answers, ['www.example.com. 5 IN A 127.0.0.10']);
  });

  test('SOA at the apex', async () => {
    const result = await query(port, 'example.com', 'SOA');
    assert.equal(result.status, 'NOERROR');
    assert.deepEqual(result.answers, ['example.com. 3600 IN SOA ns1.example.com. hostmaster.example.com. 2026010101 3600 600 604800 5']);
  });

  test('NS at the apex with the name server address as glue', async () => {
    const result = await query(port, 'example.com', 'NS');
    assert.deepEqual(result.answers, ['example.com. 3600 IN NS ns1.example.com.']);
    assert.deepEqual(result.additional, ['ns1.example.com. 3600 IN A 127.0.0.1']);
    assert.deepEqual((await query(port, 'ns1.example.com', 'A')).answers, ['ns1.example.com. 3600 IN A 127.0.0.1']);
  });

  test('NXDOMAIN for an unknown name, with the SOA for negative caching', async () => {
    const result = await query(port, 'nope.example.com', 'A');
    assert.equal(result.status, 'NXDOMAIN');
    assert.ok(result.flags.has('aa'));
    assert.equal(result.answers.length, 0);
    assert.match(result.authority[0] ?? '', /^example\.com\. 5 IN SOA ns1\.example\.com\./);
  });

  test('NODATA for a known name without that type, and for an empty non-terminal', async () => {
    for (const [name, type] of [['www.example.com', 'AAAA'], ['sub.example.com', 'A'], ['example.com', 'MX']] as const) {
      const result = await query(port, name, type);
      assert.equal(result.status, 'NOERROR', `${name} ${type}`);
      assert.equal(result.answers.length, 0);
      assert.equal(result.authority.length, 1);
    }
    assert.deepEqual((await query(port, 'deep.sub.example.com', 'A')).answers, ['deep.sub.example.com. 5 IN A 127.0.0.30']);
  });

  test('REFUSED outside the zone, for other classes, and for zone transfers', async () => {
    for (const args of [['www.example.org', 'A'], ['example', 'A'], ['CH', 'TXT', 'version.bind']]) {
      const result = await query(port, ...args);
      assert.equal(result.status, 'REFUSED', args.join(' '));
      assert.ok(!result.flags.has('aa'));
      assert.ok(!result.flags.has('ra'));
    }
    const axfr = await dig(port, ['example.com', 'AXFR']);
    assert.match(axfr, /Transfer failed|REFUSED/);
  });

  test('the same answers over TCP', async () => {
    const result = await query(port, '+tcp', 'www.example.com', 'A');
    assert.deepEqual(result.answers, ['www.example.com. 5 IN A 127.0.0.10']);
    const big = await query(port, '+tcp', 'big.example.com', 'A');
    assert.equal(big.answers.length, 30);
  });

  test('EDNS(0): OPT echoed with our buffer size; an unknown EDNS version gets BADVERS', async () => {
    const result = await query(port, 'www.example.com');
    assert.match(result.raw, /; EDNS: version: 0, flags:; udp: 1232/);
    const badvers = await query(port, '+edns=1', '+noednsnegotiation', 'www.example.com');
    assert.equal(badvers.status, 'BADVERS');
    const plain = await query(port, '+noedns', 'www.example.com');
    assert.doesNotMatch(plain.raw, /EDNS:/);
  });

  test('UDP truncation: TC without EDNS, the full answer with +bufsize or over TCP', async () => {
    const truncated = await query(port, '+noedns', '+ignore', 'big.example.com', 'A');
    assert.ok(truncated.flags.has('tc'), 'tc flag');
    assert.equal(truncated.answers.length, 0);
    const retried = await dig(port, ['+noedns', 'big.example.com', 'A']);
    assert.match(retried, /Truncated, retrying in TCP mode/);
    assert.equal(parseDig(retried).answers.length, 30);
    const large = await query(port, '+bufsize=4096', '+ignore', 'big.example.com', 'A');
    assert.ok(!large.flags.has('tc'));
    assert.equal(large.answers.length, 30);
    const small = await query(port, '+bufsize=512', '+ignore', 'big.example.com', 'A');
    assert.ok(small.flags.has('tc'));
  });

  test('ANY gets a minimal answer (RFC 8482)', async () => {
    const big = await query(port, 'big.example.com', 'ANY');
    assert.equal(big.status, 'NOERROR');
    assert.equal(big.answers.length, 30, 'one RRset');
    const apex = await query(port, 'example.com', 'ANY');
    assert.equal(apex.answers.length, 1);
    assert.match(apex.answers[0] ?? '', / IN SOA /);
  });

  test('AAAA, CNAME followed inside the zone, case preserved', async () => {
    assert.deepEqual((await query(port, 'v6.example.com', 'AAAA')).answers, ['v6.example.com. 5 IN AAAA 2001:db8::10']);
    assert.deepEqual((await query(port, 'alias.example.com', 'A')).answers, [
      'alias.example.com. 5 IN CNAME www.example.com.',
      'www.example.com. 5 IN A 127.0.0.10',
    ]);
    assert.deepEqual((await query(port, 'WwW.ExAmPlE.cOm', 'A')).answers, ['WwW.ExAmPlE.cOm. 5 IN A 127.0.0.10']);
  });

  test('weighted answers one target per query, in proportion to weight', () => {
    const allUp = new DnsServer(serverOptions()).responder;
    allUp.setAnswers(computeAnswers(records, 'example.com', () => true), 1);
    const counts = new Map<string, number>();
    const queryBytes = dnsPacket.encode({ type: 'query', id: 1, questions: [{ type: 'A', name: 'wgt.example.com' }] });
    for (let i = 0; i < 4000; i++) {
      const response = allUp.respond(queryBytes, false);
      assert.ok(response);
      const answers = dnsPacket.decode(response).answers ?? [];
      assert.equal(answers.length, 1);
      const first = answers[0];
      const data = first !== undefined && 'data' in first ? String(first.data) : '';
      counts.set(data, (counts.get(data) ?? 0) + 1);
    }
    const share = (counts.get('127.0.0.42') ?? 0) / 4000;
    assert.ok(Math.abs(share - 0.75) < 0.04, `heavy share ${share}`);
  });

  test('other opcodes get NOTIMP; responses and short packets are dropped', () => {
    const notify = dnsPacket.encode({ type: 'query', id: 77, flags: 4 << 11, questions: [{ type: 'SOA', name: 'example.com' }] });
    const reply = server.responder.respond(notify, false);
    assert.ok(reply);
    assert.equal(reply.readUInt16BE(0), 77);
    assert.equal(reply.readUInt16BE(2) & 0xf, 4);
    assert.equal((reply.readUInt16BE(2) >> 11) & 0xf, 4, 'opcode echoed');
    const response = dnsPacket.encode({ type: 'response', id: 1, questions: [{ type: 'A', name: 'www.example.com' }] });
    assert.equal(server.responder.respond(response, false), null);
    assert.equal(server.responder.respond(Buffer.alloc(11), false), null);
  });
});

/** A valid query to mutate: random name under the zone, random type, sometimes EDNS. */
function validQuery(random: Random): Buffer {
  const names = ['www.example.com', 'big.example.com', 'nope.example.com', 'example.com', 'x.example.org', 'alias.example.com'];
  // dns-packet encodes ANY (255) although its type list omits it.
  const types = ['A', 'AAAA', 'ANY' as RecordType, 'SOA', 'NS', 'CNAME', 'TXT'] as const;
  const withEdns = random() < 0.5;
  return dnsPacket.encode({
    type: 'query',
    id: Math.floor(random() * 65536),
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: types[Math.floor(random() * types.length)] ?? 'A', name: names[Math.floor(random() * names.length)] ?? 'www.example.com' }],
    additionals: withEdns ? [{ type: 'OPT', name: '.', udpPayloadSize: 4096, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }] : [],
  });
}

/** Hand-made hostile packets: compression loops, forward pointers, lying counts, bad labels. */
function hostile(random: Random): Buffer {
  const header = (qd: number, an: number, ns: number, ar: number): Buffer => {
    const h = Buffer.alloc(12);
    h.writeUInt16BE(Math.floor(random() * 65536), 0);
    h.writeUInt16BE(0x0100, 2);
    h.writeUInt16BE(qd, 4);
    h.writeUInt16BE(an, 6);
    h.writeUInt16BE(ns, 8);
    h.writeUInt16BE(ar, 10);
    return h;
  };
  const kind = Math.floor(random() * 8);
  switch (kind) {
    case 0: // the question name points at itself
      return Buffer.concat([header(1, 0, 0, 0), Buffer.from([0xc0, 0x0c, 0, 1, 0, 1])]);
    case 1: // two pointers pointing at each other inside an additional record
      return Buffer.concat([header(1, 0, 0, 1), Buffer.from([3, 119, 119, 119, 0, 0, 1, 0, 1, 0xc0, 0x17, 0xc0, 0x15, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0])]);
    case 2: // a pointer forward, past the end
      return Buffer.concat([header(1, 0, 0, 0), Buffer.from([0xc3, 0xff, 0, 1, 0, 1])]);
    case 3: // counts far larger than the packet
      return Buffer.concat([header(65535, 65535, 65535, 65535), Buffer.from([0, 0, 1, 0, 1])]);
    case 4: // a label longer than the packet; reserved label types 0x40 and 0x80
      return Buffer.concat([header(1, 0, 0, 0), Buffer.from([random() < 0.5 ? 0x3f : random() < 0.5 ? 0x41 : 0x81, 97, 98, 0, 0, 1])]);
    case 5: { // OPT with an option length running past the record
      const opt = Buffer.from([0, 0, 41, 16, 0, 0, 0, 0, 0, 0, 8, 0, 8, 0, 40, 0, 1, 24, 0]);
      return Buffer.concat([header(1, 0, 0, 1), Buffer.from([3, 119, 119, 119, 7, 101, 120, 97, 109, 112, 108, 101, 3, 99, 111, 109, 0, 0, 1, 0, 1]), opt]);
    }
    case 6: { // a long chain of pointers, each to the previous one
      const parts = [header(1, 0, 0, 0), Buffer.from([1, 97, 0])];
      let previous = 12;
      let offset = 15;
      const chain: number[] = [];
      for (let i = 0; i < 200; i++) {
        chain.push(0xc0 | (previous >> 8), previous & 0xff);
        previous = offset;
        offset += 2;
      }
      parts.push(Buffer.from(chain), Buffer.from([0, 1, 0, 1]));
      return Buffer.concat(parts);
    }
    default: // binary, dotted and overlong labels
      return Buffer.concat([header(1, 0, 0, 0), Buffer.from([5, 0xff, 0x2e, 0x00, 0x20, 0xc3, 0, 0, 1, 0, 1])]);
  }
}

function corpus(count: number): Buffer[] {
  const random = seededRandom(2026);
  const packets: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const kind = i % 4;
    if (kind === 0) {
      const junk = Buffer.alloc(Math.floor(random() * 513));
      for (let j = 0; j < junk.length; j++) junk[j] = Math.floor(random() * 256);
      if (junk.length > 2) junk[2] = (junk[2] ?? 0) & 0x7f; // mostly queries, so they reach the decoder
      packets.push(junk);
    } else if (kind === 1) {
      const valid = validQuery(random);
      packets.push(valid.subarray(0, Math.floor(random() * valid.length)));
    } else if (kind === 2) {
      const mutated = Buffer.from(validQuery(random));
      const flips = 1 + Math.floor(random() * 4);
      for (let f = 0; f < flips; f++) {
        const at = Math.floor(random() * mutated.length);
        mutated[at] = Math.floor(random() * 256);
      }
      packets.push(mutated);
    } else {
      packets.push(hostile(random));
    }
  }
  return packets;
}

describe('hostile input', () => {
  test('10,000 random, truncated, mutated and hostile packets: no crash, sane replies, still serving', async (t) => {
    requireProgram('dig', 'dnsutils');
    const server = new DnsServer(serverOptions());
    server.setAnswers(computeAnswers(records, 'example.com', () => true), 1);
    const port = await server.listen();
    const client = dgram.createSocket('udp4');
    t.after(async () => {
      client.close();
      await server.close();
    });
    const packets = corpus(10_000);

    // Directly: respond() never throws, and a reply always answers the query's ID.
    for (const packet of packets) {
      for (const overTcp of [false, true]) {
        const reply = server.responder.respond(packet, overTcp);
        if (reply === null) continue;
        assert.ok(reply.length >= 12);
        assert.equal(reply.readUInt16BE(0), packet.readUInt16BE(0));
        assert.ok(overTcp || reply.length <= 1232);
        assert.ok((reply[2] ?? 0) & 0x80, 'QR set');
      }
    }

    // Over the wire, in bursts of 50, each given time to be read (client and server share this event loop).
    let replies = 0;
    client.on('message', () => replies++);
    await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', () => resolve()));
    const counters = server.responder.counters;
    const base = counters.queries;
    for (let i = 0; i < packets.length; i += 50) {
      const burst = packets.slice(i, i + 50);
      await Promise.all(burst.map((packet) => new Promise<void>((resolve) => client.send(packet, port, '127.0.0.1', () => resolve()))));
      const expected = base + i + burst.length;
      for (let wait = 0; wait < 100 && counters.queries < expected; wait++) await sleep(1);
    }
    assert.ok(counters.queries - base > 9000, `server read ${counters.queries - base} of 10,000 datagrams`);
    await waitFor(() => (replies > 5000 ? true : undefined), 10_000, 'replies to the corpus');

    // Over TCP: many frames in one stream, then a frame that claims more than it sends.
    const tcp = net.connect({ host: '127.0.0.1', port });
    t.after(() => tcp.destroy());
    await new Promise<void>((resolve) => tcp.once('connect', () => resolve()));
    const framed = packets.slice(0, 500).map((packet) => {
      const length = Buffer.alloc(2);
      length.writeUInt16BE(packet.length, 0);
      return Buffer.concat([length, packet]);
    });
    tcp.write(Buffer.concat([...framed, Buffer.from([0xff, 0xff, 1, 2, 3])]));
    await sleep(200);

    const result = parseDig(await dig(port, ['www.example.com', 'A']));
    assert.deepEqual(result.answers, ['www.example.com. 5 IN A 127.0.0.10']);
    const tcpResult = parseDig(await dig(port, ['+tcp', 'www.example.com', 'A']));
    assert.deepEqual(tcpResult.answers, ['www.example.com. 5 IN A 127.0.0.10']);
    assert.ok(counters.responses.FORMERR > 1000, `FORMERR ${counters.responses.FORMERR}`);
    assert.ok(counters.queries > 20_000);
  });

  test('a compression-pointer loop in the question is FORMERR, not a hang', () => {
    const server = new DnsServer(serverOptions());
    const loop = Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1, 0, 1]);
    const reply = server.responder.respond(loop, false);
    assert.ok(reply);
    assert.equal(reply.readUInt16BE(2) & 0xf, 1);
  });
});

describe('per-client rate limit', () => {
  test('a flood from one address is cut to the token bucket; other clients are unaffected', async (t) => {
    const server = new DnsServer(serverOptions({ rateLimit: { perSecond: 20, burst: 20 } }));
    server.setAnswers(computeAnswers(records, 'example.com', () => true), 1);
    const port = await server.listen();
    const flood = dgram.createSocket('udp4');
    t.after(async () => {
      flood.close();
      await server.close();
    });
    let replies = 0;
    flood.on('message', () => replies++);
    await new Promise<void>((resolve) => flood.bind(0, '127.0.0.2', () => resolve()));
    const queryBytes = dnsPacket.encode({ type: 'query', id: 9, questions: [{ type: 'A', name: 'www.example.com' }] });
    for (let i = 0; i < 200; i++) flood.send(queryBytes, port, '127.0.0.1');
    await waitFor(() => (server.responder.counters.rateLimited > 0 && server.responder.counters.queries + server.responder.counters.rateLimited >= 150 ? true : undefined), 5000, 'the flood');
    await sleep(200);
    // The burst (20) plus what refilled while the flood was sent.
    assert.ok(replies >= 20 && replies < 100, `replies ${replies}`);
    assert.ok(server.responder.counters.rateLimited > 100);
    const result = parseDig(await dig(port, ['www.example.com', 'A']));
    assert.equal(result.answers.length, 1, 'another client is still served');
  });
});
