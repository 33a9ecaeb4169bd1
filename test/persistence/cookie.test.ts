import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { StickyCookie } from '../../src/persistence/cookie.js';

const NOW = Date.UTC(2026, 10, 21);
const options = { pool: 'web', cookie: 'BALLAST_ROUTE', secret: 'a-secret-of-enough-length', ttlMs: 3_600_000 };

function valueOf(setCookie: string): string {
  return setCookie.slice(setCookie.indexOf('=') + 1, setCookie.indexOf(';'));
}

describe('StickyCookie', () => {
  const cookie = new StickyCookie(options);

  test('a cookie it issued verifies and names the server', () => {
    const issued = cookie.issue('web-2', NOW, false);
    assert.match(issued, /^BALLAST_ROUTE=web-2~[0-9a-z]+~[A-Za-z0-9_-]{22}; Path=\/; Max-Age=3600; HttpOnly; SameSite=Lax$/);
    assert.equal(cookie.verify(valueOf(issued), NOW + 1000)?.server, 'web-2');
  });

  test('https listeners get the Secure attribute', () => {
    assert.match(cookie.issue('web-2', NOW, true), /; Secure$/);
  });

  test('every flipped character is rejected', () => {
    const value = valueOf(cookie.issue('web-2', NOW, false));
    for (let i = 0; i < value.length; i++) {
      const flipped = value.slice(0, i) + (value[i] === 'a' ? 'b' : 'a') + value.slice(i + 1);
      if (flipped === value) continue;
      assert.equal(cookie.verify(flipped, NOW), undefined, `position ${i}`);
    }
  });

  test('expired, foreign-pool, other-secret, oversized and malformed cookies are rejected', () => {
    const value = valueOf(cookie.issue('web-2', NOW, false));
    assert.equal(cookie.verify(value, NOW + options.ttlMs + 1000), undefined);
    assert.equal(new StickyCookie({ ...options, pool: 'api' }).verify(value, NOW), undefined);
    assert.equal(new StickyCookie({ ...options, secret: 'another-secret-entirely' }).verify(value, NOW), undefined);
    assert.equal(cookie.verify(`${'x'.repeat(300)}~1~${'a'.repeat(22)}`, NOW), undefined);
    for (const bad of ['', 'web-2', 'web-2~~', '~~~', 'web-2~zz~short', undefined]) assert.equal(cookie.verify(bad, NOW), undefined);
  });

  test('another instance with the same secret and pool honours it', () => {
    const value = valueOf(cookie.issue('web-3', NOW, false));
    assert.equal(new StickyCookie(options).verify(value, NOW)?.server, 'web-3');
  });

  test('renewal is wanted past half the lifetime', () => {
    assert.equal(cookie.wantsRenewal(NOW + options.ttlMs, NOW), false);
    assert.equal(cookie.wantsRenewal(NOW + options.ttlMs / 2 - 1, NOW), true);
  });
});
