import type { HealthCheckConfig, OutlierDetectionConfig } from '../../src/config/types.js';
import type {
  HttpHealthCheckConfig,
  PostgresHealthCheckConfig,
  RedisHealthCheckConfig,
  TcpHealthCheckConfig,
} from '../../src/health/types.js';

/** The timing part every health check config shares, with the documented defaults. */
export const timing = {
  interval: 1000,
  timeout: 500,
  healthyThreshold: 2,
  unhealthyThreshold: 2,
  jitter: 0.1,
  initialState: 'unknown',
} as const;

type Timing = Partial<Omit<HealthCheckConfig, 'type'>>;

export function httpConfig(overrides: Partial<Omit<HttpHealthCheckConfig, 'type'>> = {}): HttpHealthCheckConfig {
  return {
    ...timing,
    type: 'http',
    path: '/healthz',
    expectStatus: [{ min: 200, max: 399 }],
    expectBody: undefined,
    host: undefined,
    ...overrides,
  };
}

export function tcpConfig(overrides: Timing = {}): TcpHealthCheckConfig {
  return { ...timing, ...overrides, type: 'tcp' };
}

export function postgresConfig(overrides: Partial<Omit<PostgresHealthCheckConfig, 'type'>> = {}): PostgresHealthCheckConfig {
  return { ...timing, type: 'postgres', user: 'postgres', database: 'postgres', password: undefined, role: 'any', ...overrides };
}

export function redisConfig(overrides: Partial<Omit<RedisHealthCheckConfig, 'type'>> = {}): RedisHealthCheckConfig {
  return { ...timing, type: 'redis', password: undefined, role: 'any', ...overrides };
}

export function outlierConfig(overrides: Partial<OutlierDetectionConfig> = {}): OutlierDetectionConfig {
  return { consecutiveFailures: 5, ejectionTime: 10_000, maxEjectedPercent: 50, ...overrides };
}
