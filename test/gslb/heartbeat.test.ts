import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import dgram from 'node:dgram';
import { ManualClock, systemClock } from '../../src/core/clock.js';
import { seededRandom } from '../../src/core/random.js';
import {
  HeartbeatTransport,
  ReplayGuard,
  decodeHeartbeat,
  encodeHeartbeat,
  type HeartbeatMessage,
} from '../../src/gslb/heartbeat.js';
import { SECRET, waitFor } from './helpers.js';

function message(overrides: Partial<HeartbeatMessage> = {}): HeartbeatMessage {
  return {
    site: 'eu',
    ready: true,
    witness: false,
    incarnation: 1_767_225_600_000,
    sequence: 7,
    timestamp: Date.now(),
    view: [
      { site: 'eu', reachable: true, ready: true, known: true, state: 'active', recoveringForMs: 0, failbackEpoch: 0 },
      { site: 'us', reachable: false, ready: false, known: true, state: 'recovering', recoveringForMs: 1234, failbackEpoch: 3 },
      { site: 'ap', reachable: true, ready: true, known: false, state: 'unknown', recoveringForMs: 0, failbackEpoch: 0 },
    ],
    ...overrides,
  };
}

describe('heartbeat wire format', () => {
  test('round-trips every field', () => {
    const original = message();
    const decoded = decodeHeartbeat(encodeHeartbeat(original, SECRET), SECRET);
    assert.deepEqual(decoded, { ok: true, message: original });
  });

  test('a wrong secret or any flipped bit fails the MAC', () => {
    const packet = encodeHeartbeat(message(), SECRET);
    assert.deepEqual(decodeHeartbeat(packet, 'another-secret-entirely'), { ok: false, reason: 'bad-mac' });
    for (let i = 5; i < packet.length; i++) {
      const tampered = Buffer.from(packet);
      tampered[i] = (tampered[i] ?? 0) ^ 0x10;
      const result = decodeHeartbeat(tampered, SECRET);
      assert.equal(result.ok, false, `byte ${i}`);
    }
  });

  test('truncated, extended and random packets are rejected without throwing', () => {
    const packet = encodeHeartbeat(message(), SECRET);
    for (let length = 0; length < packet.length; length++) {
      assert.equal(decodeHeartbeat(packet.subarray(0, length), SECRET).ok, false);
    }
    assert.equal(decodeHeartbeat(Buffer.concat([packet, Buffer.from([0])]), SECRET).ok, false);
    const random = seededRandom(3);
    for (let i = 0; i < 2000; i++) {
      const junk = Buffer.alloc(Math.floor(random() * 300));
      for (let j = 0; j < junk.length; j++) junk[j] = Math.floor(random() * 256);
      if (i % 2 === 0 && junk.length > 5) Buffer.from('BLHB\u0001', 'latin1').copy(junk);
      assert.equal(decodeHeartbeat(junk, SECRET).ok, false);
    }
  });

  test('a correctly signed but inconsistent body is malformed', () => {
    const packet = encodeHeartbeat(message(), SECRET);
    // Claim one more view entry than present, then re-sign with the right key.
    const body = Buffer.from(packet.subarray(0, packet.length - 32));
    const countOffset = 22 + 1 + 2;
    body[countOffset] = (body[countOffset] ?? 0) + 1;
    const resigned = signRaw(body);
    assert.deepEqual(decodeHeartbeat(resigned, SECRET), { ok: false, reason: 'malformed' });
  });
});

/** Appends the HMAC a sender holding the shared secret would compute. */
function signRaw(body: Buffer): Buffer {
  return Buffer.concat([body, createHmac('sha256', SECRET).update(body).digest()]);
}

describe('ReplayGuard', () => {
  test('accepts each (incarnation, sequence) once, tolerating reordering inside the window', () => {
    const guard = new ReplayGuard();
    assert.ok(guard.accept('eu', 100, 10));
    assert.ok(!guard.accept('eu', 100, 10), 'duplicate');
    assert.ok(guard.accept('eu', 100, 12));
    assert.ok(guard.accept('eu', 100, 11), 'late but new');
    assert.ok(!guard.accept('eu', 100, 11), 'late duplicate');
    assert.ok(guard.accept('eu', 100, 200));
    assert.ok(!guard.accept('eu', 100, 150), 'older than the window');
    assert.ok(guard.accept('eu', 100, 199));
  });

  test('a restart (newer incarnation) resets the window; an older incarnation is refused', () => {
    const guard = new ReplayGuard();
    assert.ok(guard.accept('eu', 100, 5000));
    assert.ok(guard.accept('eu', 200, 0));
    assert.ok(!guard.accept('eu', 100, 5001));
    assert.ok(guard.accept('us', 100, 0), 'senders are independent');
  });
});

describe('HeartbeatTransport over UDP', () => {
  test('accepts signed heartbeats from peers and ignores forged, replayed, stale and unknown ones', async (t) => {
    const received: HeartbeatMessage[] = [];
    const transport = new HeartbeatTransport({
      site: 'us',
      listen: { host: '127.0.0.1', port: 0 },
      secret: SECRET,
      peers: [{ site: 'eu', address: { host: '127.0.0.1', port: 9 } }],
      maxClockSkew: 5000,
      clock: systemClock,
      onMessage: (msg) => received.push(msg),
    });
    await transport.start();
    const sender = dgram.createSocket('udp4');
    t.after(async () => {
      sender.close();
      await transport.close();
    });
    const send = (packet: Buffer): Promise<void> =>
      new Promise((resolve, reject) => sender.send(packet, transport.port, '127.0.0.1', (error) => (error ? reject(error) : resolve())));

    const genuine = encodeHeartbeat(message({ sequence: 1, timestamp: Date.now() }), SECRET);
    await send(genuine);
    await waitFor(() => (transport.counters.accepted === 1 ? true : undefined), 5000, 'the genuine heartbeat');

    await send(encodeHeartbeat(message({ sequence: 2, ready: false }), 'wrong-secret-wrong-secret'));
    await send(genuine);
    await send(encodeHeartbeat(message({ sequence: 3, timestamp: Date.now() - 60_000 }), SECRET));
    await send(encodeHeartbeat(message({ site: 'mallory', sequence: 4 }), SECRET));
    await send(Buffer.from('not a heartbeat'));
    await waitFor(() => (transport.counters.received === 6 ? true : undefined), 5000, 'all packets');

    assert.deepEqual(transport.counters.rejected, { malformed: 1, 'bad-mac': 1, 'unknown-site': 1, stale: 1, replay: 1 });
    assert.equal(transport.counters.accepted, 1);
    assert.equal(received.length, 1);
    assert.equal(received[0]?.ready, true);
  });

  test('stale means outside the skew allowance on the receiver clock', async (t) => {
    const clock = new ManualClock(0, Date.now() + 10_000);
    let accepted = 0;
    const transport = new HeartbeatTransport({
      site: 'us',
      listen: { host: '127.0.0.1', port: 0 },
      secret: SECRET,
      peers: [{ site: 'eu', address: { host: '127.0.0.1', port: 9 } }],
      maxClockSkew: 5000,
      clock,
      onMessage: () => accepted++,
    });
    await transport.start();
    const sender = dgram.createSocket('udp4');
    t.after(async () => {
      sender.close();
      await transport.close();
    });
    // The sender's clock is 10 s behind the receiver's: beyond a 5 s allowance.
    sender.send(encodeHeartbeat(message({ sequence: 1, timestamp: Date.now() }), SECRET), transport.port, '127.0.0.1');
    await waitFor(() => (transport.counters.rejected.stale === 1 ? true : undefined), 5000, 'a stale rejection');
    assert.equal(accepted, 0);
  });
});
