/**
 * Following Ballast's state changes during a drill, from the best source
 * available:
 *
 * - `in-process`: the drill runs Ballast itself (the demo) and subscribes to
 *   its event bus;
 * - `sse`: `GET /api/v1/events` with `Accept: text/event-stream` on the
 *   target's admin listener; a dropped stream is reopened (its replayed
 *   history is de-duplicated);
 * - `poll`: when the admin listener has no event stream, `GET /api/v1/status`
 *   every 200 ms, and a change of a server's `state` becomes an event
 *   (timed to the poll that saw it, so up to one interval late);
 * - `none`: no admin URL given; the report then has no detection times.
 *
 * Each event keeps a wall-clock time: Ballast's own `time` when it is
 * plausible (not after its arrival, and at most 2 s before it), else the
 * arrival time, so a skewed clock on a remote Ballast cannot fake a fast
 * detection.
 */
import { request } from 'undici';
import type { BallastEvent, BallastEventType } from '../core/events.js';

export type EventSourceKind = 'in-process' | 'sse' | 'poll' | 'none';

export interface ObservedEvent {
  readonly event: BallastEvent;
  /** Wall-clock ms when the change happened, as well as the drill can tell. */
  readonly wallTime: number;
}

export interface EventFollower {
  readonly source: EventSourceKind;
  readonly events: readonly ObservedEvent[];
  /** Problems met while following (e.g. the stream could not be opened and polling took over). */
  readonly warnings: readonly string[];
  close(): Promise<void>;
}

/** Largest gap between an event's own time and its arrival that is taken as clock-consistent. */
const PLAUSIBLE_DELAY_MS = 2_000;
export const POLL_INTERVAL_MS = 200;
const RECONNECT_DELAY_MS = 300;

function plausibleTime(event: BallastEvent, arrivedAt: number): number {
  const time = event.time;
  return Number.isFinite(time) && time <= arrivedAt + 5 && arrivedAt - time <= PLAUSIBLE_DELAY_MS ? Math.min(time, arrivedAt) : arrivedAt;
}

function eventKey(event: BallastEvent): string {
  return `${event.time}|${event.type}|${event.pool ?? ''}|${event.server ?? ''}|${event.site ?? ''}|${event.reason ?? ''}`;
}

/** Subscribes to an in-process Ballast (`handle.onEvent`). */
export function followInProcess(subscribe: (listener: (event: BallastEvent) => void) => () => void): EventFollower {
  const events: ObservedEvent[] = [];
  const unsubscribe = subscribe((event) => events.push({ event, wallTime: plausibleTime(event, Date.now()) }));
  return {
    source: 'in-process',
    events,
    warnings: [],
    close: async () => unsubscribe(),
  };
}

/** A follower for drills without an admin URL: sees nothing. */
export function followNothing(): EventFollower {
  return { source: 'none', events: [], warnings: [], close: async () => undefined };
}

/**
 * Follows the admin API at `adminUrl` (no trailing slash). Resolves once the
 * event stream is open, or once polling has its first status; rejects when
 * the admin API does not answer at all.
 */
export async function followAdmin(adminUrl: string, headers: Readonly<Record<string, string>> = {}): Promise<EventFollower> {
  const sse = new SseFollower(adminUrl, headers);
  if (await sse.open()) return sse;
  const poll = new PollFollower(adminUrl, headers);
  await poll.open();
  poll.warnings.push(`${adminUrl}/api/v1/events offers no event stream; polling /api/v1/status every ${POLL_INTERVAL_MS} ms instead`);
  return poll;
}

class SseFollower implements EventFollower {
  readonly source = 'sse';
  readonly events: ObservedEvent[] = [];
  readonly warnings: string[] = [];
  private readonly seen = new Set<string>();
  private readonly abort = new AbortController();
  private closed = false;
  private running: Promise<void> | undefined;

  constructor(
    private readonly adminUrl: string,
    private readonly headers: Readonly<Record<string, string>>,
  ) {}

  /** True when the stream opened; false when the endpoint answers without one. Rejects when unreachable. */
  async open(): Promise<boolean> {
    const response = await this.connect();
    if (response === undefined) return false;
    this.running = this.consume(response).then(() => this.reconnectLoop());
    return true;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.abort.abort();
    await this.running?.catch(() => undefined);
  }

  private async connect(): Promise<AsyncIterable<Buffer> | undefined> {
    const response = await request(`${this.adminUrl}/api/v1/events`, {
      headers: { ...this.headers, accept: 'text/event-stream' },
      signal: this.abort.signal,
      headersTimeout: 5_000,
      bodyTimeout: 0,
    });
    const type = String(response.headers['content-type'] ?? '');
    if (response.statusCode !== 200 || !type.includes('text/event-stream')) {
      await response.body.dump();
      return undefined;
    }
    return response.body;
  }

  /** Reads frames until the stream ends; each `data:` line is one JSON event. */
  private async consume(body: AsyncIterable<Buffer>): Promise<void> {
    let buffer = '';
    try {
      for await (const chunk of body) {
        buffer += chunk.toString('utf8');
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          this.onFrame(frame);
        }
      }
    } catch (error) {
      if (!this.closed) this.warnings.push(`event stream interrupted: ${(error as Error).message}`);
    }
  }

  private onFrame(frame: string): void {
    const data = frame
      .split('\n')
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(5).trimStart())
      .join('\n');
    if (data === '') return;
    let event: BallastEvent;
    try {
      event = JSON.parse(data) as BallastEvent;
    } catch {
      return;
    }
    if (typeof event !== 'object' || event === null || typeof event.type !== 'string') return;
    const key = eventKey(event);
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.events.push({ event, wallTime: plausibleTime(event, Date.now()) });
  }

  private async reconnectLoop(): Promise<void> {
    while (!this.closed) {
      await new Promise((resolve) => setTimeout(resolve, RECONNECT_DELAY_MS));
      if (this.closed) return;
      try {
        const body = await this.connect();
        if (body !== undefined) await this.consume(body);
      } catch (error) {
        if (!this.closed) this.warnings.push(`event stream reconnect failed: ${(error as Error).message}`);
      }
    }
  }
}

const STATE_EVENTS: Readonly<Record<string, BallastEventType>> = {
  healthy: 'server-up',
  unhealthy: 'server-down',
  ejected: 'server-ejected',
  draining: 'server-draining',
  disabled: 'server-disabled',
};

interface StatusDocument {
  readonly pools?: readonly { readonly name?: string; readonly servers?: readonly { readonly name?: string; readonly state?: string }[] }[];
  readonly gslb?: { readonly sites?: readonly { readonly site?: string; readonly name?: string; readonly state?: string }[] };
}

class PollFollower implements EventFollower {
  readonly source = 'poll';
  readonly events: ObservedEvent[] = [];
  readonly warnings: string[] = [];
  private readonly states = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private failures = 0;

  constructor(
    private readonly adminUrl: string,
    private readonly headers: Readonly<Record<string, string>>,
  ) {}

  async open(): Promise<void> {
    this.apply(await this.fetchStatus(), true);
    this.timer = setInterval(() => void this.poll(), POLL_INTERVAL_MS);
  }

  async close(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async poll(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const status = await this.fetchStatus();
      if (this.timer !== undefined) this.apply(status, false);
    } catch (error) {
      if (this.failures++ === 0) this.warnings.push(`polling ${this.adminUrl}/api/v1/status failed: ${(error as Error).message}`);
    } finally {
      this.busy = false;
    }
  }

  private async fetchStatus(): Promise<StatusDocument> {
    const response = await request(`${this.adminUrl}/api/v1/status`, {
      headers: { ...this.headers, accept: 'application/json' },
      headersTimeout: 2_000,
      bodyTimeout: 2_000,
    });
    if (response.statusCode !== 200) {
      await response.body.dump();
      throw new Error(`GET /api/v1/status answered ${response.statusCode}`);
    }
    return (await response.body.json()) as StatusDocument;
  }

  /** Turns state changes since the previous poll into events; the first poll only sets the baseline. */
  private apply(status: StatusDocument, baseline: boolean): void {
    const now = Date.now();
    for (const pool of status.pools ?? []) {
      for (const server of pool.servers ?? []) {
        if (pool.name === undefined || server.name === undefined || server.state === undefined) continue;
        const key = `server|${pool.name}|${server.name}`;
        const previous = this.states.get(key);
        this.states.set(key, server.state);
        if (baseline || previous === server.state) continue;
        const type = previous === 'ejected' && server.state === 'healthy' ? 'server-restored' : STATE_EVENTS[server.state];
        if (type === undefined) continue;
        this.events.push({ event: { type, time: now, pool: pool.name, server: server.name, reason: 'observed by polling' }, wallTime: now });
      }
    }
    for (const site of status.gslb?.sites ?? []) {
      const name = site.site ?? site.name;
      if (name === undefined || site.state === undefined) continue;
      const key = `site|${name}`;
      const previous = this.states.get(key);
      this.states.set(key, site.state);
      if (baseline || previous === site.state) continue;
      const type: BallastEventType = site.state === 'down' ? 'site-down' : 'site-up';
      this.events.push({ event: { type, time: now, site: name, reason: 'observed by polling' }, wallTime: now });
    }
  }
}
