import type { PickContext } from '../balancers/types.js';
import type { PoolServer } from './server.js';

/** A request waiting for a server with free capacity. */
export interface QueueWaiter {
  readonly ctx: PickContext;
  /** A server was reserved for the waiter; it must call `pool.begin` now. */
  granted(server: PoolServer): void;
  /** The waiter gave up its place: `timeout` after `queue.timeout`, `stopped` when the pool shut down. */
  rejected(reason: 'timeout' | 'stopped'): void;
}

interface Slot {
  readonly waiter: QueueWaiter;
  readonly timer: NodeJS.Timeout;
}

/**
 * The pool's FIFO of requests waiting for capacity (HAProxy's backend queue):
 * bounded in size, each place bounded in time. O(1) enqueue and dequeue;
 * a timed-out place is removed in O(queue length), which only happens under
 * overload.
 */
export class RequestQueue {
  private slots: Slot[] = [];

  constructor(
    private readonly size: number,
    private readonly timeoutMs: number,
  ) {}

  get length(): number {
    return this.slots.length;
  }

  /** Queues `waiter`; false when the queue is full (or has size 0). */
  enqueue(waiter: QueueWaiter): boolean {
    if (this.slots.length >= this.size) return false;
    const timer = setTimeout(() => this.expire(waiter), this.timeoutMs);
    timer.unref();
    this.slots.push({ waiter, timer });
    return true;
  }

  peek(): QueueWaiter | undefined {
    return this.slots[0]?.waiter;
  }

  shift(): QueueWaiter | undefined {
    const slot = this.slots.shift();
    if (slot === undefined) return undefined;
    clearTimeout(slot.timer);
    return slot.waiter;
  }

  /** Removes a waiter that no longer wants a server (its client left). */
  remove(waiter: QueueWaiter): void {
    const index = this.slots.findIndex((slot) => slot.waiter === waiter);
    if (index === -1) return;
    clearTimeout((this.slots[index] as Slot).timer);
    this.slots.splice(index, 1);
  }

  rejectAll(): void {
    const slots = this.slots;
    this.slots = [];
    for (const slot of slots) {
      clearTimeout(slot.timer);
      slot.waiter.rejected('stopped');
    }
  }

  private expire(waiter: QueueWaiter): void {
    const index = this.slots.findIndex((slot) => slot.waiter === waiter);
    if (index === -1) return;
    this.slots.splice(index, 1);
    waiter.rejected('timeout');
  }
}
