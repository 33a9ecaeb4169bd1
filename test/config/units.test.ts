import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAddress, parseDuration, parseSize } from '../../src/config/index.js';
import { MAX_DURATION_MS, parseHashKey, parseStatusRange } from '../../src/config/units.js';

describe('parseDuration', () => {
  const valid: [string, number][] = [
    ['0', 0],
    ['250ms', 250],
    ['2s', 2000],
    ['1m', 60_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
    ['1m30s', 90_000],
    ['1h2m3s4ms', 3_723_004],
    ['1.5s', 1500],
    ['0.25s', 250],
    ['1.1s', 1100],
    ['24d', 24 * 86_400_000],
  ];
  for (const [text, ms] of valid) {
    test(`${text} is ${ms} ms`, () => assert.equal(parseDuration(text), ms));
  }

  const invalid: [string, RegExp][] = [
    ['5 sec', /invalid duration "5 sec": write a number followed by a unit/],
    ['5', /invalid duration "5"/],
    ['', /invalid duration ""/],
    ['s', /invalid duration "s"/],
    ['-1s', /invalid duration "-1s"/],
    ['1.5ms', /millisecond precision/],
    ['0.0001s', /millisecond precision/],
    ['25d', /the longest duration allowed is 24d/],
    ['2S', /invalid duration "2S"/],
  ];
  for (const [text, message] of invalid) {
    test(`${JSON.stringify(text)} is rejected`, () => assert.throws(() => parseDuration(text), message));
  }

  test('the maximum is what Node timers honour', () => {
    assert.equal(MAX_DURATION_MS, 2 ** 31 - 1);
    assert.equal(parseDuration('24d20h31m23s647ms'), MAX_DURATION_MS);
    assert.throws(() => parseDuration('24d20h31m23s648ms'), /longest/);
  });
});

describe('parseAddress', () => {
  const valid: [string, string, number][] = [
    ['127.0.0.1:8080', '127.0.0.1', 8080],
    ['0.0.0.0:0', '0.0.0.0', 0],
    ['[::1]:8080', '::1', 8080],
    ['[::]:443', '::', 443],
    ['[2001:db8::10]:65535', '2001:db8::10', 65535],
    ['localhost:80', 'localhost', 80],
    ['backend-1.internal.example.com:5432', 'backend-1.internal.example.com', 5432],
  ];
  for (const [text, host, port] of valid) {
    test(`${text} → ${host} port ${port}`, () => assert.deepEqual(parseAddress(text), { host, port }));
  }

  const invalid: [string, string][] = [
    ['localhost', 'invalid address "localhost": expected host:port, e.g. 127.0.0.1:8080 or [::1]:8080'],
    ['127.0.0.1:70000', 'invalid address "127.0.0.1:70000": the port must be a number from 0 to 65535'],
    ['127.0.0.1:', 'invalid address "127.0.0.1:": the port must be a number from 0 to 65535'],
    ['127.0.0.1:http', 'invalid address "127.0.0.1:http": the port must be a number from 0 to 65535'],
    ['::1:8080', 'invalid address "::1:8080": write IPv6 addresses in brackets, e.g. [::1]:8080'],
    ['[::1]8080', 'invalid address "[::1]8080": expected [IPv6]:port, e.g. [::1]:8080'],
    ['[127.0.0.1]:80', 'invalid address "[127.0.0.1]:80": "127.0.0.1" is not an IPv6 address'],
    ['256.1.1.1:80', 'invalid address "256.1.1.1:80": "256.1.1.1" is neither an IPv4 address nor a host name'],
    ['bad_host:80', 'invalid address "bad_host:80": "bad_host" is neither an IPv4 address nor a host name'],
    [':80', 'invalid address ":80": "" is neither an IPv4 address nor a host name'],
  ];
  for (const [text, message] of invalid) {
    test(`${JSON.stringify(text)} is rejected`, () => assert.throws(() => parseAddress(text), { message }));
  }
});

describe('parseSize', () => {
  const valid: [string, number][] = [
    ['0', 0],
    ['512', 512],
    ['512B', 512],
    ['64KiB', 65_536],
    ['1MiB', 1_048_576],
    ['2GiB', 2_147_483_648],
  ];
  for (const [text, bytes] of valid) {
    test(`${text} is ${bytes} bytes`, () => assert.equal(parseSize(text), bytes));
  }
  for (const text of ['64KB', '1 MiB', 'lots', '-1', '1.5MiB']) {
    test(`${JSON.stringify(text)} is rejected`, () => assert.throws(() => parseSize(text), /^Error: invalid size/));
  }
});

describe('parseStatusRange', () => {
  test('a code, a range and a class', () => {
    assert.deepEqual(parseStatusRange(200), { min: 200, max: 200 });
    assert.deepEqual(parseStatusRange('204'), { min: 204, max: 204 });
    assert.deepEqual(parseStatusRange('200-399'), { min: 200, max: 399 });
    assert.deepEqual(parseStatusRange('3xx'), { min: 300, max: 399 });
  });
  test('malformed or reversed entries are rejected', () => {
    assert.throws(() => parseStatusRange(99), /invalid status 99/);
    assert.throws(() => parseStatusRange('600'), /invalid status "600"/);
    assert.throws(() => parseStatusRange('abc'), /invalid status "abc"/);
    assert.throws(() => parseStatusRange('399-200'), /the end is below the start/);
  });
});

describe('parseHashKey', () => {
  test('every kind', () => {
    assert.deepEqual(parseHashKey('source-ip'), { kind: 'source-ip' });
    assert.deepEqual(parseHashKey('path'), { kind: 'path' });
    assert.deepEqual(parseHashKey('header:X-User'), { kind: 'header', name: 'x-user' });
    assert.deepEqual(parseHashKey('cookie:Session'), { kind: 'cookie', name: 'Session' });
    assert.deepEqual(parseHashKey('query:id'), { kind: 'query', name: 'id' });
  });
  test('unknown kinds and empty names are rejected', () => {
    for (const text of ['ip', 'header:', 'body:x', ':x', '']) {
      assert.throws(() => parseHashKey(text), /invalid hashKey/);
    }
  });
});
