/**
 * A bounded FIFO on a circular array: `push` drops (and returns) the oldest
 * item when full. Every operation is O(1) except `resize`, O(length).
 */
export class Ring<T> {
  private items: (T | undefined)[];
  private head = 0;
  private count = 0;

  /** Precondition: `capacity` >= 1. */
  constructor(capacity: number) {
    this.items = new Array<T | undefined>(capacity);
  }

  get length(): number {
    return this.count;
  }

  get capacity(): number {
    return this.items.length;
  }

  /** Appends `item`; when the ring was full, the oldest item is removed and returned. */
  push(item: T): T | undefined {
    let dropped: T | undefined;
    if (this.count === this.items.length) dropped = this.shift();
    this.items[(this.head + this.count) % this.items.length] = item;
    this.count++;
    return dropped;
  }

  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) % this.items.length;
    this.count--;
    return item;
  }

  /** Removes every item and returns how many there were. */
  clear(): number {
    const removed = this.count;
    this.items.fill(undefined);
    this.head = 0;
    this.count = 0;
    return removed;
  }

  /**
   * Changes the capacity (>= 1), keeping the newest items that fit; returns
   * the oldest items that did not fit, oldest first.
   */
  resize(capacity: number): T[] {
    const dropped: T[] = [];
    while (this.count > capacity) dropped.push(this.shift() as T);
    const kept: T[] = [];
    for (let item = this.shift(); item !== undefined; item = this.shift()) kept.push(item);
    this.items = new Array<T | undefined>(capacity);
    this.head = 0;
    for (const item of kept) this.push(item);
    return dropped;
  }
}
