import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { describe, test } from 'node:test';
import { Relay } from '../../src/proxy/tcp.js';

/**
 * A stand-in for the socket a relay writes to: a write completes at once
 * (as when the kernel takes every byte) until `hold` is set; then writes
 * queue until `complete`, as on a socket whose peer reads slowly.
 */
class Destination {
  hold = false;
  writableLength = 0;
  readonly queued: Array<{ chunk: Buffer; callback: (() => void) | undefined }> = [];
  readonly written: Buffer[] = [];

  write(chunk: Buffer, callback?: () => void): boolean {
    this.written.push(chunk);
    if (!this.hold && this.writableLength === 0) {
      if (callback !== undefined) process.nextTick(callback);
      return true;
    }
    this.queued.push({ chunk, callback });
    this.writableLength += chunk.length;
    return this.writableLength < 16 * 1024;
  }

  complete(): void {
    const write = this.queued.shift();
    if (write === undefined) throw new Error('nothing queued');
    this.writableLength -= write.chunk.length;
    write.callback?.();
  }

  get socket(): Socket {
    return this as unknown as Socket;
  }
}

const tick = (): Promise<void> => new Promise((resolve) => process.nextTick(resolve));

/** What the source socket does: read `data` into the lent buffer, hand it to the relay, ask for the next buffer. */
function read(relay: Relay, buffer: Buffer, to: Destination, data: Buffer): { more: boolean; next: Buffer } {
  data.copy(buffer);
  const more = relay.forward(to.socket, data.length, buffer);
  return { more, next: relay.lend() };
}

/** A relay whose source just filled the small buffer, so that it now reads into a large buffer of its own. */
function busyRelay(to: Destination): { relay: Relay; large: Buffer } {
  const relay = new Relay();
  const small = relay.lend();
  const { next } = read(relay, small, to, Buffer.alloc(small.length, 0x2e));
  to.written.length = 0;
  return { relay, large: next };
}

describe('tcp relay: lent read buffers', () => {
  test('quiet sockets share one small buffer, and their writes get a copy of it', () => {
    const to = new Destination();
    const a = new Relay();
    const b = new Relay();
    const shared = a.lend();
    assert.equal(shared.length, 4 * 1024);
    assert.equal(b.lend(), shared);
    to.hold = true;
    const { more, next } = read(a, shared, to, Buffer.from('hello'));
    assert.equal(more, true);
    assert.equal(next, shared, 'a small read keeps the socket on the shared buffer');
    read(b, shared, to, Buffer.from('world'));
    assert.deepEqual(
      to.written.map((chunk) => chunk.toString()),
      ['hello', 'world'],
      'a pending write keeps its bytes when another socket reads into the shared buffer',
    );
    assert.ok(to.written.every((chunk) => chunk.buffer !== shared.buffer));
  });

  test('after a read that fills the small buffer a socket gets a large one, and back after a small read', async () => {
    const to = new Destination();
    const { relay, large } = busyRelay(to);
    assert.equal(large.length, 64 * 1024);
    assert.equal(to.written.length, 0);
    const kept = read(relay, large, to, Buffer.alloc(10_000, 1)).next;
    assert.equal(kept, large, 'reads of 4 KiB or more stay on the large buffer');
    const small = read(relay, kept, to, Buffer.alloc(100, 2)).next;
    assert.equal(small, new Relay().lend(), 'back on the shared buffer');
    await tick();
    assert.equal(busyRelay(new Destination()).large, large, 'the large buffer went back to the spares');
  });

  test('a large buffer whose write completed at once is read into again, with no copy', async () => {
    const to = new Destination();
    const { relay, large } = busyRelay(to);
    const { more, next } = read(relay, large, to, Buffer.alloc(20_000, 'x'));
    assert.equal(more, true);
    assert.equal(next, large);
    assert.equal(to.written[0]?.buffer, large.buffer, 'written from the read buffer itself');
    await tick();
    assert.equal(relay.lend(), large);
  });

  test('a large buffer held by a pending write is neither read into nor lent again until the write completes', async () => {
    const to = new Destination();
    const { relay, large } = busyRelay(to);
    to.hold = true;
    const held = read(relay, large, to, Buffer.alloc(30_000, 'a'));
    assert.equal(held.more, false, 'the destination is full: the source pauses');
    assert.notEqual(held.next, large, 'the source reads into another buffer meanwhile');
    // Other relays take large buffers from the same spares: none gets the held one.
    const others = Array.from({ length: 8 }, () => busyRelay(new Destination()).large);
    assert.ok(!others.includes(large));
    assert.equal(to.written[0]?.toString(), 'a'.repeat(30_000), 'the pending write still sees its bytes');
    to.complete();
    await tick();
    assert.equal(busyRelay(new Destination()).large, large, 'a completed write gives its buffer back');
  });

  test('a small chunk queued behind pending writes is copied, so it holds no large buffer', () => {
    const to = new Destination();
    const { relay, large } = busyRelay(to);
    to.hold = true;
    const first = read(relay, large, to, Buffer.alloc(8_000, 'x'));
    const tiny = read(relay, first.next, to, Buffer.alloc(5_000, 'y'));
    assert.equal(tiny.next, first.next, 'the read buffer stays with the source');
    assert.notEqual(to.written[1]?.buffer, first.next.buffer, 'the queued chunk is a copy');
    assert.equal(to.written[1]?.toString(), 'y'.repeat(5_000));
  });

  test('chunks a relay did not lend (from a socket Node.js reads) are written as they are', () => {
    const relay = new Relay();
    const to = new Destination();
    const chunk = Buffer.from('node allocated');
    assert.equal(relay.forward(to.socket, chunk.length, chunk), true);
    assert.equal(to.written[0], chunk);
  });
});
