/**
 * The client side of HTTP/1.x: Ballast's own connection handler for
 * accepted sockets (plain TCP or TLS). It parses request heads strictly
 * (see head.ts), streams request bodies with backpressure, frames responses
 * (Content-Length, chunked, or close-delimited for HTTP/1.0), serves
 * keep-alive and pipelined requests one at a time, and enforces the header
 * and keep-alive timeouts.
 *
 * Why not Node's `http.Server`: a proxy needs the raw head, not a parsed
 * object model, and the layers of IncomingMessage/ServerResponse cost more
 * per request than the proxying itself (see docs/benchmarks.md).
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { BodySink, ClientFault, FieldStats, HeaderMap, ProxyRequest, ProxyResponse, RequestBody } from '../proxy/messages.js';
import { CHUNKED_MALFORMED, CHUNKED_MORE, CHUNKED_TOO_LARGE, CHUNK_END, ChunkedDecoder, chunkHeader, LAST_CHUNK, type ChunkedSink } from './chunked.js';
import { describeRequestLine, Field, fieldBit, parseRequestHead, scanHead, type RequestHead, type ResponseHead } from './head.js';
import { DeadlineSweep } from '../core/deadline-sweep.js';
import { headerMapOf, headerValue } from './fields.js';
import { endLingering, rawResponse } from './raw-responses.js';

export interface Http1ServerOptions {
  /** Largest request head in bytes (request line and fields with their framing). */
  maxHeadBytes: number;
  /** Longest request target; an overflowing head that is all request line is answered 414, else 431. */
  maxUrlLength: number;
  /** Time allowed for a complete request head, from its first byte (from the connection for the first request): 408. */
  headersTimeoutMs: number;
  /** Keep-alive: how long a connection may wait for its next request. */
  idleTimeoutMs: number;
}

export interface Http1Handlers {
  /** A request whose head parsed; the handler answers through `res`. */
  request(req: Http1Request, res: Http1Response): void;
  /** A head that was answered with an error and never became a request. */
  refused(refusal: HeadRefusal): void;
}

/** A refused request head, as far as it could be read. */
export interface HeadRefusal {
  readonly remoteAddress: string;
  readonly status: number;
  readonly reason: string;
  /** `-` when the request line is missing or broken there. */
  readonly method: string;
  readonly target: string;
}

const HEAD_ERROR_REASONS: Readonly<Record<number, string>> = {
  400: 'malformed request head',
  501: 'unsupported transfer coding',
  505: 'unsupported HTTP version',
};

/** Bytes of pipelined input held while a response is in progress before reading pauses. */
const PIPELINE_BUFFER = 64 * 1024;
/** Bytes of request body held for a sink that has not started reading before reading pauses. */
const BODY_BUFFER = 64 * 1024;

const enum Phase {
  /** Waiting for (the rest of) a request head. */
  Head,
  /** Reading the request body. */
  Body,
  /** The request was read; its response is in progress. */
  Responding,
  Closed,
}

/**
 * Serves HTTP/1 on accepted sockets. One instance per listener; `options`
 * may be replaced at run time (reload) and apply to the next deadline.
 */
export class Http1Server {
  private readonly connections = new DeadlineSweep<Http1Connection>();
  /** Set while the listener drains: responses close their connections. */
  closing = false;
  /** Requests read whose response has not finished. */
  inFlight = 0;

  constructor(
    public options: Http1ServerOptions,
    readonly handlers: Http1Handlers,
  ) {}

  /** Takes over a connected socket. */
  accept(socket: Duplex, remoteAddress: string): void {
    const connection = new Http1Connection(this, socket, remoteAddress);
    const { headersTimeoutMs, idleTimeoutMs } = this.options;
    this.connections.add(connection, Math.max(10, Math.min(1000, headersTimeoutMs / 2, idleTimeoutMs / 2)));
  }

  forget(connection: Http1Connection): void {
    this.connections.delete(connection);
  }

  /** Stops keep-alive: idle connections close now, busy ones after their response. */
  closeIdle(): void {
    this.closing = true;
    for (const connection of this.connections) connection.closeIfIdle();
  }

  destroyAll(): void {
    for (const connection of this.connections) connection.destroy();
  }
}

function onSocketData(this: SocketWithConnection, chunk: Buffer): void {
  this[kConnection].received(chunk);
}
function onSocketEnd(this: SocketWithConnection): void {
  this[kConnection].peerEnded();
}
function onSocketClose(this: SocketWithConnection): void {
  this[kConnection].closed();
}
function onSocketDrain(this: SocketWithConnection): void {
  this[kConnection].drained();
}
function onSocketError(): void {
  // A reset or write error: 'close' follows and cleans up.
}

const kConnection = Symbol('ballast.http1Connection');
type SocketWithConnection = Duplex & { [kConnection]: Http1Connection };

export class Http1Connection implements ChunkedSink {
  private phase = Phase.Head;
  /** Unparsed input (a partial head, or pipelined requests). */
  private pending: Buffer | null = null;
  /** Where the head scan of `pending` resumes: the start of its last line, and how far that line was searched. */
  private scanned = 0;
  private searched = 0;
  /** The buffer `pending` grows in, once input had to wait (see `append`). */
  private store: Buffer | null = null;
  /** performance.now() deadline of the current wait, and what it means. */
  private deadline: number;
  private headStarted = false;
  private requests = 0;
  private request: Http1Request | null = null;
  private response: Http1Response | null = null;
  /** Body framing of the current request. */
  private bodyRemaining = 0;
  private decoder: ChunkedDecoder | null = null;
  private peerDone = false;
  private paused = false;
  /** While the client does not read its response: when to give up on it (performance.now()); Infinity otherwise. */
  private writeDeadline = Number.POSITIVE_INFINITY;
  /** A request is counted in the server's `inFlight`. */
  private active = false;

  constructor(
    private readonly server: Http1Server,
    readonly socket: Duplex,
    readonly remoteAddress: string,
  ) {
    this.deadline = performance.now() + server.options.headersTimeoutMs;
    const tagged = socket as SocketWithConnection;
    tagged[kConnection] = this;
    socket.on('data', onSocketData);
    socket.on('end', onSocketEnd);
    socket.on('close', onSocketClose);
    socket.on('error', onSocketError);
    socket.on('drain', onSocketDrain);
  }

  received(chunk: Buffer): void {
    switch (this.phase) {
      case Phase.Head:
        this.append(chunk);
        this.parseHeads();
        return;
      case Phase.Body:
        this.feedBody(chunk, 0);
        return;
      case Phase.Responding:
        // The next request, pipelined: kept until this response is done.
        this.append(chunk);
        if ((this.pending as Buffer).length > PIPELINE_BUFFER) this.pause();
        return;
      default:
    }
  }

  /**
   * Adds input to `pending`. Input that waits (a head arriving in pieces, a
   * pipelined request) is gathered in a buffer grown by doubling, so a head
   * sent a byte at a time costs linear copying, not quadratic.
   */
  private append(chunk: Buffer): void {
    const pending = this.pending;
    if (pending === null) {
      this.pending = chunk;
      return;
    }
    const length = pending.length + chunk.length;
    const store = this.store;
    if (store !== null && pending.buffer === store.buffer && pending.byteOffset === store.byteOffset && length <= store.length) {
      chunk.copy(store, pending.length);
      this.pending = store.subarray(0, length);
      return;
    }
    const grown = Buffer.allocUnsafeSlow(Math.max(2 * length, 1024));
    pending.copy(grown, 0);
    chunk.copy(grown, pending.length);
    this.store = grown;
    this.pending = grown.subarray(0, length);
  }

  /** Parses every complete head in `pending` until a request is in progress. */
  private parseHeads(): void {
    while (this.phase === Phase.Head && this.pending !== null) {
      const input = this.pending;
      if (!this.headStarted) {
        this.headStarted = true;
        if (this.requests > 0) this.deadline = performance.now() + this.server.options.headersTimeoutMs;
      }
      const scan = scanHead(input, this.scanned, input.length, this.searched);
      if (scan.kind === 'invalid') {
        this.refuse(400, 'malformed request head');
        return;
      }
      if (scan.kind === 'incomplete') {
        this.scanned = scan.scanned;
        this.searched = input.length;
        if (input.length > this.server.options.maxHeadBytes) this.refuseOversized(input);
        return;
      }
      const end = scan.end;
      if (end > this.server.options.maxHeadBytes) {
        this.refuseOversized(input);
        return;
      }
      this.scanned = 0;
      this.searched = 0;
      this.pending = end === input.length ? null : input.subarray(end);
      if (end === 2) {
        // An empty line before a request line is tolerated (RFC 9112 §2.2), within the head's deadline.
        continue;
      }
      const head = parseRequestHead(input.toString('latin1', 0, end));
      if (typeof head === 'number') {
        this.refuse(head, HEAD_ERROR_REASONS[head] ?? 'malformed request head', input);
        return;
      }
      this.begin(head);
    }
  }

  /** A head over `maxHeadBytes`: 414 when the request line alone overflowed, else 431. */
  private refuseOversized(input: Buffer): void {
    const lf = input.indexOf(10);
    if ((lf === -1 ? input.length : lf) > this.server.options.maxUrlLength + 32) this.refuse(414, 'request target too long', input);
    else this.refuse(431, 'request head too large', input);
  }

  private begin(head: RequestHead): void {
    this.requests++;
    this.headStarted = false;
    let body: Http1Body | null = null;
    if (head.chunked) {
      this.decoder = new ChunkedDecoder();
      body = new Http1Body(this, undefined);
    } else if (head.contentLength > 0) {
      this.bodyRemaining = head.contentLength;
      body = new Http1Body(this, head.contentLength);
    }
    const request = new Http1Request(head, this.remoteAddress, body);
    const response = new Http1Response(this, request);
    this.request = request;
    this.response = response;
    this.server.inFlight++;
    this.active = true;
    this.phase = body === null ? Phase.Responding : Phase.Body;
    this.server.handlers.request(request, response);
    if (this.phase === Phase.Body && this.pending !== null) {
      const rest = this.pending;
      this.pending = null;
      this.feedBody(rest, 0);
    }
  }

  /** Passes body bytes to the request's body; what follows the body is the next request. */
  private feedBody(input: Buffer, start: number): void {
    const body = this.request?.body as Http1Body;
    if (this.decoder !== null) {
      const result = this.decoder.feed(input, start, input.length, this);
      if (result === CHUNKED_MORE) return;
      if (result === CHUNKED_MALFORMED || result === CHUNKED_TOO_LARGE) {
        this.bodyBroken(result === CHUNKED_TOO_LARGE ? 413 : 400);
        return;
      }
      this.decoder = null;
      this.bodyEnded(body, input.subarray(result));
      return;
    }
    const available = input.length - start;
    if (available <= this.bodyRemaining) {
      this.bodyRemaining -= available;
      body.push(start === 0 ? input : input.subarray(start));
      if (this.bodyRemaining === 0) this.bodyEnded(body, null);
      return;
    }
    const end = start + this.bodyRemaining;
    this.bodyRemaining = 0;
    body.push(input.subarray(start, end));
    this.bodyEnded(body, input.subarray(end));
  }

  chunkData(data: Buffer): void {
    // Chunk data is a view of a socket read; a body held for later keeps it, it is never overwritten.
    (this.request?.body as Http1Body).push(data);
  }

  private bodyEnded(body: Http1Body, rest: Buffer | null): void {
    if (rest !== null && rest.length > 0) this.append(rest);
    if (this.phase !== Phase.Body) return;
    this.phase = Phase.Responding;
    body.finish();
    if (this.response?.finished === true) this.responseFinished();
  }

  /**
   * A chunked body broke its framing mid-stream. The head may already have
   * been forwarded; the handler learns it as a client that went away, and
   * the client gets the refusal if no response started.
   */
  private bodyBroken(status: 400 | 413): void {
    const response = this.response;
    this.phase = Phase.Closed;
    if (response !== null && !response.headersSent) {
      this.socket.removeListener('data', onSocketData);
      endLingering(this.socket, rawResponse(status));
    } else this.socket.destroy();
    response?.clientGone({ status, reason: status === 413 ? 'chunk line too long' : 'malformed chunked body' });
  }

  /**
   * Answers a head that is not a valid request and closes; nothing after it
   * is read. A connection that sent nothing and timed out is not reported
   * (as HAProxy's `option dontlognull`): it is a probe, not a request.
   */
  private refuse(status: number, reason: string, input: Buffer | null = this.pending): void {
    this.phase = Phase.Closed;
    this.pending = null;
    if (input !== null) {
      const { method, target } = describeRequestLine(input, this.server.options.maxUrlLength);
      this.server.handlers.refused({ remoteAddress: this.remoteAddress, status, reason, method, target });
    }
    this.socket.removeListener('data', onSocketData);
    endLingering(this.socket, rawResponse(status));
  }

  /** Called by the response when it completed. */
  responseFinished(): void {
    const request = this.request as Http1Request;
    const response = this.response as Http1Response;
    this.settle();
    if (this.phase === Phase.Body) {
      // Answered before the whole body arrived (an error, or a server that did not wait): the rest is not read.
      this.phase = Phase.Closed;
      endLingering(this.socket, null);
      return;
    }
    if (this.phase !== Phase.Responding) return;
    this.request = null;
    this.response = null;
    if (response.closesConnection || request.body?.complete === false || this.peerDone) {
      this.phase = Phase.Closed;
      endLingering(this.socket, null);
      return;
    }
    this.phase = Phase.Head;
    this.deadline = performance.now() + this.server.options.idleTimeoutMs;
    if (this.paused) {
      this.paused = false;
      this.socket.resume();
    }
    // A pipelined request is taken up on the next tick, outside the callbacks that finished this one.
    if (this.pending !== null) process.nextTick(parsePipelined, this);
  }

  resumeParsing(): void {
    if (this.phase === Phase.Head) this.parseHeads();
  }

  /** The client shut down its sending side. */
  peerEnded(): void {
    this.peerDone = true;
    if (this.phase === Phase.Head) {
      if (this.pending === null) this.socket.end();
      else this.refuse(400, 'incomplete request head');
    } else {
      // As Node's HTTP server does, a client that stops sending before its answer gave up on it.
      this.phase = Phase.Closed;
      this.response?.clientGone();
      this.socket.destroy();
    }
  }

  /** The current request leaves the server's in-flight count. */
  private settle(): void {
    if (!this.active) return;
    this.active = false;
    this.server.inFlight--;
  }

  closed(): void {
    const previous = this.phase;
    this.phase = Phase.Closed;
    this.settle();
    this.server.forget(this);
    if (previous !== Phase.Closed || this.response !== null) this.response?.clientGone();
    this.response = null;
    this.request = null;
  }

  closeIfIdle(): void {
    if (this.phase === Phase.Head && this.pending === null) this.socket.destroy();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** A response write found the client's socket full: the client has the idle timeout to read on. */
  writeStalled(): void {
    if (this.writeDeadline === Number.POSITIVE_INFINITY) this.writeDeadline = performance.now() + this.server.options.idleTimeoutMs;
  }

  drained(): void {
    this.writeDeadline = Number.POSITIVE_INFINITY;
  }

  checkDeadline(now: number): void {
    if (now > this.writeDeadline) {
      // A client that stopped reading: its request is abandoned (the server exchange is aborted).
      this.socket.destroy();
      return;
    }
    if (this.phase !== Phase.Head || now < this.deadline) return;
    if (this.headStarted || this.requests === 0) this.refuse(408, 'request head timeout');
    else this.socket.destroy();
  }

  pause(): void {
    if (this.paused || this.phase === Phase.Closed) return;
    this.paused = true;
    this.socket.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.socket.resume();
  }

  /** The listener is shutting down: no more keep-alive. */
  get draining(): boolean {
    return this.server.closing;
  }

  /** Writes the response head of `100 Continue`. */
  writeContinue(): void {
    this.socket.write('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');
  }

  /** Hands the socket and any bytes read past the head to a tunnel (WebSocket); the connection stops serving. */
  detach(): { socket: Duplex; head: Buffer } {
    const head = this.pending ?? Buffer.alloc(0);
    this.pending = null;
    this.phase = Phase.Closed;
    this.settle();
    this.server.forget(this);
    this.socket.removeListener('data', onSocketData);
    this.socket.removeListener('end', onSocketEnd);
    this.socket.removeListener('close', onSocketClose);
    this.socket.removeListener('error', onSocketError);
    this.socket.removeListener('drain', onSocketDrain);
    // Nothing more is read until the tunnel pipes the socket (a flowing socket without a reader would drop bytes).
    this.socket.pause();
    this.request = null;
    this.response = null;
    return { socket: this.socket, head };
  }
}

function parsePipelined(connection: Http1Connection): void {
  connection.resumeParsing();
}

/** A request read by an `Http1Connection`. */
export class Http1Request implements ProxyRequest {
  readonly method: string;
  url: string;
  readonly contentLength: number;
  readonly httpVersionMajor = 1;
  readonly httpVersionMinor: number;
  /** The client asked to close the connection after this request. */
  readonly close: boolean;
  /** `Connection: upgrade` with an `Upgrade` field. */
  readonly upgrade: boolean;
  private headerMap: HeaderMap | undefined;
  /** Whether the field list was changed after parsing. */
  private rewritten = false;

  constructor(
    private readonly head: RequestHead,
    readonly remoteAddress: string,
    readonly body: Http1Body | null,
  ) {
    this.method = head.method;
    this.url = head.target;
    this.contentLength = head.contentLength;
    this.httpVersionMinor = head.minor;
    this.close = head.close;
    this.upgrade = head.connectionUpgrade && (head.fields & Field.Upgrade) !== 0;
  }

  get rawHeaders(): string[] {
    return this.head.rawHeaders;
  }

  get stats(): FieldStats {
    return this.head;
  }

  get plainFields(): string | null {
    if (this.rewritten || !this.head.plain) return null;
    const text = this.head.text;
    return text.slice(this.head.fieldsStart, text.length - 2);
  }

  header(lowerName: string): string | undefined {
    const head = this.head;
    const bit = fieldBit(lowerName);
    if (bit !== 0 && (head.fields & bit) === 0 && !this.rewritten) return undefined;
    if (bit === Field.Host && head.hostCount === 1) return head.host;
    return headerValue(head.rawHeaders, lowerName);
  }

  replaceHost(authority: string): void {
    const raw = this.head.rawHeaders;
    let replaced = false;
    for (let i = 0; i < raw.length; i += 2) {
      if ((raw[i] as string).toLowerCase() === 'host') {
        raw[i + 1] = authority;
        replaced = true;
      }
    }
    if (!replaced) raw.push('Host', authority);
    this.rewritten = true;
    this.head.host = authority;
    this.head.hostCount = 1;
    this.headerMap = undefined;
  }

  get headers(): HeaderMap {
    this.headerMap ??= headerMapOf(this.head.rawHeaders);
    return this.headerMap;
  }
}

/** The body of an HTTP/1 request, delivered as the connection reads it. */
export class Http1Body implements RequestBody {
  complete = false;
  private sink: BodySink | null = null;
  private held: Buffer[] = [];
  private heldBytes = 0;
  private flowing = true;

  constructor(
    private readonly connection: Http1Connection,
    readonly length: number | undefined,
  ) {}

  start(sink: BodySink): void {
    this.sink = sink;
    this.deliverHeld();
  }

  resume(): void {
    this.flowing = true;
    this.deliverHeld();
    if (this.flowing) this.connection.resume();
  }

  /** Called by the connection with each piece read. */
  push(chunk: Buffer): void {
    if (this.sink === null || !this.flowing || this.held.length > 0) {
      this.held.push(chunk);
      this.heldBytes += chunk.length;
      if (this.heldBytes > BODY_BUFFER) this.connection.pause();
      return;
    }
    if (!this.sink.data(chunk)) {
      this.flowing = false;
      this.connection.pause();
    }
  }

  /** Called by the connection when the body ended. */
  finish(): void {
    this.complete = true;
    if (this.sink !== null && this.held.length === 0) this.sink.end();
  }

  private deliverHeld(): void {
    const sink = this.sink;
    if (sink === null) return;
    while (this.held.length > 0 && this.flowing) {
      const chunk = this.held.shift() as Buffer;
      this.heldBytes -= chunk.length;
      if (!sink.data(chunk)) this.flowing = false;
    }
    if (this.held.length === 0 && this.complete && this.flowing) sink.end();
    if (this.heldBytes <= BODY_BUFFER && this.flowing) this.connection.resume();
  }
}

/** Statuses whose responses never have a body (RFC 9110 §6.4.1). */
function bodiless(status: number): boolean {
  return status === 204 || status === 304 || status < 200;
}

const enum Framing {
  Length,
  Chunked,
  /** HTTP/1.0 client, unknown length: the body ends when the connection closes. */
  Close,
  None,
}

function uncork(response: Http1Response): void {
  response.flush();
}

/** The response to an `Http1Request`. */
export class Http1Response implements ProxyResponse {
  headersSent = false;
  finished = false;
  closesConnection = false;
  onClientGone: ((fault?: ClientFault) => void) | undefined = undefined;
  private head: string | null = null;
  /** A server's head passed on as received (see `forwardHead`), until written. */
  private forwarded: ResponseHead | null = null;
  private framing = Framing.Length;
  private corked = false;
  private gone = false;

  constructor(
    private readonly connection: Http1Connection,
    private readonly request: Http1Request,
  ) {
    if (request.close) this.closesConnection = true;
  }

  closeConnection(): void {
    this.closesConnection = true;
  }

  writeContinue(): void {
    this.connection.writeContinue();
  }

  /** Takes the connection's socket for a tunnel (see `Http1Connection.detach`); this response is never written. */
  detach(): { socket: Duplex; head: Buffer } {
    this.finished = true;
    return this.connection.detach();
  }

  writeHead(status: number, reason: string | undefined, headers: string[]): void {
    this.headersSent = true;
    let framing = Framing.Close;
    let text = '';
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i] as string;
      if (name.length === 14 && name.toLowerCase() === 'content-length') framing = Framing.Length;
      text += `${name}: ${headers[i + 1] as string}\r\n`;
    }
    if (this.request.method === 'HEAD' || bodiless(status)) framing = Framing.None;
    else if (framing === Framing.Close && this.request.httpVersionMinor > 0) {
      framing = Framing.Chunked;
      text += 'transfer-encoding: chunked\r\n';
    }
    const body = this.request.body;
    if (framing === Framing.Close || this.connection.draining || (body !== null && !body.complete)) {
      this.closesConnection = true;
    }
    if (this.closesConnection) text += 'connection: close\r\n';
    else if (this.request.httpVersionMinor === 0) text += 'connection: keep-alive\r\n';
    this.framing = framing;
    this.head = `HTTP/1.1 ${status} ${reason ?? STATUS_CODES[status] ?? ''}\r\n${text}\r\n`;
  }

  forwardHead(head: ResponseHead): boolean {
    const request = this.request;
    const body = request.body;
    if (head.minor !== 1 || request.httpVersionMinor === 0 || this.closesConnection || this.connection.draining || (body !== null && !body.complete)) {
      return false;
    }
    if (request.method === 'HEAD' || bodiless(head.status)) this.framing = Framing.None;
    else if (head.contentLength >= 0) this.framing = Framing.Length;
    else return false;
    this.headersSent = true;
    this.forwarded = head;
    return true;
  }

  write(chunk: Buffer): boolean {
    const socket = this.connection.socket;
    const forwarded = this.forwarded;
    if (forwarded !== null) {
      this.forwarded = null;
      // A small response usually arrives in one read: its head and body then leave in one write.
      if (!this.corked && this.framing === Framing.Length && chunk.length <= JOIN_LIMIT) return socket.write(forwarded.forwardBytes(chunk));
      if (!this.corked) {
        this.corked = true;
        socket.cork();
        process.nextTick(uncork, this);
      }
      socket.write(forwarded.forwardBytes(null));
    }
    if (!this.corked) {
      this.corked = true;
      socket.cork();
      process.nextTick(uncork, this);
    }
    if (this.head !== null) {
      socket.write(this.head, 'latin1');
      this.head = null;
    }
    if (this.framing === Framing.None || chunk.length === 0) return !socket.writableNeedDrain;
    if (this.framing === Framing.Chunked) {
      socket.write(chunkHeader(chunk.length), 'latin1');
      socket.write(chunk);
      return socket.write(CHUNK_END);
    }
    return socket.write(chunk);
  }

  flushHead(): void {
    if (this.finished) return;
    const socket = this.connection.socket;
    if (this.forwarded !== null) {
      socket.write(this.forwarded.forwardBytes(null));
      this.forwarded = null;
    } else if (this.head !== null) {
      socket.write(this.head, 'latin1');
      this.head = null;
    }
  }

  onceDrain(listener: () => void): void {
    this.connection.writeStalled();
    this.connection.socket.once('drain', listener);
  }

  end(body?: Buffer): void {
    if (this.finished) return;
    if (body !== undefined) this.write(body);
    else if (this.forwarded !== null) {
      this.connection.socket.write(this.forwarded.forwardBytes(null));
      this.forwarded = null;
    } else if (this.head !== null) this.write(EMPTY);
    if (this.framing === Framing.Chunked) this.connection.socket.write(LAST_CHUNK);
    this.finished = true;
    this.connection.responseFinished();
  }

  flush(): void {
    if (!this.corked) return;
    this.corked = false;
    this.connection.socket.uncork();
  }

  destroy(): void {
    this.finished = true;
    this.connection.socket.destroy();
  }

  /** The connection closed while this response was active. */
  clientGone(fault?: ClientFault): void {
    if (this.gone || this.finished) return;
    this.gone = true;
    this.onClientGone?.(fault);
  }
}

const EMPTY = Buffer.alloc(0);
/** Largest piece of body copied to join its head in one write (when it does not directly follow the head already). */
const JOIN_LIMIT = 16 * 1024;
