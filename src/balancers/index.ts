import type { AlgorithmName } from '../config/types.js';
import { BallastError, ErrorCodes, NoServerAvailableError } from '../core/errors.js';
import type { BalancerTarget } from '../core/server.js';
import { ConsistentHashBalancer } from './consistent-hash.js';
import { LeastConnectionsBalancer } from './least-connections.js';
import { PowerOfTwoBalancer } from './power-of-two.js';
import { RandomBalancer } from './random.js';
import { ResponseTimeBalancer } from './response-time.js';
import { RoundRobinBalancer } from './round-robin.js';
import { SourceIpBalancer } from './source-ip.js';
import type { Balancer, BalancerOptions, PickContext } from './types.js';
import { WeightedRoundRobinBalancer } from './weighted-round-robin.js';

export type { Balancer, BalancerOptions, PickContext } from './types.js';
export { isPickableWeight } from './types.js';
export { ConsistentHashBalancer } from './consistent-hash.js';
export { LeastConnectionsBalancer } from './least-connections.js';
export { PowerOfTwoBalancer } from './power-of-two.js';
export { RandomBalancer } from './random.js';
export { DEFAULT_RESPONSE_TIME_WINDOW_MS, ResponseTimeBalancer } from './response-time.js';
export { RoundRobinBalancer } from './round-robin.js';
export { SourceIpBalancer } from './source-ip.js';
export { WeightedRoundRobinBalancer } from './weighted-round-robin.js';
export { hashKey, hashString } from './hash.js';
export { MAGLEV_TABLE_SIZE } from './maglev.js';

/**
 * The balancer for an algorithm name. Every name in `ALGORITHMS` has one;
 * any other value (possible only from unchecked input) throws a BallastError
 * with code `BALLAST_ERR_UNKNOWN_ALGORITHM`.
 */
export function createBalancer<T extends BalancerTarget = BalancerTarget>(
  name: AlgorithmName,
  options: BalancerOptions = {},
): Balancer<T> {
  switch (name) {
    case 'round-robin':
      return new RoundRobinBalancer<T>();
    case 'weighted-round-robin':
      return new WeightedRoundRobinBalancer<T>();
    case 'least-connections':
      return new LeastConnectionsBalancer<T>();
    case 'response-time':
      return new ResponseTimeBalancer<T>({
        ...(options.random === undefined ? {} : { random: options.random }),
        ...(options.clock === undefined ? {} : { clock: options.clock }),
        ...(options.responseTimeWindowMs === undefined ? {} : { windowMs: options.responseTimeWindowMs }),
      });
    case 'power-of-two':
      return new PowerOfTwoBalancer<T>(options.random);
    case 'random':
      return new RandomBalancer<T>(options.random);
    case 'source-ip':
      return new SourceIpBalancer<T>();
    case 'consistent-hash':
      return new ConsistentHashBalancer<T>();
    default: {
      const unknown: never = name;
      throw new BallastError(ErrorCodes.UNKNOWN_ALGORITHM, `unknown load-balancing algorithm "${String(unknown)}"`, 500);
    }
  }
}

/**
 * `balancer.pick(ctx)`, or a NoServerAvailableError (code
 * `BALLAST_ERR_NO_SERVER_AVAILABLE`, HTTP 503) naming `poolName` when no
 * server can take the request.
 */
export function pickOrThrow<T extends BalancerTarget>(balancer: Balancer<T>, ctx: PickContext, poolName: string): T {
  const target = balancer.pick(ctx);
  if (target === null) throw new NoServerAvailableError(poolName);
  return target;
}
