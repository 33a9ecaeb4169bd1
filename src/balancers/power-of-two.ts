import { systemRandom, type Random } from '../core/random.js';
import type { BalancerTarget } from '../core/server.js';
import { Roster } from './roster.js';
import type { Balancer, PickContext } from './types.js';
import { WeightedSampler } from './weighted-sampler.js';

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
export class PowerOfTwoBalancer<T extends BalancerTarget> implements Balancer<T> {
  private readonly roster = new Roster<T>();
  private readonly sampler = new WeightedSampler();
  private readonly random: Random;
  private seenVersion = -1;
  private list: readonly T[] = [];

  constructor(random: Random = systemRandom) {
    this.random = random;
  }

  add(target: T): void {
    this.roster.add(target);
  }

  remove(target: T): void {
    this.roster.remove(target);
  }

  setUp(target: T): void {
    this.roster.setUp(target);
  }

  setDown(target: T): void {
    this.roster.setDown(target);
  }

  reweight(target: T): void {
    this.roster.reweight(target);
  }

  pick(_ctx?: PickContext): T | null {
    if (this.roster.version !== this.seenVersion) this.sync();
    const list = this.list;
    const n = list.length;
    if (n <= 1) {
      const only = list[0];
      return only === undefined || only.atCapacity ? null : only;
    }
    for (let draw = 0; draw < MAX_DRAWS; draw++) {
      const first = this.sampler.sample(this.random());
      let second = this.sampler.sample(this.random());
      if (second === first) second = this.sampler.sample(this.random());
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

  private sync(): void {
    this.seenVersion = this.roster.version;
    this.list = this.roster.eligible();
    const weights = new Float64Array(this.list.length);
    for (let i = 0; i < this.list.length; i++) weights[i] = this.list[i]!.weight;
    this.sampler.reset(weights, this.list.length);
  }
}
