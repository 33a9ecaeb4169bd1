/**
 * The live event stream of `GET /api/v1/events` with
 * `Accept: text/event-stream` (Server-Sent Events).
 *
 * A new stream first receives every event still in the bus's history, then
 * each new event as it is published, one `data:` line of JSON per event. A
 * comment line is sent every `heartbeatMs` so proxies and browsers keep an
 * idle stream open and a dead client is noticed. A reconnecting client
 * (EventSource reconnects by itself) gets the history again: it should
 * replace what it showed, not append.
 *
 * Costs: publishing an event serializes it once and writes it to every open
 * stream, O(streams). A client that stops reading is cut off once more than
 * `maxBufferedBytes` (beyond the history it was sent on connecting) wait in
 * its socket, so a stuck dashboard cannot make Ballast buffer without bound.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BallastEvent, EventBus } from '../core/events.js';

export interface EventStreamOptions {
  /** Interval of keep-alive comments, ms. Default 15 s. */
  readonly heartbeatMs?: number;
  /** Unsent bytes, beyond the history sent on connecting, after which a slow client is disconnected. Default 1 MiB. */
  readonly maxBufferedBytes?: number;
  /** Reconnection delay suggested to EventSource clients, ms. Default 2 s. */
  readonly retryMs?: number;
}

export const DEFAULT_HEARTBEAT_MS = 15_000;
const DEFAULT_MAX_BUFFERED_BYTES = 1024 * 1024;
const DEFAULT_RETRY_MS = 2_000;

/** The open event streams of one admin server. */
export class EventStreams {
  /** Open streams → bytes they may have waiting before they count as stuck. */
  private readonly streams = new Map<ServerResponse, number>();
  private readonly heartbeatMs: number;
  private readonly maxBufferedBytes: number;
  private readonly retryMs: number;
  private heartbeat: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly bus: EventBus,
    options: EventStreamOptions = {},
  ) {
    this.heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    this.maxBufferedBytes = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
    this.retryMs = options.retryMs ?? DEFAULT_RETRY_MS;
  }

  /** Streams open now. */
  get size(): number {
    return this.streams.size;
  }

  /**
   * Turns `res` into an event stream: writes the head, the history, then
   * follows the bus until the client disconnects or `closeAll` is called.
   */
  open(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      'x-content-type-options': 'nosniff',
    });
    req.socket.setNoDelay(true);
    let replay = `retry: ${this.retryMs}\n\n`;
    for (const event of this.bus.recent()) replay += frame(event);
    // The history (bounded by the bus) may wait on top of the allowance.
    this.streams.set(res, this.maxBufferedBytes + Buffer.byteLength(replay));
    res.on('close', () => this.forget(res));
    this.write(res, replay);
    if (this.streams.has(res)) this.follow();
  }

  /** Ends every stream (on shutdown); clients see the end of the response. */
  closeAll(): void {
    for (const res of [...this.streams.keys()]) {
      this.forget(res);
      res.end();
    }
  }

  /** Subscribes to the bus and starts the heartbeat when the first stream opens. */
  private follow(): void {
    if (this.unsubscribe !== undefined) return;
    this.unsubscribe = this.bus.subscribe((event) => this.broadcast(frame(event)));
    this.heartbeat = setInterval(() => this.broadcast(': heartbeat\n\n'), this.heartbeatMs);
    this.heartbeat.unref();
  }

  private broadcast(chunk: string): void {
    for (const res of [...this.streams.keys()]) this.write(res, chunk);
  }

  private write(res: ServerResponse, chunk: string): void {
    if (res.destroyed || res.writableEnded) {
      this.forget(res);
      return;
    }
    res.write(chunk);
    if (res.writableLength > (this.streams.get(res) ?? this.maxBufferedBytes)) {
      this.forget(res);
      res.destroy();
    }
  }

  /** Drops one stream; the last one out stops the subscription and the heartbeat. */
  private forget(res: ServerResponse): void {
    if (!this.streams.delete(res) || this.streams.size > 0) return;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    if (this.heartbeat !== undefined) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }
}

/** One SSE frame. JSON.stringify escapes line breaks, so the event is a single `data:` line. */
function frame(event: BallastEvent): string {
  return `data: ${JSON.stringify(event)}\n\n`;
}
