/**
 * Bearer-token authorization of the admin API's state-changing calls.
 *
 * The presented and the configured token are both hashed with SHA-256 and
 * the digests compared with `timingSafeEqual`: equal-length inputs make the
 * comparison constant-time, and hashing first hides the token's length too.
 * Tokens are never logged, echoed or put in an error message.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { BallastError, ErrorCodes } from '../core/errors.js';

/** The realm announced in `WWW-Authenticate` on 401 answers. */
export const AUTH_REALM = 'ballast-admin';

/**
 * The token of an `Authorization: Bearer TOKEN` header, or undefined when the
 * header is absent or uses another scheme. The scheme is case-insensitive
 * (RFC 7235); surrounding blanks are ignored.
 */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^\s*bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/** Constant-time comparison of two secrets, whatever their lengths. O(length). */
export function tokensEqual(expected: string, presented: string): boolean {
  const a = createHash('sha256').update(expected, 'utf8').digest();
  const b = createHash('sha256').update(presented, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/** Why a state-changing call was refused: no bearer token, a wrong one, or none configured. */
export type AuthFailure = 'missing' | 'wrong' | 'not-configured';

/**
 * Checks the `Authorization` header of a state-changing call against the
 * configured token. Throws a BallastError: 401 (UNAUTHORIZED) without a bearer
 * token, 403 (FORBIDDEN) with a wrong one, and 403 when no token is
 * configured, since then no caller may change state. The error carries the
 * failure kind in `authFailure` for logging.
 */
export function authorize(configured: string | undefined, authorization: string | undefined): void {
  if (configured === undefined || configured === '') {
    throw new AuthError(
      'not-configured',
      ErrorCodes.FORBIDDEN,
      'state-changing calls are refused: no admin token is configured (set admin.token)',
      403,
    );
  }
  const presented = bearerToken(authorization);
  if (presented === undefined) {
    throw new AuthError('missing', ErrorCodes.UNAUTHORIZED, 'this call changes state: send "Authorization: Bearer <admin token>"', 401);
  }
  if (!tokensEqual(configured, presented)) {
    throw new AuthError('wrong', ErrorCodes.FORBIDDEN, 'the bearer token is not the admin token', 403);
  }
}

/** A refused call; a BallastError whose `authFailure` tells why. */
export class AuthError extends BallastError {
  readonly authFailure: AuthFailure;

  constructor(failure: AuthFailure, code: typeof ErrorCodes.UNAUTHORIZED | typeof ErrorCodes.FORBIDDEN, message: string, status: number) {
    super(code, message, status);
    this.name = 'AuthError';
    this.authFailure = failure;
  }
}
