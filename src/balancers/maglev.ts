import type { BalancerTarget } from '../core/server.js';
import { fmix32, hashKey, hashString } from './hash.js';
import { RoundRobinBalancer } from './round-robin.js';
import { isPickableWeight, type Balancer, type PickContext } from './types.js';

/** Entries of a Maglev lookup table; a prime, as the permutations require. */
export const MAGLEV_TABLE_SIZE = 65537;
const OFFSET_SEED = 0xbb67ae85;
const SKIP_SEED = 0x3c6ef372;
const PROBE_SEED = 0xa54ff53a;
/** Table probes for a key whose own server cannot take it, before a scan. */
const MAX_PROBES = 32;

/**
 * Builds a Maglev lookup table (Eisenbud et al., NSDI 2016) with weights.
 *
 * Every member has a permutation of the table's entries derived from its
 * name (offset and skip from two seeded hashes); members take turns claiming
 * their next unclaimed preferred entry until the table is full. Turns follow
 * stride scheduling, so a member claims entries in proportion to its weight.
 * The result depends only on the set of (name, weight) pairs, never on the
 * order members were added, so every instance builds the same table.
 *
 * Returns entry → index into `names`. Preconditions: names are distinct,
 * weights finite and above zero, `size` prime and names.length <= size.
 * O(size · log size) expected probes plus O(size · log n) for the turns.
 */
export function buildMaglevTable(
  names: readonly string[],
  weights: readonly number[],
  size: number = MAGLEV_TABLE_SIZE,
): Int32Array {
  const table = new Int32Array(size).fill(-1);
  const n = names.length;
  if (n === 0) return table;
  const position = new Int32Array(n);
  const skip = new Int32Array(n);
  const stride = new Float64Array(n);
  const pass = new Float64Array(n);
  let heaviest = 0;
  for (let i = 0; i < n; i++) heaviest = Math.max(heaviest, weights[i]!);
  for (let i = 0; i < n; i++) {
    const name = names[i]!;
    position[i] = hashString(name, OFFSET_SEED) % size;
    skip[i] = (hashString(name, SKIP_SEED) % (size - 1)) + 1;
    stride[i] = heaviest / weights[i]!;
    pass[i] = stride[i]!;
  }
  // Min-heap of members by (pass, index): whose turn it is to claim an entry.
  const heap = new Int32Array(n);
  for (let i = 0; i < n; i++) heap[i] = i;
  for (let i = (n >> 1) - 1; i >= 0; i--) siftTurn(heap, pass, n, i);
  for (let filled = 0; filled < size; filled++) {
    const member = heap[0]!;
    const step = skip[member]!;
    let entry = position[member]!;
    while (table[entry] !== -1) {
      entry += step;
      if (entry >= size) entry -= size;
    }
    table[entry] = member;
    entry += step;
    position[member] = entry >= size ? entry - size : entry;
    pass[member] = pass[member]! + stride[member]!;
    siftTurn(heap, pass, n, 0);
  }
  return table;
}

/** Restores the (pass, index) min-heap order below `at`. O(log n). */
function siftTurn(heap: Int32Array, pass: Float64Array, n: number, at: number): void {
  const item = heap[at]!;
  const itemPass = pass[item]!;
  for (;;) {
    let child = at * 2 + 1;
    if (child >= n) break;
    let childItem = heap[child]!;
    if (child + 1 < n) {
      const right = heap[child + 1]!;
      const rightPass = pass[right]!;
      const leftPass = pass[childItem]!;
      if (rightPass < leftPass || (rightPass === leftPass && right < childItem)) {
        child++;
        childItem = right;
      }
    }
    const childPass = pass[childItem]!;
    if (childPass > itemPass || (childPass === itemPass && childItem > item)) break;
    heap[at] = childItem;
    at = child;
  }
  heap[at] = item;
}

interface Member {
  up: boolean;
  /** Index in the current table's member list; -1 when not in the table. */
  index: number;
}

/**
 * The consistent-hashing machinery shared by `source-ip` and
 * `consistent-hash`: a Maglev table over all members with a pickable weight,
 * up or down, plus a deterministic fallback.
 *
 * A key is served by the member of its table entry. When that member is down,
 * draining or at capacity, the key probes further entries along a sequence
 * derived from the key itself (so its traffic spreads over the others by
 * weight), and after a few probes scans the members in name order. Health
 * changes therefore never rebuild the table: when a server fails only its own
 * keys move, and they move back when it recovers. Adding or removing a
 * server, or changing a weight, rebuilds the table lazily at the next pick
 * and moves about 1/n of the keys.
 *
 * pickByHash: O(1) while the key's server can take it; at most MAX_PROBES
 * probes and then a scan bounded by n otherwise.
 */
export class MaglevSelector<T extends BalancerTarget> {
  private readonly members = new Map<T, Member>();
  /** Keys absent: round robin over the same servers. */
  private readonly fallback = new RoundRobinBalancer<T>();
  private table: Int32Array = new Int32Array(0);
  /** Table member index → target, in name order. */
  private inTable: T[] = [];
  /** Table member index → 1 when up. */
  private upFlags: Uint8Array = new Uint8Array(0);
  /** Table member index → the weight the table was built with. */
  private builtWeights: number[] = [];
  private stale = true;

  add(target: T): void {
    if (this.members.has(target)) return;
    this.members.set(target, { up: false, index: -1 });
    this.fallback.add(target);
    if (isPickableWeight(target.weight)) this.stale = true;
  }

  remove(target: T): void {
    const member = this.members.get(target);
    if (member === undefined) return;
    this.members.delete(target);
    this.fallback.remove(target);
    if (member.index >= 0) {
      this.upFlags[member.index] = 0;
      this.stale = true;
    }
  }

  setUp(target: T): void {
    this.setState(target, true);
    this.fallback.setUp(target);
  }

  setDown(target: T): void {
    this.setState(target, false);
    this.fallback.setDown(target);
  }

  reweight(target: T): void {
    const member = this.members.get(target);
    if (member === undefined) return;
    this.fallback.reweight(target);
    const weight = target.weight;
    const built = member.index >= 0 ? this.builtWeights[member.index] : undefined;
    if (built !== weight && (built !== undefined || isPickableWeight(weight))) this.stale = true;
  }

  /** Round robin over the up members: for requests without a key. */
  pickWithoutKey(): T | null {
    return this.fallback.pick();
  }

  /** The server for a 32-bit key hash, or null when none can take it. */
  pickByHash(hash: number): T | null {
    if (this.stale) this.rebuild();
    const count = this.inTable.length;
    if (count === 0) return null;
    const size = MAGLEV_TABLE_SIZE;
    let entry = hash % size;
    let index = this.table[entry]!;
    if (this.upFlags[index] === 1 && !this.inTable[index]!.atCapacity) return this.inTable[index]!;
    const step = (fmix32(hash ^ PROBE_SEED) % (size - 1)) + 1;
    for (let probe = 0; probe < MAX_PROBES; probe++) {
      entry += step;
      if (entry >= size) entry -= size;
      index = this.table[entry]!;
      if (this.upFlags[index] === 1 && !this.inTable[index]!.atCapacity) return this.inTable[index]!;
    }
    const start = hash % count;
    for (let i = 0; i < count; i++) {
      index = start + i < count ? start + i : start + i - count;
      if (this.upFlags[index] === 1 && !this.inTable[index]!.atCapacity) return this.inTable[index]!;
    }
    return null;
  }

  private setState(target: T, up: boolean): void {
    const member = this.members.get(target);
    if (member === undefined) return;
    member.up = up;
    if (member.index >= 0) this.upFlags[member.index] = up ? 1 : 0;
  }

  /** Rebuilds the table from the members with a pickable weight, in name order. */
  private rebuild(): void {
    const chosen: T[] = [];
    for (const [target, member] of this.members) {
      member.index = -1;
      if (isPickableWeight(target.weight)) chosen.push(target);
    }
    chosen.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const weights = chosen.map((target) => target.weight);
    this.upFlags = new Uint8Array(chosen.length);
    for (let i = 0; i < chosen.length; i++) {
      const member = this.members.get(chosen[i]!)!;
      member.index = i;
      this.upFlags[i] = member.up ? 1 : 0;
    }
    this.table = buildMaglevTable(
      chosen.map((target) => target.name),
      weights,
    );
    this.inTable = chosen;
    this.builtWeights = weights;
    this.stale = false;
  }
}

/**
 * A balancer that maps a per-request key through a MaglevSelector; the
 * subclass says which key. A request without a key is served round robin.
 */
export abstract class KeyedMaglevBalancer<T extends BalancerTarget> implements Balancer<T> {
  private readonly selector = new MaglevSelector<T>();

  /** The key of this request, or undefined when it has none. */
  protected abstract keyOf(ctx: PickContext): string | undefined;

  add(target: T): void {
    this.selector.add(target);
  }

  remove(target: T): void {
    this.selector.remove(target);
  }

  setUp(target: T): void {
    this.selector.setUp(target);
  }

  setDown(target: T): void {
    this.selector.setDown(target);
  }

  reweight(target: T): void {
    this.selector.reweight(target);
  }

  pick(ctx: PickContext): T | null {
    const key = this.keyOf(ctx);
    return key === undefined ? this.selector.pickWithoutKey() : this.selector.pickByHash(hashKey(key));
  }
}
