import type { PoolServer } from './server.js';

/** Weight a ramp starts from, as a fraction of the configured weight. */
const START_FRACTION = 0.1;
/** Steps a ramp takes to reach the full weight. */
const STEPS = 10;

/**
 * Ramps a server's effective weight from 10 % to 100 % of its configured
 * weight over `durationMs`, in ten steps, so a recovered or added server is
 * not flooded while its caches are cold. Weight-aware algorithms feel it;
 * plain round robin ignores weights other than 0.
 */
export class SlowStart {
  private readonly ramps = new Map<PoolServer, NodeJS.Timeout>();

  constructor(
    private readonly durationMs: number,
    private readonly apply: (server: PoolServer, weight: number) => void,
  ) {}

  begin(server: PoolServer): void {
    if (this.durationMs <= 0 || server.configuredWeight <= 0) return;
    this.cancel(server);
    let step = 0;
    const next = (): void => {
      step++;
      const fraction = START_FRACTION + ((1 - START_FRACTION) * step) / STEPS;
      if (step >= STEPS) {
        this.ramps.delete(server);
        this.apply(server, server.configuredWeight);
        return;
      }
      this.apply(server, server.configuredWeight * fraction);
      this.schedule(server, next);
    };
    this.apply(server, server.configuredWeight * START_FRACTION);
    this.schedule(server, next);
  }

  /** Stops a ramp and restores the configured weight. */
  cancel(server: PoolServer): void {
    const timer = this.ramps.get(server);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.ramps.delete(server);
    this.apply(server, server.configuredWeight);
  }

  isRamping(server: PoolServer): boolean {
    return this.ramps.has(server);
  }

  stop(): void {
    for (const timer of this.ramps.values()) clearTimeout(timer);
    this.ramps.clear();
  }

  private schedule(server: PoolServer, step: () => void): void {
    const timer = setTimeout(step, this.durationMs / STEPS);
    timer.unref();
    this.ramps.set(server, timer);
  }
}
