import type { BalancerTarget } from '../core/server.js';
import type { Balancer, PickContext } from './types.js';
import { isPickableWeight } from './types.js';

interface Entry<T> {
  readonly target: T;
  readonly order: number;
  up: boolean;
  /** Weight as of the last `reweight`/`setUp`. */
  weight: number;
  /** inFlight / weight as last observed. */
  load: number;
  /** Virtual time of this server's next turn among servers with equal load. */
  deadline: number;
  /** Index in the heap, -1 when not in it. */
  position: number;
}

/**
 * `least-connections`: the server with the fewest requests or connections in
 * flight per unit of weight (`inFlight / weight`).
 *
 * Servers with equal load take turns: each has a virtual deadline that
 * advances by 1/weight when it is picked, and the earliest deadline wins a
 * tie (stride scheduling). With equal weights that is plain round robin; when
 * traffic is sequential (every load is 0) it is weighted round robin, so
 * weights still count on a quiet pool.
 *
 * Eligible servers sit in a binary min-heap ordered by (load, deadline,
 * insertion order). The pool updates `inFlight` and then calls
 * `onRequestStart`/`onRequestEnd`, which re-sift that one server: O(log n).
 * `pick` is O(log n); a server at capacity at the top is set aside for the
 * pick, O(log n) each, bounded by n. A top whose `inFlight` changed without a
 * hook is re-sorted before it is trusted.
 */
export class LeastConnectionsBalancer<T extends BalancerTarget> implements Balancer<T> {
  private readonly entries = new Map<T, Entry<T>>();
  private readonly heap: Entry<T>[] = [];
  private readonly setAside: Entry<T>[] = [];
  private virtualTime = 0;
  private nextOrder = 0;

  add(target: T): void {
    if (this.entries.has(target)) return;
    this.entries.set(target, {
      target,
      order: this.nextOrder++,
      up: false,
      weight: 0,
      load: 0,
      deadline: 0,
      position: -1,
    });
  }

  remove(target: T): void {
    const entry = this.entries.get(target);
    if (entry === undefined) return;
    if (entry.position >= 0) this.removeAt(entry.position);
    this.entries.delete(target);
  }

  setUp(target: T): void {
    const entry = this.entries.get(target);
    if (entry === undefined || entry.up) return;
    entry.up = true;
    this.place(entry);
  }

  setDown(target: T): void {
    const entry = this.entries.get(target);
    if (entry === undefined || !entry.up) return;
    entry.up = false;
    if (entry.position >= 0) this.removeAt(entry.position);
  }

  reweight(target: T): void {
    const entry = this.entries.get(target);
    if (entry === undefined || !entry.up) return;
    if (entry.position >= 0 && isPickableWeight(target.weight)) {
      entry.weight = target.weight;
      this.rekey(entry);
    } else {
      if (entry.position >= 0) this.removeAt(entry.position);
      this.place(entry);
    }
  }

  onRequestStart(target: T): void {
    const entry = this.entries.get(target);
    if (entry !== undefined && entry.position >= 0) this.rekey(entry);
  }

  onRequestEnd(target: T): void {
    const entry = this.entries.get(target);
    if (entry !== undefined && entry.position >= 0) this.rekey(entry);
  }

  pick(_ctx?: PickContext): T | null {
    const heap = this.heap;
    let chosen: Entry<T> | undefined;
    while (heap.length > 0) {
      const top = heap[0]!;
      const load = top.target.inFlight / top.weight;
      if (load !== top.load) {
        top.load = load;
        this.siftDown(0);
        continue;
      }
      if (!top.target.atCapacity) {
        chosen = top;
        break;
      }
      this.removeAt(0);
      this.setAside.push(top);
    }
    if (chosen !== undefined) {
      if (chosen.deadline > this.virtualTime) this.virtualTime = chosen.deadline;
      chosen.deadline = this.virtualTime + 1 / chosen.weight;
      this.siftDown(chosen.position);
    }
    if (this.setAside.length > 0) {
      for (const entry of this.setAside) this.insert(entry);
      this.setAside.length = 0;
    }
    return chosen === undefined ? null : chosen.target;
  }

  /** Puts an up entry into the heap when its weight is pickable; it joins the rotation now. */
  private place(entry: Entry<T>): void {
    const weight = entry.target.weight;
    if (!isPickableWeight(weight)) return;
    entry.weight = weight;
    entry.load = entry.target.inFlight / weight;
    entry.deadline = this.virtualTime;
    this.insert(entry);
  }

  private rekey(entry: Entry<T>): void {
    const load = entry.target.inFlight / entry.weight;
    if (load === entry.load) return;
    const lighter = load < entry.load;
    entry.load = load;
    if (lighter) this.siftUp(entry.position);
    else this.siftDown(entry.position);
  }

  private insert(entry: Entry<T>): void {
    entry.position = this.heap.length;
    this.heap.push(entry);
    this.siftUp(entry.position);
  }

  private removeAt(position: number): void {
    const heap = this.heap;
    const removed = heap[position]!;
    const last = heap.pop()!;
    removed.position = -1;
    if (last === removed) return;
    heap[position] = last;
    last.position = position;
    this.siftUp(position);
    this.siftDown(last.position);
  }

  private siftUp(position: number): void {
    const heap = this.heap;
    const entry = heap[position]!;
    while (position > 0) {
      const parentAt = (position - 1) >> 1;
      const parent = heap[parentAt]!;
      if (!before(entry, parent)) break;
      heap[position] = parent;
      parent.position = position;
      position = parentAt;
    }
    heap[position] = entry;
    entry.position = position;
  }

  private siftDown(position: number): void {
    const heap = this.heap;
    const n = heap.length;
    const entry = heap[position]!;
    for (;;) {
      let child = position * 2 + 1;
      if (child >= n) break;
      const right = child + 1;
      if (right < n && before(heap[right]!, heap[child]!)) child = right;
      const smaller = heap[child]!;
      if (!before(smaller, entry)) break;
      heap[position] = smaller;
      smaller.position = position;
      position = child;
    }
    heap[position] = entry;
    entry.position = position;
  }
}

/** Heap order: lighter load, then earlier deadline, then earlier insertion. */
function before<T>(a: Entry<T>, b: Entry<T>): boolean {
  if (a.load !== b.load) return a.load < b.load;
  if (a.deadline !== b.deadline) return a.deadline < b.deadline;
  return a.order < b.order;
}
