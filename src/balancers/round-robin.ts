import type { BalancerTarget } from '../core/server.js';
import { Roster } from './roster.js';
import type { Balancer, PickContext } from './types.js';

/**
 * `round-robin`: equal turns, in the order servers were added; weights only
 * decide eligibility (0 means never).
 *
 * pick: O(1), plus one step per skipped server at capacity (bounded by n).
 * Membership and weight changes: O(n), applied lazily at the next pick; the
 * rotation resumes after the last server picked.
 */
export class RoundRobinBalancer<T extends BalancerTarget> implements Balancer<T> {
  private readonly roster = new Roster<T>();
  private seenVersion = -1;
  private next = 0;
  private last: T | null = null;

  add(target: T): void {
    this.roster.add(target);
  }

  remove(target: T): void {
    if (this.roster.remove(target) && this.last === target) this.last = null;
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
    const list = this.roster.eligible();
    const n = list.length;
    if (this.roster.version !== this.seenVersion) this.resync(list);
    for (let i = 0; i < n; i++) {
      let index = this.next + i;
      if (index >= n) index -= n;
      const target = list[index]!;
      if (target.atCapacity) continue;
      this.next = index + 1 === n ? 0 : index + 1;
      this.last = target;
      return target;
    }
    return null;
  }

  /** After a membership change: continue after the last picked server. O(n). */
  private resync(list: readonly T[]): void {
    this.seenVersion = this.roster.version;
    const n = list.length;
    const at = this.last === null ? -1 : list.indexOf(this.last);
    if (at !== -1) this.next = at + 1 === n ? 0 : at + 1;
    else this.next = n === 0 ? 0 : this.next % n;
  }
}
