import { EventEmitter } from 'node:events';

/** Kinds of state change Ballast announces; hooks, the ledger and the admin event stream read them. */
export const BALLAST_EVENT_TYPES = [
  'server-up',
  'server-down',
  'server-ejected',
  'server-restored',
  'server-draining',
  'server-disabled',
  'server-enabled',
  'server-weight',
  'pool-degraded',
  'pool-empty',
  'pool-restored',
  'site-up',
  'site-down',
  'dns-changed',
  'config-reloaded',
  'config-reload-failed',
] as const;

export type BallastEventType = (typeof BALLAST_EVENT_TYPES)[number];

export interface BallastEvent {
  readonly type: BallastEventType;
  /** Wall-clock milliseconds since the epoch. */
  readonly time: number;
  readonly pool?: string;
  readonly server?: string;
  readonly site?: string;
  /** Why the change happened: a status code, "timeout", "refused", "admin", ... */
  readonly reason?: string;
  readonly detail?: Readonly<Record<string, string | number | boolean>>;
}

/** A typed event bus with a bounded history for `GET /api/v1/events`. */
export class EventBus {
  private readonly emitter = new EventEmitter();
  private readonly history: BallastEvent[] = [];

  constructor(private readonly historySize = 1000) {
    this.emitter.setMaxListeners(0);
  }

  publish(event: BallastEvent): void {
    this.history.push(event);
    if (this.history.length > this.historySize) this.history.shift();
    this.emitter.emit('event', event);
  }

  subscribe(listener: (event: BallastEvent) => void): () => void {
    this.emitter.on('event', listener);
    return () => this.emitter.off('event', listener);
  }

  recent(): readonly BallastEvent[] {
    return this.history;
  }
}
