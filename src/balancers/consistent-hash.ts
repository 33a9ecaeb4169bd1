import type { BalancerTarget } from '../core/server.js';
import { KeyedMaglevBalancer } from './maglev.js';
import type { PickContext } from './types.js';

/**
 * `consistent-hash`: requests with the same `hashKey` (the pool's
 * `hashKey`: source-ip, path, header:NAME, cookie:NAME or query:NAME) go to
 * the same server, across restarts and across Ballast instances.
 *
 * Keys map through a weighted Maglev table of 65 537 entries (see
 * maglev.ts): a server's share of keys follows its weight; removing one of n
 * servers or adding one moves about 1/n of the keys; when a server is down or
 * at capacity only its keys move, deterministically, and they return when it
 * recovers. Keys that are IP addresses hash by address bytes, so every
 * spelling of an address maps alike. A request without the key is served
 * round robin.
 *
 * pick: O(length of the key) to hash it, then O(1); see MaglevSelector for
 * the fallback bound.
 */
export class ConsistentHashBalancer<T extends BalancerTarget> extends KeyedMaglevBalancer<T> {
  protected keyOf(ctx: PickContext): string | undefined {
    return ctx.hashKey;
  }
}
