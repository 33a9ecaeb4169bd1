import type { BalancerTarget } from '../core/server.js';
import { isPickableWeight } from './types.js';

/**
 * Membership bookkeeping shared by the list-based balancers: which targets
 * belong, which are up, and the list of eligible ones (up, pickable weight)
 * in insertion order. The list is rebuilt lazily, at most once per batch of
 * changes, in O(n); `version` tells users when to rebuild their own indexes.
 */
export class Roster<T extends BalancerTarget> {
  /** Member → up. Map iteration keeps insertion order. */
  private readonly up = new Map<T, boolean>();
  private list: T[] = [];
  private stale = false;
  private listVersion = 0;

  /** Returns false when `target` already was a member. */
  add(target: T): boolean {
    if (this.up.has(target)) return false;
    this.up.set(target, false);
    return true;
  }

  /** Returns false when `target` was not a member. */
  remove(target: T): boolean {
    const wasUp = this.up.get(target);
    if (wasUp === undefined) return false;
    this.up.delete(target);
    if (wasUp) this.stale = true;
    return true;
  }

  /** Returns true when `target` is a member that was down. */
  setUp(target: T): boolean {
    if (this.up.get(target) !== false) return false;
    this.up.set(target, true);
    this.stale = true;
    return true;
  }

  /** Returns true when `target` is a member that was up. */
  setDown(target: T): boolean {
    if (this.up.get(target) !== true) return false;
    this.up.set(target, false);
    this.stale = true;
    return true;
  }

  /** Notes a weight change; only up members affect the eligible list. */
  reweight(target: T): void {
    if (this.up.get(target) === true) this.stale = true;
  }

  has(target: T): boolean {
    return this.up.has(target);
  }

  isUp(target: T): boolean {
    return this.up.get(target) === true;
  }

  /** Increases every time `eligible()` returns a rebuilt list. */
  get version(): number {
    if (this.stale) this.rebuild();
    return this.listVersion;
  }

  /** Up members with a pickable weight, in insertion order. O(1), or O(n) after a change. */
  eligible(): readonly T[] {
    if (this.stale) this.rebuild();
    return this.list;
  }

  private rebuild(): void {
    const list: T[] = [];
    for (const [target, up] of this.up) if (up && isPickableWeight(target.weight)) list.push(target);
    this.list = list;
    this.stale = false;
    this.listVersion++;
  }
}
