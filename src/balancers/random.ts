import { systemRandom, type Random } from '../core/random.js';
import type { BalancerTarget } from '../core/server.js';
import { Roster } from './roster.js';
import type { Balancer, PickContext } from './types.js';
import { WeightedSampler } from './weighted-sampler.js';

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
export class RandomBalancer<T extends BalancerTarget> implements Balancer<T> {
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
    if (n === 0) return null;
    for (let draw = 0; draw < MAX_DRAWS; draw++) {
      const target = list[this.sampler.sample(this.random())]!;
      if (!target.atCapacity) return target;
    }
    const start = Math.floor(this.random() * n);
    for (let i = 0; i < n; i++) {
      const target = list[(start + i) % n]!;
      if (!target.atCapacity) return target;
    }
    return null;
  }

  private sync(): void {
    this.seenVersion = this.roster.version;
    this.list = this.roster.eligible();
    const weights = new Float64Array(this.list.length);
    for (let i = 0; i < this.list.length; i++) weights[i] = this.list[i]!.weight;
    this.sampler.reset(weights, this.list.length);
  }
}
