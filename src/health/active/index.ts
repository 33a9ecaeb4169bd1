import type { HealthCheckConfig } from '../../config/types.js';
import { BallastError, ErrorCodes } from '../../core/errors.js';
import type { HostPort } from '../../core/server.js';
import type { CheckResult } from '../types.js';
import { httpCheck } from './http.js';
import { postgresCheck } from './postgres.js';
import { redisCheck } from './redis.js';
import { tcpCheck } from './tcp.js';

export { httpCheck } from './http.js';
export { postgresCheck } from './postgres.js';
export { redisCheck } from './redis.js';
export { tcpCheck } from './tcp.js';

/**
 * Runs the check `config.type` names against `target`. Resolves (never
 * rejects) within `config.timeout` or promptly after `signal` aborts.
 * An unknown type (impossible for a validated config) throws
 * `BALLAST_ERR_CONFIG_INVALID` synchronously.
 */
export function runCheck(target: HostPort, config: HealthCheckConfig, signal: AbortSignal): Promise<CheckResult> {
  switch (config.type) {
    case 'http':
      return httpCheck(target, config, signal);
    case 'tcp':
      return tcpCheck(target, config, signal);
    case 'postgres':
      return postgresCheck(target, config, signal);
    case 'redis':
      return redisCheck(target, config, signal);
    default: {
      const unknown: never = config;
      const type = String((unknown as { readonly type: unknown }).type);
      throw new BallastError(ErrorCodes.CONFIG_INVALID, `unknown health check type "${type}"`);
    }
  }
}
