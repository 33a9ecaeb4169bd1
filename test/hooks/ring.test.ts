import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Ring } from '../../src/hooks/ring.js';

function drain<T>(ring: Ring<T>): T[] {
  const out: T[] = [];
  for (let item = ring.shift(); item !== undefined; item = ring.shift()) out.push(item);
  return out;
}

describe('Ring', () => {
  test('is FIFO and wraps around', () => {
    const ring = new Ring<number>(3);
    assert.equal(ring.push(1), undefined);
    assert.equal(ring.push(2), undefined);
    assert.equal(ring.shift(), 1);
    assert.equal(ring.push(3), undefined);
    assert.equal(ring.push(4), undefined);
    assert.equal(ring.length, 3);
    assert.deepEqual(drain(ring), [2, 3, 4]);
    assert.equal(ring.shift(), undefined);
    assert.equal(ring.length, 0);
  });

  test('push on a full ring drops and returns the oldest item', () => {
    const ring = new Ring<number>(2);
    ring.push(1);
    ring.push(2);
    assert.equal(ring.push(3), 1);
    assert.equal(ring.push(4), 2);
    assert.deepEqual(drain(ring), [3, 4]);
  });

  test('resize keeps the newest items that fit and returns the others oldest first', () => {
    const ring = new Ring<number>(5);
    for (let item = 1; item <= 7; item++) ring.push(item);
    assert.deepEqual(ring.resize(2), [3, 4, 5]);
    assert.equal(ring.capacity, 2);
    assert.deepEqual(drain(ring), [6, 7]);

    for (let item = 1; item <= 2; item++) ring.push(item);
    assert.deepEqual(ring.resize(4), []);
    ring.push(3);
    ring.push(4);
    assert.equal(ring.push(5), 1);
    assert.deepEqual(drain(ring), [2, 3, 4, 5]);
  });

  test('clear empties it and says how many items it held', () => {
    const ring = new Ring<string>(4);
    ring.push('a');
    ring.push('b');
    assert.equal(ring.clear(), 2);
    assert.equal(ring.length, 0);
    ring.push('c');
    assert.deepEqual(drain(ring), ['c']);
  });
});
