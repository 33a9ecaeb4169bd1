import { ErrorCodes, type ErrorCode } from '../core/errors.js';
import type { RetryCondition } from '../config/types.js';

/** How an exchange with a server failed, from the proxy's point of view. */
export interface UpstreamFailure {
  /** The retry condition this failure satisfies, if any. */
  readonly condition: RetryCondition | undefined;
  /** True when the request never reached the server (safe to retry for any method). */
  readonly notSent: boolean;
  readonly status: number;
  readonly code: ErrorCode;
  /** Short reason for logs, events and outlier detection. */
  readonly reason: string;
}

const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN']);
const RESET_ERRORS = new Set(['ECONNRESET', 'EPIPE', 'UPSTREAM_CLOSED']);

const connectFailure = (reason: string): UpstreamFailure => ({
  condition: 'connect-failure',
  notSent: true,
  status: 502,
  code: ErrorCodes.UPSTREAM_CONNECT,
  reason,
});

/** Classifies an error of an upstream exchange (see http1/client.ts) or of the socket under it. */
export function classifyUpstreamError(error: unknown): UpstreamFailure {
  const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : '';
  if (CONNECT_ERRORS.has(code)) return connectFailure(code === 'ECONNREFUSED' ? 'refused' : code.toLowerCase());
  if (code === 'UPSTREAM_CONNECT_TIMEOUT') {
    return { condition: 'connect-failure', notSent: true, status: 504, code: ErrorCodes.UPSTREAM_TIMEOUT, reason: 'connect timeout' };
  }
  if (code === 'UPSTREAM_HEADERS_TIMEOUT' || code === 'UPSTREAM_BODY_TIMEOUT') {
    return { condition: 'timeout', notSent: false, status: 504, code: ErrorCodes.UPSTREAM_TIMEOUT, reason: 'timeout' };
  }
  if (RESET_ERRORS.has(code)) {
    return { condition: 'reset', notSent: false, status: 502, code: ErrorCodes.UPSTREAM_RESET, reason: 'reset' };
  }
  return { condition: undefined, notSent: false, status: 502, code: ErrorCodes.UPSTREAM_PROTOCOL, reason: code === '' || code === 'UPSTREAM_PROTOCOL' ? 'protocol error' : code };
}

/** The retry condition a response status satisfies, if any. */
export function statusCondition(status: number): RetryCondition | undefined {
  if (status === 502) return '502';
  if (status === 503) return '503';
  if (status === 504) return '504';
  return undefined;
}
