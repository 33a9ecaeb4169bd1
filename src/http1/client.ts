/**
 * The server side of HTTP/1.1: keep-alive connections from Ballast to one
 * server, one request at a time on each (no pipelining), with the response
 * parsed strictly (see head.ts) and streamed to a handler with backpressure.
 *
 * Timeouts (connect, response head, body inactivity, keep-alive idle) are
 * deadlines checked by one interval per pool, so a request arms no timer.
 */
import { connect, type Socket } from 'node:net';
import { DeadlineSweep } from '../core/deadline-sweep.js';
import { formatHostPort, type HostPort } from '../core/server.js';
import type { BodySink, RequestBody } from '../proxy/messages.js';
import { CHUNKED_MORE, ChunkedDecoder, chunkHeader, CHUNK_END, LAST_CHUNK, type ChunkedSink } from './chunked.js';
import { MAX_RESPONSE_HEAD, parseResponseHead, scanHead, type ResponseHead } from './head.js';

export interface UpstreamTimeouts {
  /** Time to connect, ms. */
  readonly connect: number;
  /** Time from the end of the request to the response head, and longest pause inside the response body, ms. */
  readonly response: number;
  /** How long an unused keep-alive connection is kept, ms. */
  readonly idle: number;
}

export interface UpstreamRequest {
  readonly method: string;
  readonly path: string;
  /** Field lines (`name: value` + CRLF each) without framing fields: the connection adds those for `body`. */
  readonly fields: string;
  /** Whether `fields` has Host; without it the server's address is sent as Host. */
  readonly hasHost: boolean;
  /** A body in memory, a streamed one (chunked when its length is unknown), or none. */
  readonly body: Buffer | RequestBody | null;
  /** Content-Length the client declared, sent again for a request without body (`0`); -1 for none. */
  readonly declaredLength: number;
}

/** Receives the outcome of one request. Exactly one of `onComplete`/`onError` ends it. */
export interface UpstreamHandler {
  /** Called first; `abort` ends the exchange with `onError` (before `abort` returns) and closes the connection. */
  onConnect(abort: (reason?: Error) => void): void;
  /** A response head (its `bytes` valid during the call); informational (1xx) heads come first, each through here. */
  onHeaders(head: ResponseHead, resume: () => void): void;
  /** Body bytes; false pauses reading until `resume` (from onHeaders) is called. */
  onData(chunk: Buffer): boolean;
  /** A read from the server was delivered and the response is not complete: nothing received may be held back now. */
  onReadEnd(): void;
  onComplete(): void;
  onError(error: Error): void;
}

/** Why an exchange with a server failed; `code` is stable (see upstream-errors.ts). */
export class UpstreamError extends Error {
  constructor(
    readonly code: UpstreamErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'UpstreamError';
  }
}

export type UpstreamErrorCode =
  | 'UPSTREAM_CONNECT_TIMEOUT'
  | 'UPSTREAM_HEADERS_TIMEOUT'
  | 'UPSTREAM_BODY_TIMEOUT'
  | 'UPSTREAM_CLOSED'
  | 'UPSTREAM_PROTOCOL'
  | 'UPSTREAM_ABORTED';


const enum Phase {
  Connecting,
  Idle,
  /** A request was (or is being) sent; waiting for the response head. */
  Head,
  Body,
  Closed,
}

const enum BodyFraming {
  Length,
  Chunked,
  UntilClose,
}

/** The keep-alive connections to one server. */
export class UpstreamPool {
  private readonly idle: UpstreamConnection[] = [];
  /** The Host sent for requests that have none (HTTP/1.0 clients). */
  readonly hostHeader: string;
  private readonly all = new DeadlineSweep<UpstreamConnection>();
  /** How often deadlines are checked: a fraction of the shortest timeout. */
  private readonly sweepMs: number;
  private closed = false;

  constructor(
    readonly address: HostPort,
    readonly timeouts: UpstreamTimeouts,
  ) {
    this.hostHeader = formatHostPort(address);
    this.sweepMs = Math.max(10, Math.min(250, timeouts.connect / 4, timeouts.response / 4, timeouts.idle / 4));
  }

  dispatch(request: UpstreamRequest, handler: UpstreamHandler): void {
    let connection = this.idle.pop();
    while (connection !== undefined && connection.unusable) connection = this.idle.pop();
    if (connection === undefined) {
      connection = new UpstreamConnection(this);
      this.all.add(connection, this.sweepMs);
    }
    connection.send(request, handler);
  }

  /** Closes idle connections now and busy ones when their exchange ends. */
  close(): Promise<void> {
    this.closed = true;
    for (const connection of this.idle) connection.destroy();
    this.idle.length = 0;
    return Promise.resolve();
  }

  release(connection: UpstreamConnection): boolean {
    if (this.closed) return false;
    this.idle.push(connection);
    return true;
  }

  forget(connection: UpstreamConnection): void {
    this.all.delete(connection);
    const index = this.idle.indexOf(connection);
    if (index !== -1) this.idle.splice(index, 1);
  }
}

function onConnected(this: UpstreamSocket): void {
  this[kUpstream].connected();
}
function onUpstreamData(this: UpstreamSocket, chunk: Buffer): void {
  this[kUpstream].received(chunk);
}
function onUpstreamError(this: UpstreamSocket, error: Error): void {
  this[kUpstream].failed(error);
}
function onUpstreamClose(this: UpstreamSocket): void {
  this[kUpstream].closed();
}
function onUpstreamDrain(this: UpstreamSocket): void {
  this[kUpstream].drained();
}

const kUpstream = Symbol('ballast.upstreamConnection');
type UpstreamSocket = Socket & { [kUpstream]: UpstreamConnection };

class UpstreamConnection implements BodySink, ChunkedSink {
  private readonly socket: UpstreamSocket;
  private phase = Phase.Connecting;
  private deadline: number;
  private handler: UpstreamHandler | null = null;
  private request: UpstreamRequest | null = null;
  private pending: Buffer | null = null;
  private scanned = 0;
  private framing = BodyFraming.Length;
  private remaining = 0;
  private decoder: ChunkedDecoder | null = null;
  private keepAlive = true;
  /** The whole request (body included) was written. */
  private requestSent = false;
  private streamedBody: RequestBody | null = null;
  private chunkedRequest = false;
  private bodyPaused = false;
  private responsePaused = false;
  private readonly abort = (reason?: Error): void => this.fail(reason ?? new UpstreamError('UPSTREAM_ABORTED', 'request aborted'));
  private readonly resumeResponse = (): void => {
    if (!this.responsePaused) return;
    this.responsePaused = false;
    this.deadline = performance.now() + this.pool.timeouts.response;
    this.socket.resume();
  };

  constructor(private readonly pool: UpstreamPool) {
    this.deadline = performance.now() + pool.timeouts.connect;
    const socket = connect({ host: pool.address.host, port: pool.address.port, noDelay: true }) as UpstreamSocket;
    socket[kUpstream] = this;
    socket.on('connect', onConnected);
    socket.on('data', onUpstreamData);
    socket.on('error', onUpstreamError);
    socket.on('close', onUpstreamClose);
    socket.on('drain', onUpstreamDrain);
    this.socket = socket;
  }

  /** Whether the connection can take a request now. */
  get unusable(): boolean {
    return this.phase !== Phase.Idle || this.socket.destroyed || !this.socket.writable;
  }

  send(request: UpstreamRequest, handler: UpstreamHandler): void {
    this.request = request;
    this.handler = handler;
    handler.onConnect(this.abort);
    if (this.handler !== handler || this.phase === Phase.Connecting) return;
    this.writeRequest();
  }

  connected(): void {
    if (this.phase !== Phase.Connecting) return;
    if (this.handler === null) {
      this.toIdle();
      return;
    }
    this.writeRequest();
  }

  private writeRequest(): void {
    const request = this.request as UpstreamRequest;
    this.phase = Phase.Head;
    this.requestSent = false;
    this.keepAlive = true;
    this.pending = null;
    this.scanned = 0;
    let head = `${request.method} ${request.path} HTTP/1.1\r\n${request.fields}`;
    if (!request.hasHost) head += `host: ${this.pool.hostHeader}\r\n`;
    const body = request.body;
    const socket = this.socket;
    this.deadline = performance.now() + this.pool.timeouts.response;
    if (body === null) {
      socket.write(request.declaredLength >= 0 ? `${head}content-length: ${request.declaredLength}\r\n\r\n` : `${head}\r\n`, 'latin1');
      this.requestSent = true;
      return;
    }
    if (Buffer.isBuffer(body)) {
      socket.cork();
      socket.write(`${head}content-length: ${body.length}\r\n\r\n`, 'latin1');
      socket.write(body);
      socket.uncork();
      this.requestSent = true;
      return;
    }
    this.chunkedRequest = body.length === undefined;
    socket.write(this.chunkedRequest ? `${head}transfer-encoding: chunked\r\n\r\n` : `${head}content-length: ${body.length}\r\n\r\n`, 'latin1');
    this.streamedBody = body;
    body.start(this);
  }

  /** BodySink: a piece of the request body. */
  data(chunk: Buffer): boolean {
    if (this.phase === Phase.Closed || this.streamedBody === null) return true;
    const socket = this.socket;
    let flowing: boolean;
    if (this.chunkedRequest) {
      if (chunk.length === 0) return true;
      socket.write(chunkHeader(chunk.length), 'latin1');
      socket.write(chunk);
      flowing = socket.write(CHUNK_END);
    } else flowing = socket.write(chunk);
    if (!flowing) {
      // The server stopped taking the body: from now on its slowness is timed.
      this.bodyPaused = true;
      this.deadline = performance.now() + this.pool.timeouts.response;
    }
    return flowing;
  }

  /** BodySink: the request body ended. */
  end(): void {
    if (this.phase === Phase.Closed || this.streamedBody === null) return;
    if (this.chunkedRequest) this.socket.write(LAST_CHUNK);
    this.streamedBody = null;
    this.requestSent = true;
    if (this.phase === Phase.Head) this.deadline = performance.now() + this.pool.timeouts.response;
  }

  drained(): void {
    if (!this.bodyPaused) return;
    this.bodyPaused = false;
    this.deadline = performance.now() + this.pool.timeouts.response;
    this.streamedBody?.resume();
  }

  received(chunk: Buffer): void {
    if (this.phase === Phase.Head) {
      this.pending = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
      this.parseHead();
    } else if (this.phase === Phase.Body) {
      this.deadline = performance.now() + this.pool.timeouts.response;
      this.feedBody(chunk, 0);
    } else if (this.phase === Phase.Idle) {
      // Bytes nobody asked for: the connection can no longer be trusted.
      this.socket.destroy();
      return;
    }
    // The response goes on in a later read: what this one brought must not wait for it.
    if (this.phase === Phase.Body) this.handler?.onReadEnd();
  }

  private parseHead(): void {
    while (this.phase === Phase.Head && this.pending !== null) {
      const input = this.pending;
      const scan = scanHead(input, this.scanned, input.length);
      if (scan.kind === 'incomplete') {
        this.scanned = scan.scanned;
        if (input.length > MAX_RESPONSE_HEAD) this.protocolError('response head too large');
        return;
      }
      if (scan.kind === 'invalid') {
        this.protocolError('malformed response head');
        return;
      }
      const head = parseResponseHead(input.toString('latin1', 0, scan.end));
      if (head === null) {
        this.protocolError('malformed response head');
        return;
      }
      this.scanned = 0;
      head.bytes = input.subarray(0, scan.end);
      this.pending = scan.end === input.length ? null : input.subarray(scan.end);
      const handler = this.handler as UpstreamHandler;
      if (head.status < 200) {
        // Ballast never sends Upgrade on this path, so a 101 would hand the
        // connection to a protocol nobody asked for. Other 1xx, an unasked-for
        // 100 Continue included, are interim answers a client must tolerate
        // (RFC 9110 section 15.2): the handler absorbs them.
        if (head.status === 101) {
          this.protocolError('unsolicited 101');
          return;
        }
        handler.onHeaders(head, this.resumeResponse);
        continue;
      }
      const method = (this.request as UpstreamRequest).method;
      this.keepAlive = !head.close;
      let bodyless = method === 'HEAD' || head.status === 204 || head.status === 304;
      if (!bodyless) {
        if (head.chunked) {
          this.framing = BodyFraming.Chunked;
          this.decoder ??= new ChunkedDecoder();
        } else if (head.contentLength >= 0) {
          this.framing = BodyFraming.Length;
          this.remaining = head.contentLength;
          bodyless = head.contentLength === 0;
        } else {
          this.framing = BodyFraming.UntilClose;
          this.keepAlive = false;
        }
      }
      this.phase = Phase.Body;
      handler.onHeaders(head, this.resumeResponse);
      if (this.handler !== handler) return;
      if (bodyless) {
        this.complete(this.pending);
        return;
      }
      const rest = this.pending;
      this.pending = null;
      if (rest !== null) this.feedBody(rest, 0);
    }
  }

  private feedBody(input: Buffer, start: number): void {
    switch (this.framing) {
      case BodyFraming.UntilClose:
        this.deliver(start === 0 ? input : input.subarray(start));
        return;
      case BodyFraming.Length: {
        const available = input.length - start;
        if (available < this.remaining) {
          this.remaining -= available;
          this.deliver(start === 0 ? input : input.subarray(start));
          return;
        }
        const end = start + this.remaining;
        this.remaining = 0;
        if (end > start) this.deliver(input.subarray(start, end));
        if (this.phase === Phase.Body) this.complete(end === input.length ? null : input.subarray(end));
        return;
      }
      case BodyFraming.Chunked: {
        const result = (this.decoder as ChunkedDecoder).feed(input, start, input.length, this);
        if (this.phase !== Phase.Body || result === CHUNKED_MORE) return;
        if (result < 0) {
          this.protocolError('malformed chunked body');
          return;
        }
        this.decoder = null;
        this.complete(result === input.length ? null : input.subarray(result));
        return;
      }
    }
  }

  chunkData(data: Buffer): void {
    if (this.phase === Phase.Body) this.deliver(data);
  }

  private deliver(chunk: Buffer): void {
    const handler = this.handler;
    if (handler === null) return;
    if (!handler.onData(chunk) && this.handler === handler && !this.responsePaused) {
      this.responsePaused = true;
      this.socket.pause();
    }
  }

  /** The response ended; `rest` is anything the server sent after it. */
  private complete(rest: Buffer | null): void {
    const handler = this.handler as UpstreamHandler;
    this.handler = null;
    this.request = null;
    this.decoder = null;
    // A server that answers before reading the whole body, or sends more than it framed, leaves the connection unusable.
    if (this.keepAlive && this.requestSent && rest === null && this.pool.release(this)) this.toIdle();
    else this.destroy();
    handler.onComplete();
  }

  private toIdle(): void {
    this.phase = Phase.Idle;
    this.pending = null;
    this.streamedBody = null;
    this.deadline = performance.now() + this.pool.timeouts.idle;
    if (this.responsePaused) {
      this.responsePaused = false;
      this.socket.resume();
    }
  }

  private protocolError(reason: string): void {
    this.fail(new UpstreamError('UPSTREAM_PROTOCOL', `server answered badly: ${reason}`));
  }

  /** Ends the current exchange with `error` and closes the connection. */
  private fail(error: Error): void {
    const handler = this.handler;
    this.handler = null;
    this.destroy();
    handler?.onError(error);
  }

  failed(error: Error): void {
    this.fail(error);
  }

  closed(): void {
    this.pool.forget(this);
    const handler = this.handler;
    if (handler === null) {
      this.phase = Phase.Closed;
      return;
    }
    if (this.phase === Phase.Body && this.framing === BodyFraming.UntilClose) {
      this.phase = Phase.Closed;
      this.handler = null;
      handler.onComplete();
      return;
    }
    const started = this.phase === Phase.Body;
    this.fail(new UpstreamError('UPSTREAM_CLOSED', started ? 'server closed the connection mid-response' : 'server closed the connection'));
  }

  checkDeadline(now: number): void {
    if (now < this.deadline) return;
    switch (this.phase) {
      case Phase.Connecting:
        if (this.handler === null) this.destroy();
        else this.fail(new UpstreamError('UPSTREAM_CONNECT_TIMEOUT', 'connect timeout'));
        return;
      case Phase.Idle:
        this.destroy();
        return;
      case Phase.Head:
        // While the client is still sending the body only the server's refusal to take it counts, not the client's pace.
        if (!this.requestSent && !this.bodyPaused) return;
        this.fail(new UpstreamError('UPSTREAM_HEADERS_TIMEOUT', 'no response in time'));
        return;
      case Phase.Body:
        if (this.responsePaused) return;
        this.fail(new UpstreamError('UPSTREAM_BODY_TIMEOUT', 'response body stalled'));
        return;
      default:
    }
  }

  destroy(): void {
    this.phase = Phase.Closed;
    this.streamedBody = null;
    this.socket.destroy();
  }
}
