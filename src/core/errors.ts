/**
 * The error catalogue: every failure Ballast reports has a stable code here.
 * Code branches on `code`, never on message text. `status` is the HTTP status
 * a proxy answers with when the error ends a client request.
 */

export const ErrorCodes = {
  CONFIG_INVALID: 'BALLAST_ERR_CONFIG_INVALID',
  CONFIG_READ: 'BALLAST_ERR_CONFIG_READ',
  CONFIG_UNKNOWN_POOL: 'BALLAST_ERR_CONFIG_UNKNOWN_POOL',
  UNKNOWN_ALGORITHM: 'BALLAST_ERR_UNKNOWN_ALGORITHM',
  NO_ROUTE: 'BALLAST_ERR_NO_ROUTE',
  NO_SERVER_AVAILABLE: 'BALLAST_ERR_NO_SERVER_AVAILABLE',
  QUEUE_FULL: 'BALLAST_ERR_QUEUE_FULL',
  QUEUE_TIMEOUT: 'BALLAST_ERR_QUEUE_TIMEOUT',
  UPSTREAM_CONNECT: 'BALLAST_ERR_UPSTREAM_CONNECT',
  UPSTREAM_TIMEOUT: 'BALLAST_ERR_UPSTREAM_TIMEOUT',
  UPSTREAM_RESET: 'BALLAST_ERR_UPSTREAM_RESET',
  UPSTREAM_PROTOCOL: 'BALLAST_ERR_UPSTREAM_PROTOCOL',
  CLIENT_ABORTED: 'BALLAST_ERR_CLIENT_ABORTED',
  UNKNOWN_POOL: 'BALLAST_ERR_UNKNOWN_POOL',
  UNKNOWN_SERVER: 'BALLAST_ERR_UNKNOWN_SERVER',
  UNAUTHORIZED: 'BALLAST_ERR_UNAUTHORIZED',
  FORBIDDEN: 'BALLAST_ERR_FORBIDDEN',
  BAD_REQUEST: 'BALLAST_ERR_BAD_REQUEST',
  RELOAD_FAILED: 'BALLAST_ERR_RELOAD_FAILED',
  NOT_FOUND: 'BALLAST_ERR_NOT_FOUND',
  METHOD_NOT_ALLOWED: 'BALLAST_ERR_METHOD_NOT_ALLOWED',
  PAYLOAD_TOO_LARGE: 'BALLAST_ERR_PAYLOAD_TOO_LARGE',
  INTERNAL: 'BALLAST_ERR_INTERNAL',
  DRILL_SETUP: 'BALLAST_ERR_DRILL_SETUP',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export class BallastError extends Error {
  readonly code: ErrorCode;
  /** HTTP status used when this error ends a client request. */
  readonly status: number;

  constructor(code: ErrorCode, message: string, status = 500, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BallastError';
    this.code = code;
    this.status = status;
  }
}

/** One problem found in a config file, positioned for `FILE:LINE:COL: message`. */
export interface ConfigIssue {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

export class ConfigError extends BallastError {
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    super(ErrorCodes.CONFIG_INVALID, issues.map(formatConfigIssue).join('\n'));
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

export function formatConfigIssue(issue: ConfigIssue): string {
  return `${issue.file}:${issue.line}:${issue.column}: ${issue.message}`;
}

export class NoServerAvailableError extends BallastError {
  constructor(pool: string) {
    super(ErrorCodes.NO_SERVER_AVAILABLE, `no server available in pool "${pool}"`, 503);
    this.name = 'NoServerAvailableError';
  }
}

export function isBallastError(value: unknown): value is BallastError {
  return value instanceof BallastError;
}
