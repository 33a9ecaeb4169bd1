import type { HostPort } from '../../core/server.js';
import type { CheckResult, TcpHealthCheckConfig } from '../types.js';
import { converse, pass } from './probe.js';

/**
 * Healthy when a TCP connection to `target` is established within
 * `config.timeout`. The connection is closed at once without sending data.
 */
export function tcpCheck(target: HostPort, config: TcpHealthCheckConfig, signal: AbortSignal): Promise<CheckResult> {
  return converse(target, config.timeout, signal, {
    onConnect: (io) => io.finish(pass('connected')),
    onData: () => {},
  });
}
