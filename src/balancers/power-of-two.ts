import type { BalancerTarget } from '../core/server.js';
import type { PickContext } from './types.js';
import { WeightedDrawBalancer } from './weighted-sampler.js';

/** Pairs drawn before falling back to a scan when drawn servers are at capacity. */
const MAX_DRAWS = 4;

/**
 * `power-of-two`: draw two different servers at random (in proportion to
 * their weights) and take the one with fewer requests in flight per unit of
 * weight; on a tie, the first drawn. Nearly as even as least-connections
 * without any shared ordering, and it never herds every new request onto the
 * same "least loaded" server.
 *
 * pick: O(1) (alias-method draws); at capacity, up to a few more draws, then
 * a scan bounded by n. Membership and weight changes: O(n), lazily.
 */
export class PowerOfTwoBalancer<T extends BalancerTarget> extends WeightedDrawBalancer<T> {
  pick(_ctx?: PickContext): T | null {
    const list = this.list;
    const n = list.length;
    if (n <= 1) {
      const only = list[0];
      return only === undefined || only.atCapacity ? null : only;
    }
    for (let draw = 0; draw < MAX_DRAWS; draw++) {
      const first = this.draw();
      let second = this.draw();
      if (second === first) second = this.draw();
      if (second === first) second = first + 1 === n ? 0 : first + 1;
      const a = list[first]!;
      const b = list[second]!;
      // b.load < a.load, compared without division.
      const better = b.inFlight * a.weight < a.inFlight * b.weight ? b : a;
      const worse = better === a ? b : a;
      if (!better.atCapacity) return better;
      if (!worse.atCapacity) return worse;
    }
    return this.pickByScan();
  }

  /** The least loaded server with free capacity, by scan. O(n). */
  private pickByScan(): T | null {
    let best: T | null = null;
    for (const target of this.list) {
      if (target.atCapacity) continue;
      if (best === null || target.inFlight * best.weight < best.inFlight * target.weight) best = target;
    }
    return best;
  }
}
