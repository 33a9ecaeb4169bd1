/**
 * Timers as health checks, discovery and hooks see them, injected so tests
 * can run their schedules on simulated time.
 */
export type TimerHandle = unknown;

export interface Timers {
  /** Calls `callback` once after `delayMs`; the timer must not keep the process alive. */
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** Node's timers, unref'd. */
export const systemTimers: Timers = {
  setTimeout(callback, delayMs) {
    const timer = setTimeout(callback, delayMs);
    timer.unref();
    return timer;
  },
  clearTimeout(handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};
