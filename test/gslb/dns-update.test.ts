import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import { systemClock } from '../../src/core/clock.js';
import { seededRandom } from '../../src/core/random.js';
import { DynamicUpdater, buildUpdate, encodeName, exchangeTcp, parseUpdateResponse, signMessage, type TsigKey } from '../../src/gslb/dns-update.js';
import { waitFor } from './helpers.js';

const KEY: TsigKey = { name: 'ballast-key', algorithm: 'hmac-sha256', secret: Buffer.alloc(32, 1).toString('base64') };

/** RDATA bytes dns-packet produces for one record, to check ours against. */
function referenceRdata(type: 'A' | 'AAAA', data: string): Buffer {
  const packet = dnsPacket.encode({ type: 'response', id: 0, answers: [{ type, name: '.', ttl: 0, data }] });
  // header 12 + root name 1 + type/class/ttl/rdlength 10
  return packet.subarray(23);
}

describe('UPDATE message', () => {
  test('names are canonical: lower case, uncompressed, root-terminated', () => {
    assert.deepEqual(encodeName('WWW.Example.com.'), Buffer.from([3, 119, 119, 119, 7, 101, 120, 97, 109, 112, 108, 101, 3, 99, 111, 109, 0]));
    assert.deepEqual(encodeName('.'), Buffer.from([0]));
    assert.throws(() => encodeName(`${'a'.repeat(64)}.com`), RangeError);
  });

  test('deletes then re-adds each RRset, with the zone as the single zone-section entry', () => {
    const message = buildUpdate('example.com', [
      { name: 'www.example.com', type: 'A', ttl: 5, values: ['127.0.0.20', '127.0.0.21'] },
      { name: 'v6.example.com', type: 'AAAA', ttl: 5, values: ['2001:db8::1', '::ffff:192.0.2.1'] },
    ], 0x1234);
    assert.equal(message.readUInt16BE(0), 0x1234);
    assert.equal((message.readUInt16BE(2) >> 11) & 0xf, 5, 'opcode UPDATE');
    assert.deepEqual([message.readUInt16BE(4), message.readUInt16BE(6), message.readUInt16BE(8), message.readUInt16BE(10)], [1, 0, 6, 0]);
    const www = encodeName('www.example.com');
    const deleteRRset = Buffer.concat([www, Buffer.from([0, 1, 0, 255, 0, 0, 0, 0, 0, 0])]);
    assert.ok(message.includes(deleteRRset), 'delete RRset: class ANY, TTL 0, no data');
    assert.ok(message.includes(Buffer.concat([www, Buffer.from([0, 1, 0, 1, 0, 0, 0, 5, 0, 4]), referenceRdata('A', '127.0.0.21')])));
    assert.ok(message.includes(referenceRdata('AAAA', '2001:db8::1')));
    assert.ok(message.includes(referenceRdata('AAAA', '::ffff:192.0.2.1')));
  });

  test('the TSIG record is appended and counted, with the MAC and original ID', () => {
    const message = buildUpdate('example.com', [{ name: 'www.example.com', type: 'A', ttl: 5, values: ['127.0.0.20'] }], 7);
    const { signed, mac } = signMessage(message, KEY, 1_767_225_600);
    assert.equal(signed.readUInt16BE(10), 1, 'ARCOUNT counts the TSIG record');
    assert.equal(mac.length, 32);
    assert.ok(signed.subarray(message.length).includes(mac));
    assert.ok(signed.subarray(message.length).includes(encodeName('hmac-sha256')));
    // The same input signs to the same MAC; another key or time does not.
    assert.deepEqual(signMessage(message, KEY, 1_767_225_600).mac, mac);
    assert.notDeepEqual(signMessage(message, KEY, 1_767_225_601).mac, mac);
    assert.notDeepEqual(signMessage(message, { ...KEY, secret: Buffer.alloc(32, 2).toString('base64') }, 1_767_225_600).mac, mac);
  });
});

describe('UPDATE response', () => {
  test('an unsigned error reply is parsed, not trusted', () => {
    const reply = Buffer.alloc(12);
    reply.writeUInt16BE(7, 0);
    reply.writeUInt16BE(0x8000 | (5 << 11) | 9, 2);
    const parsed = parseUpdateResponse(reply, KEY, Buffer.alloc(32), 1_767_225_600);
    assert.deepEqual(parsed, { id: 7, rcode: 9, rcodeName: 'NOTAUTH', tsigError: undefined, signatureValid: false });
  });

  test('malformed replies throw RangeError, including compression loops', () => {
    const loop = Buffer.concat([Buffer.from([0, 7, 0xa8, 0, 0, 1, 0, 0, 0, 0, 0, 0]), Buffer.from([0xc0, 12, 0, 6, 0, 1])]);
    assert.throws(() => parseUpdateResponse(loop, KEY, Buffer.alloc(32), 0), RangeError);
    assert.throws(() => parseUpdateResponse(Buffer.alloc(5), KEY, Buffer.alloc(32), 0), RangeError);
    const shortRecord = Buffer.concat([Buffer.from([0, 7, 0xa8, 0, 0, 0, 0, 0, 0, 0, 0, 1]), Buffer.from([0, 0, 250, 0, 255])]);
    assert.throws(() => parseUpdateResponse(shortRecord, KEY, Buffer.alloc(32), 0), RangeError);
  });
});

describe('DynamicUpdater', () => {
  test('a server that never answers is a failure, retried with backoff and reported in status', async (t) => {
    const accepted = new Set<net.Socket>();
    const silent = net.createServer((socket) => accepted.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()));
    const address = silent.address();
    assert.ok(address !== null && typeof address === 'object');
    const updater = new DynamicUpdater({
      server: { host: '127.0.0.1', port: address.port },
      zone: 'example.com',
      key: KEY,
      timeout: 200,
      retryMin: 100,
      retryMax: 400,
      clock: systemClock,
      random: seededRandom(1),
    });
    t.after(async () => {
      await updater.close();
      for (const socket of accepted) socket.destroy();
      silent.close();
    });
    updater.push([{ name: 'www.example.com', type: 'A', ttl: 5, values: ['127.0.0.20'] }]);
    const status = await waitFor(() => {
      const current = updater.status();
      return current.failures >= 3 ? current : undefined;
    }, 10_000, 'three failed attempts');
    assert.match(status.lastError?.message ?? '', /no reply within 200 ms/);
    assert.equal(status.updatesSent, 0);
    assert.ok(status.state === 'retrying' || status.state === 'sending');
    assert.equal(status.server, `127.0.0.1:${address.port}`);
  });

  test('exchangeTcp reports a refused connection', async () => {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', () => resolve()));
    const address = probe.address();
    assert.ok(address !== null && typeof address === 'object');
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    await assert.rejects(exchangeTcp({ host: '127.0.0.1', port: address.port }, Buffer.alloc(12), 2000), /ECONNREFUSED/);
  });
});
