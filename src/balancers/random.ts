import type { BalancerTarget } from '../core/server.js';
import type { PickContext } from './types.js';
import { WeightedDrawBalancer } from './weighted-sampler.js';

/** Draws before falling back to a scan when drawn servers are at capacity. */
const MAX_DRAWS = 4;

/**
 * `random`: each server is picked with probability weight / total weight,
 * independently of earlier picks. No state is shared between picks, which
 * suits many balancer instances in front of the same servers.
 *
 * pick: O(1) with the alias method; at capacity, up to a few more draws, then
 * a scan (from a random start) bounded by n. Membership and weight changes:
 * O(n), lazily.
 */
export class RandomBalancer<T extends BalancerTarget> extends WeightedDrawBalancer<T> {
  pick(_ctx?: PickContext): T | null {
    const list = this.list;
    const n = list.length;
    if (n === 0) return null;
    for (let draw = 0; draw < MAX_DRAWS; draw++) {
      const target = list[this.draw()]!;
      if (!target.atCapacity) return target;
    }
    const start = Math.floor(this.random() * n);
    for (let i = 0; i < n; i++) {
      const target = list[(start + i) % n]!;
      if (!target.atCapacity) return target;
    }
    return null;
  }
}
