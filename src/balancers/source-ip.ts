import type { BalancerTarget } from '../core/server.js';
import { KeyedMaglevBalancer } from './maglev.js';
import type { PickContext } from './types.js';

/**
 * `source-ip`: each client address sticks to one server. The address is the
 * one the listener settled on (the peer, or the address from a PROXY header
 * or a trusted X-Forwarded-For). IPv4 and IPv6 hash by address bytes, so
 * `::ffff:192.0.2.7` and `192.0.2.7`, or two spellings of one IPv6 address,
 * are the same client.
 *
 * Uses the same Maglev machinery as `consistent-hash`: weights respected,
 * when a server fails only its clients move (and come back when it
 * recovers), adding or removing a server moves about 1/n of the clients, and
 * every Ballast instance maps a client to the same server. A context without
 * an address (an empty string) is served round robin.
 *
 * pick: O(length of the address) to hash it, then O(1); see MaglevSelector
 * for the fallback bound.
 */
export class SourceIpBalancer<T extends BalancerTarget> extends KeyedMaglevBalancer<T> {
  protected keyOf(ctx: PickContext): string | undefined {
    return ctx.clientAddress === '' ? undefined : ctx.clientAddress;
  }
}
