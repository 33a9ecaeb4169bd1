export { runCheck, httpCheck, tcpCheck, postgresCheck, redisCheck } from './active/index.js';
export { ActiveHealthChecker } from './checker.js';
export type { ActiveHealthCheckerOptions, HealthCheckTarget, LastCheck } from './checker.js';
export { OutlierDetector } from './outlier.js';
export type { OutlierDetectorOptions, OutlierEvent, OutlierStats } from './outlier.js';
export { RiseFall } from './state.js';
export type { HealthTransition, RiseFallOptions } from './state.js';
export { systemTimers } from '../core/timers.js';
export type { TimerHandle, Timers } from '../core/timers.js';
export type {
  CheckFunction,
  CheckResult,
  HealthStatus,
  HttpHealthCheckConfig,
  PostgresHealthCheckConfig,
  RedisHealthCheckConfig,
  TcpHealthCheckConfig,
} from './types.js';
