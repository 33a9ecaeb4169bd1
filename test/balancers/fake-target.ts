import type { Balancer, PickContext } from '../../src/balancers/types.js';
import type { BalancerTarget } from '../../src/core/server.js';

/** A server as the pool presents it to a balancer; tests set its fields directly. */
export class FakeTarget implements BalancerTarget {
  inFlight = 0;
  maxConnections = Infinity;

  constructor(
    readonly name: string,
    public weight = 1,
  ) {}

  get atCapacity(): boolean {
    return this.inFlight >= this.maxConnections;
  }
}

/** Targets named by `names`, weights from `weights` (default 1 each). */
export function makeTargets(names: readonly string[], weights: readonly number[] = []): FakeTarget[] {
  return names.map((name, i) => new FakeTarget(name, weights[i] ?? 1));
}

/** Adds every target and marks it up. */
export function addUp(balancer: Balancer<FakeTarget>, targets: readonly FakeTarget[]): void {
  for (const target of targets) {
    balancer.add(target);
    balancer.setUp(target);
  }
}

/** A context that differs per `i`: distinct client addresses and hash keys. */
export function contextFor(i: number): PickContext {
  return { clientAddress: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, hashKey: `user-${i}` };
}

export const NO_KEY: PickContext = { clientAddress: '', hashKey: undefined };

/** Names of `count` picks with contexts `contextFor(0..count)`; null picks recorded as "null". */
export function pickNames(balancer: Balancer<FakeTarget>, count: number, context = contextFor): string[] {
  const names: string[] = [];
  for (let i = 0; i < count; i++) names.push(balancer.pick(context(i))?.name ?? 'null');
  return names;
}

/** How often each name occurs. */
export function tally(names: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const name of names) counts.set(name, (counts.get(name) ?? 0) + 1);
  return counts;
}

/** Fraction of positions where two equally long sequences differ. */
export function movedFraction(before: readonly string[], after: readonly string[]): number {
  let moved = 0;
  for (let i = 0; i < before.length; i++) if (before[i] !== after[i]) moved++;
  return moved / before.length;
}
