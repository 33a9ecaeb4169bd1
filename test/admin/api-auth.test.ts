import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AuthError, authorize, bearerToken, tokensEqual } from '../../src/admin/auth.js';
import { ErrorCodes } from '../../src/core/errors.js';

function refusal(configured: string | undefined, header: string | undefined): AuthError {
  try {
    authorize(configured, header);
  } catch (error) {
    assert.ok(error instanceof AuthError);
    return error;
  }
  assert.fail('the call was allowed');
}

describe('admin bearer token', () => {
  test('reads the token of a Bearer header, any case of the scheme', () => {
    assert.equal(bearerToken('Bearer abc'), 'abc');
    assert.equal(bearerToken('bearer abc'), 'abc');
    assert.equal(bearerToken('  BEARER   abc  '), 'abc');
    assert.equal(bearerToken(undefined), undefined);
    assert.equal(bearerToken('Basic YWRtaW46eA=='), undefined);
    assert.equal(bearerToken('Bearer'), undefined);
    assert.equal(bearerToken('Bearer a b'), undefined);
  });

  test('compares tokens of any length without throwing', () => {
    assert.equal(tokensEqual('secret', 'secret'), true);
    assert.equal(tokensEqual('secret', 'secreT'), false);
    assert.equal(tokensEqual('secret', 'secret-and-more'), false);
    assert.equal(tokensEqual('secret', ''), false);
    assert.equal(tokensEqual('ünïcode-✓', 'ünïcode-✓'), true);
  });

  test('allows the right token; refuses a missing one with 401, a wrong one with 403, and everything when none is configured', () => {
    assert.doesNotThrow(() => authorize('t0ken', 'Bearer t0ken'));
    const missing = refusal('t0ken', undefined);
    assert.deepEqual([missing.status, missing.code, missing.authFailure], [401, ErrorCodes.UNAUTHORIZED, 'missing']);
    const wrong = refusal('t0ken', 'Bearer t0ken2');
    assert.deepEqual([wrong.status, wrong.code, wrong.authFailure], [403, ErrorCodes.FORBIDDEN, 'wrong']);
    for (const configured of [undefined, '']) {
      const none = refusal(configured, 'Bearer anything');
      assert.deepEqual([none.status, none.code, none.authFailure], [403, ErrorCodes.FORBIDDEN, 'not-configured']);
      assert.match(none.message, /admin\.token/);
    }
  });

  test('never puts a token in an error message', () => {
    for (const error of [refusal('configured-secret', 'Bearer presented-secret'), refusal('configured-secret', undefined)]) {
      assert.doesNotMatch(error.message, /configured-secret|presented-secret/);
    }
  });
});
