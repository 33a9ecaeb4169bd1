import { systemRandom, type Random } from '../core/random.js';
import type { BalancerTarget } from '../core/server.js';
import { Roster } from './roster.js';
import type { Balancer, PickContext } from './types.js';
/**
 * Weighted sampling in O(1) per draw with Vose's alias method: index i is
 * returned with probability weights[i] / sum(weights). Building costs O(n);
 * a draw costs one uniform number, one multiply and one comparison, and
 * allocates nothing.
 */
export class WeightedSampler {
  private probability = new Float64Array(0);
  private alias = new Int32Array(0);
  private count = 0;

  get size(): number {
    return this.count;
  }

  /**
   * Replaces the distribution. Precondition: every weight in `weights[0..count)`
   * is finite and above zero. O(count).
   */
  reset(weights: ArrayLike<number>, count: number): void {
    if (this.probability.length < count) {
      this.probability = new Float64Array(count);
      this.alias = new Int32Array(count);
    }
    this.count = count;
    if (count === 0) return;
    let total = 0;
    for (let i = 0; i < count; i++) total += weights[i]!;
    const scaled = new Float64Array(count);
    const small = new Int32Array(count);
    const large = new Int32Array(count);
    let smallTop = 0;
    let largeTop = 0;
    for (let i = 0; i < count; i++) {
      scaled[i] = (weights[i]! * count) / total;
      if (scaled[i]! < 1) small[smallTop++] = i;
      else large[largeTop++] = i;
    }
    while (smallTop > 0 && largeTop > 0) {
      const less = small[--smallTop]!;
      const more = large[largeTop - 1]!;
      this.probability[less] = scaled[less]!;
      this.alias[less] = more;
      scaled[more] = scaled[more]! + scaled[less]! - 1;
      if (scaled[more]! < 1) {
        largeTop--;
        small[smallTop++] = more;
      }
    }
    // What is left is 1 up to rounding error.
    while (largeTop > 0) {
      const i = large[--largeTop]!;
      this.probability[i] = 1;
      this.alias[i] = i;
    }
    while (smallTop > 0) {
      const i = small[--smallTop]!;
      this.probability[i] = 1;
      this.alias[i] = i;
    }
  }

  /** Draws an index from a uniform `u` in [0, 1). Precondition: size > 0. O(1). */
  sample(u: number): number {
    const x = u * this.count;
    const column = Math.floor(x);
    return x - column < this.probability[column]! ? column : this.alias[column]!;
  }
}

/**
 * Shared machinery of the balancers that draw servers at random in
 * proportion to their weights (`random`, `power-of-two`): membership in a
 * roster, and an alias-method sampler over the eligible servers, rebuilt
 * lazily (O(n)) on the first pick after any change.
 */
export abstract class WeightedDrawBalancer<T extends BalancerTarget> implements Balancer<T> {
  private readonly roster = new Roster<T>();
  private readonly sampler = new WeightedSampler();
  private seenVersion = -1;
  private eligible: readonly T[] = [];

  constructor(protected readonly random: Random = systemRandom) {}

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

  abstract pick(ctx?: PickContext): T | null;

  /** The eligible servers, current as of this call. */
  protected get list(): readonly T[] {
    if (this.roster.version !== this.seenVersion) this.sync();
    return this.eligible;
  }

  /** An index into `list`, drawn in proportion to weight. Call after reading `list`. O(1). */
  protected draw(): number {
    return this.sampler.sample(this.random());
  }

  private sync(): void {
    this.seenVersion = this.roster.version;
    this.eligible = this.roster.eligible();
    const weights = new Float64Array(this.eligible.length);
    for (let i = 0; i < this.eligible.length; i++) weights[i] = this.eligible[i]!.weight;
    this.sampler.reset(weights, this.eligible.length);
  }
}
