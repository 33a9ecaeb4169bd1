import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { hashKey, hashString, KEY_SEED, murmur3 } from '../../src/balancers/hash.js';

describe('hash', () => {
  // Published MurmurHash3 x86_32 vectors: the hash must never change, or
  // instances of different versions would send a client to different servers.
  const vectors: { input: string; seed: number; expected: number }[] = [
    { input: '', seed: 0, expected: 0 },
    { input: '', seed: 1, expected: 0x514e28b7 },
    { input: '', seed: 0xffffffff, expected: 0x81f16f39 },
    { input: 'hello', seed: 0, expected: 0x248bfa47 },
    { input: 'foo', seed: 0, expected: 0xf6a5c420 },
    { input: 'The quick brown fox jumps over the lazy dog', seed: 0, expected: 0x2e4ff723 },
  ];
  for (const { input, seed, expected } of vectors) {
    test(`murmur3(${JSON.stringify(input)}, ${seed}) = ${expected.toString(16)}`, () => {
      assert.equal(hashString(input, seed), expected);
      const bytes = Buffer.from(input, 'utf8');
      assert.equal(murmur3(bytes, bytes.length, seed), expected);
    });
  }

  test('strings hash their UTF-8 bytes', () => {
    for (const input of ['héllo', '日本語のキー', 'emoji 🎈 key', 'a'.repeat(1000), 'x'.repeat(333) + 'é']) {
      const bytes = Buffer.from(input, 'utf8');
      assert.equal(hashString(input, 17), murmur3(bytes, bytes.length, 17), input.slice(0, 20));
    }
    assert.equal(hashString('a\ud800b', 0), hashString('a\ufffdb', 0), 'a lone surrogate encodes as U+FFFD');
  });

  const sameAddress: [string, string][] = [
    ['192.0.2.7', '::ffff:192.0.2.7'],
    ['192.0.2.7', '::FFFF:c000:207'],
    ['2001:db8::1', '2001:DB8:0:0:0:0:0:1'],
    ['2001:db8::1', '2001:0db8:0000::0001'],
    ['fe80::1', 'fe80::1%eth0'],
    ['::1', '0:0:0:0:0:0:0:1'],
    ['::', '0:0:0:0:0:0:0:0'],
    ['1::', '1:0:0:0:0:0:0:0'],
    ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
  ];
  for (const [a, b] of sameAddress) {
    test(`${a} and ${b} are one address`, () => {
      assert.equal(hashKey(a), hashKey(b));
    });
  }

  test('addresses hash by their bytes, other keys by their text', () => {
    assert.equal(hashKey('192.0.2.7'), murmur3(Uint8Array.of(192, 0, 2, 7), 4, KEY_SEED));
    const v6 = Uint8Array.of(0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);
    assert.equal(hashKey('2001:db8::1'), murmur3(v6, 16, KEY_SEED));
    for (const notAddress of [
      'example.com',
      'user-42',
      '/api/v1/items',
      '1.2.3',
      '1.2.3.256',
      '1.2.3.4.5',
      '1..2.3',
      '1::2::3',
      ':::',
      '1:2:3:4:5:6:7:8:9',
      '12345::1',
      'cafe',
      '',
    ]) {
      assert.equal(hashKey(notAddress), hashString(notAddress, KEY_SEED), notAddress);
    }
  });

  test('different addresses spread over the whole range', () => {
    const buckets = new Array<number>(16).fill(0);
    for (let i = 0; i < 16_000; i++) buckets[hashKey(`10.0.${i >> 8}.${i & 255}`) >>> 28]!++;
    for (const count of buckets) assert.ok(count > 800 && count < 1200, `bucket ${count}`);
  });
});
