import type { PoolConfig } from '../config/types.js';
import type { PickContext } from '../balancers/types.js';
import { UpstreamError, UpstreamPool, type UpstreamHandler } from '../http1/client.js';
import type { ResponseHead } from '../http1/head.js';
import type { Pool } from '../pools/pool.js';
import type { StickyCookie } from '../persistence/cookie.js';
import { clientAddressOf } from '../persistence/source-ip.js';
import { parseCookieHeader } from '../router/matchers.js';
import type { QueueWaiter } from '../pools/queue.js';
import type { PoolServer } from '../pools/server.js';
import type { RequestTelemetry } from '../runtime/telemetry.js';
import type { AccessLogWriter } from './access-log.js';
import { guardRequestBody, type BodyGuardOwner, type BodyLimits } from './body-guard.js';
import { downstreamResponseHeaders, requestIdFor, upstreamRequestFields } from './headers.js';
import type { BodySink, ClientFault, ProxyRequest, ProxyResponse, RequestBody } from './messages.js';
import { sendPlain } from './responses.js';
import { classifyUpstreamError, statusCondition, type UpstreamFailure } from './upstream-errors.js';

/** What the proxy needs to know about the listener a request arrived on. */
export interface ListenerContext {
  readonly name: string;
  readonly protocol: 'http' | 'https';
  readonly isTrusted: (address: string) => boolean;
  readonly accessLog: AccessLogWriter | undefined;
  readonly telemetry: RequestTelemetry | undefined;
  /** Limits on request bodies (size, total time, idle time). */
  readonly body: BodyLimits;
  /** Remove request header fields whose name contains `_`. */
  readonly dropUnderscore: boolean;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/** Informational (1xx) responses tolerated before the final one. */
const MAX_INFORMATIONAL = 8;

/** Retries per second allowed regardless of traffic, so a quiet pool can still fail over. */
const MIN_RETRIES_PER_SECOND = 3;

/** Creates the keep-alive connections Ballast uses to talk to one server. */
export function createUpstreamClient(server: PoolServer, config: PoolConfig): UpstreamPool {
  return new UpstreamPool(server.address, config.timeouts);
}

/**
 * Forwards one client request to a server of `pool` and streams the answer
 * back. A request that fails before its response started is retried on another
 * server when the pool's retry policy allows it.
 */
export function proxyHttpRequest(req: ProxyRequest, res: ProxyResponse, pool: Pool, listener: ListenerContext, path: string): void {
  new HttpExchange(req, res, pool, listener, path).start();
}

/**
 * The state of one client request across its attempts. It is the upstream
 * handler itself, so no promise or closure is created per request.
 *
 * Invariants: `pool.begin` and `pool.end` pair exactly once per attempt;
 * `finish` runs exactly once per exchange.
 */
class HttpExchange implements UpstreamHandler, QueueWaiter, BodyGuardOwner, BodySink {
  private readonly startedAt = performance.now();
  private readonly fields: string;
  private readonly hasHost: boolean;
  private readonly clientAddress: string;
  private readonly requestId: string;
  readonly ctx: PickContext;
  private queued = false;
  /** The server a valid sticky cookie of this request names. */
  private readonly sticky: { readonly server: string; readonly expiresAt: number } | undefined;
  private body: Buffer | RequestBody | null = null;
  /** Pieces of a body read into memory for retries. */
  private bufferedChunks: Buffer[] | null = null;
  private server: PoolServer | undefined;
  private tried: PoolServer[] | undefined;
  private attemptStartedAt = 0;
  private upstreamMs: number | undefined;
  private abortUpstream: ((reason?: Error) => void) | undefined;
  private resumeUpstream: (() => void) | undefined;
  private discarding = false;
  private awaitingDrain = false;
  private retryStatus: number | undefined;
  private retries = 0;
  private informational = 0;
  private bytesSent = 0;
  private finished = false;
  private clientGone = false;
  private status = 0;
  private error: string | undefined;
  private lastFailure: UpstreamFailure | undefined;

  constructor(
    private readonly req: ProxyRequest,
    private readonly res: ProxyResponse,
    private readonly pool: Pool,
    private readonly listener: ListenerContext,
    private readonly path: string,
  ) {
    const peer = req.remoteAddress;
    const peerTrusted = listener.isTrusted(peer);
    this.clientAddress = clientAddressOf(peer, peerTrusted ? req.header('x-forwarded-for') : undefined, listener.isTrusted);
    const cookie = pool.stickyCookie;
    this.sticky = cookie?.verify(parseCookieHeader(req.header('cookie')).get(cookie.name), Date.now());
    this.ctx = {
      clientAddress: this.clientAddress,
      hashKey: pool.hashKey?.({ clientAddress: this.clientAddress, url: path, headers: req.headers }),
    };
    this.requestId = requestIdFor(req.header('x-request-id'));
    this.fields = upstreamRequestFields(req, {
      peerAddress: peer,
      peerTrusted,
      protocol: listener.protocol,
      dropUnderscore: listener.dropUnderscore,
      requestId: this.requestId,
    });
    this.hasHost = req.stats.hostCount > 0 || (req.httpVersionMajor === 2 && req.header(':authority') !== undefined);
  }

  start(): void {
    this.res.onClientGone = (fault) => this.clientClosed(fault);
    const requestBody = this.req.body;
    if (requestBody === null) {
      this.attempt();
      return;
    }
    const body = guardRequestBody(requestBody, this.listener.body, this);
    const retries = this.pool.config.retries;
    if (body.length !== undefined && retries.attempts > 0 && body.length <= retries.bufferBytes) {
      // A small body is read into memory first, so a retry can send it again.
      this.bufferedChunks = [];
      body.start(this);
      return;
    }
    this.body = body;
    this.attempt();
  }

  /** BodySink, while a body is read into memory. */
  data(chunk: Buffer): boolean {
    this.bufferedChunks?.push(chunk);
    return true;
  }

  end(): void {
    const chunks = this.bufferedChunks;
    if (chunks === null || this.clientGone) return;
    this.bufferedChunks = null;
    this.body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
    this.attempt();
  }

  /** The first attempt may wait in the pool's queue; retries take a free server or fail. */
  private attempt(): void {
    if (this.tried === undefined) {
      const sticky = this.sticky === undefined ? undefined : this.pool.stickyServer(this.sticky.server);
      if (sticky !== undefined) {
        this.dispatchTo(sticky);
        return;
      }
      const acquired = this.pool.acquire(this.ctx, this);
      if (acquired === 'queued') {
        this.queued = true;
        return;
      }
      if (typeof acquired === 'string') {
        this.error = acquired === 'queue-full' ? 'queue full' : 'no server available';
        this.respondStatus(503);
        return;
      }
      this.dispatchTo(acquired);
      return;
    }
    const server = this.pickServer();
    if (server === null) {
      this.respondFailure(this.lastFailure);
      return;
    }
    this.dispatchTo(server);
  }

  granted(server: PoolServer): void {
    this.queued = false;
    this.dispatchTo(server);
  }

  rejected(reason: 'timeout' | 'stopped'): void {
    this.queued = false;
    this.error = reason === 'timeout' ? 'queue timeout' : 'pool stopped';
    this.respondStatus(503);
  }

  private dispatchTo(server: PoolServer): void {
    this.server = server;
    this.discarding = false;
    this.abortUpstream = undefined;
    this.pool.begin(server);
    this.attemptStartedAt = performance.now();
    server.httpClient ??= createUpstreamClient(server, this.pool.config);
    server.httpClient.dispatch(
      { path: this.path, method: this.req.method, fields: this.fields, hasHost: this.hasHost, body: this.body, declaredLength: this.req.contentLength },
      this,
    );
  }

  /** A server not tried yet by this exchange, or null. */
  private pickServer(): PoolServer | null {
    const tried = this.tried ?? [];
    for (let i = 0; i < 4; i++) {
      const server = this.pool.pick(this.ctx);
      if (server === null) return null;
      if (!tried.includes(server)) return server;
    }
    for (const server of this.pool.list()) {
      if (server.eligible && !server.atCapacity && !tried.includes(server)) return server;
    }
    return null;
  }

  onConnect(abort: (err?: Error) => void): void {
    this.abortUpstream = abort;
    if (this.clientGone) abort();
  }

  onHeaders(head: ResponseHead, resume: () => void): void {
    const statusCode = head.status;
    if (statusCode < 200 || statusCode > 599) {
      // 1xx answers are not forwarded; a flood of them, or a status outside 1xx-5xx, is a broken server.
      if (statusCode > 599 || ++this.informational > MAX_INFORMATIONAL) this.protocolFailure(`status ${statusCode}`);
      return;
    }
    const latency = performance.now() - this.attemptStartedAt;
    this.upstreamMs = latency;
    const condition = statusCondition(statusCode);
    if (condition !== undefined && this.canRetry(condition, false)) {
      // Drain the error body so the keep-alive connection stays usable, then retry.
      this.discarding = true;
      this.retryStatus = statusCode;
      return;
    }
    this.status = statusCode;
    this.resumeUpstream = resume;
    const cookie = this.pool.stickyCookie;
    const setCookie = cookie === undefined ? undefined : this.stickyCookieFor(cookie);
    // The common answer goes to the client with its head as received.
    if (setCookie === undefined && head.forwardable && this.res.forwardHead(head)) return;
    const headers = downstreamResponseHeaders(head.rawHeaders);
    if (setCookie !== undefined) headers.push('set-cookie', setCookie);
    this.res.writeHead(statusCode, head.reason === '' ? undefined : head.reason, headers);
  }

  /** The sticky cookie to set when the request had none, named another server, or is past half its lifetime. */
  private stickyCookieFor(cookie: StickyCookie): string | undefined {
    const server = this.server as PoolServer;
    const now = Date.now();
    const sticky = this.sticky;
    if (sticky !== undefined && sticky.server === server.name && !cookie.wantsRenewal(sticky.expiresAt, now)) return undefined;
    return cookie.issue(server.name, now, this.listener.protocol === 'https');
  }

  onData(chunk: Buffer): boolean {
    if (this.discarding) return true;
    this.bytesSent += chunk.length;
    if (this.res.write(chunk)) return true;
    // One wait per pause: pieces of the same read may still arrive before reading stops.
    if (!this.awaitingDrain) {
      this.awaitingDrain = true;
      this.res.onceDrain(() => {
        this.awaitingDrain = false;
        this.resumeUpstream?.();
      });
    }
    return false;
  }

  onReadEnd(): void {
    if (!this.discarding) this.res.flushHead();
  }

  onComplete(): void {
    const server = this.server as PoolServer;
    if (this.discarding) {
      this.pool.end(server, this.upstreamMs ?? 0, true);
      this.lastFailure = undefined;
      this.retryOn(server);
      return;
    }
    this.pool.end(server, this.upstreamMs ?? 0, this.status >= 500);
    this.res.end();
    this.finish();
  }

  onError(err: Error): void {
    const server = this.server as PoolServer;
    if (this.clientGone) {
      this.pool.end(server, performance.now() - this.attemptStartedAt, false);
      this.finish();
      return;
    }
    const failure = classifyUpstreamError(err);
    this.pool.end(server, performance.now() - this.attemptStartedAt, true);
    this.lastFailure = failure;
    if (this.res.headersSent) {
      // The response already started: the client must see a truncated answer, not a complete-looking one.
      this.error = failure.reason;
      this.res.destroy();
      this.finish();
      return;
    }
    if (this.discarding) {
      this.retryOn(server);
      return;
    }
    if (failure.condition !== undefined && this.canRetry(failure.condition, failure.notSent)) {
      this.retryOn(server);
      return;
    }
    this.respondFailure(failure);
  }

  /** Whether a failed attempt may be repeated on another server. */
  private canRetry(condition: UpstreamFailure['condition'], notSent: boolean): boolean {
    const policy = this.pool.config.retries;
    if (this.retries >= policy.attempts || condition === undefined || !policy.on.includes(condition)) return false;
    // A request that never reached a server cost no server any work: retrying it cannot feed a
    // retry storm, so connect failures are always retried (within `attempts`), outside the budget.
    if (notSent) return true;
    // Once sent, only a buffered body can be replayed, and only an idempotent request may be.
    if (this.body !== null && !Buffer.isBuffer(this.body)) return false;
    if (!IDEMPOTENT.has(this.req.method) && this.req.header('idempotency-key') === undefined) return false;
    // One token per retry attempt, so retries stay a share of requests however many attempts each may make.
    return this.pool.tryTakeRetryToken(MIN_RETRIES_PER_SECOND, policy.budgetPercent);
  }

  private retryOn(failed: PoolServer): void {
    this.retries++;
    this.listener.telemetry?.retry(this.pool, this.lastFailure?.condition ?? String(this.retryStatus ?? 'unknown'));
    (this.tried ??= []).push(failed);
    this.attempt();
  }

  private respondFailure(failure: UpstreamFailure | undefined): void {
    if (this.retryStatus !== undefined && failure === undefined) {
      this.status = this.retryStatus;
    } else {
      this.status = failure?.status ?? 503;
      this.error = failure?.reason ?? 'no server available';
    }
    if (!this.clientGone) sendPlain(this.res, this.status, this.req.body?.complete === false);
    this.finish();
  }

  private respondStatus(status: number): void {
    this.status = status;
    if (!this.clientGone) sendPlain(this.res, status, this.req.body?.complete === false);
    this.finish();
  }

  /**
   * Ends the attempt as a 502 (no retry) and drops the server connection, so
   * nothing a broken server sent is forwarded or reused. Re-entrant from
   * `onHeaders`: the connection calls `onError` before `abort` returns.
   */
  private protocolFailure(reason: string): void {
    this.abortUpstream?.(new UpstreamError('UPSTREAM_PROTOCOL', `server answered badly: ${reason}`));
  }

  /**
   * The request body broke a listener limit (`BodyGuardOwner`): forwarding
   * stops, the server exchange is aborted (the server sees an incomplete
   * request, never a complete one), and the client gets `status` with
   * Connection: close, or a reset when its response had already started.
   */
  bodyRejected(status: 408 | 413): void {
    if (this.finished || this.clientGone) {
      // The answer is complete but the client is still sending (slowly, or too much): close.
      this.res.destroy();
      return;
    }
    this.error = status === 413 ? 'request body too large' : 'request body timeout';
    if (this.res.headersSent) this.res.destroy();
    else {
      this.status = status;
      sendPlain(this.res, status, true);
    }
    this.clientGone = true;
    this.abandon();
  }

  /**
   * Called when the client connection closes; aborts the server exchange if
   * it is still running. A `fault` is what the client was answered instead.
   */
  clientClosed(fault?: ClientFault): void {
    if (this.finished || this.clientGone) return;
    this.clientGone = true;
    this.error = fault?.reason ?? 'client aborted';
    if (fault !== undefined && this.status === 0) this.status = fault.status;
    this.abandon();
  }

  /** Stops whatever the exchange is waiting for: the server attempt (which then finishes it), or its place in the queue. */
  private abandon(): void {
    if (this.abortUpstream !== undefined) this.abortUpstream();
    else if (this.queued) {
      this.queued = false;
      this.pool.leaveQueue(this);
      this.finish();
    } else if (this.server === undefined) this.finish();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.res.onClientGone = undefined;
    const status = this.clientGone && this.status === 0 ? 499 : this.status;
    const totalMs = performance.now() - this.startedAt;
    this.listener.telemetry?.request(this.pool, this.server, status, totalMs, this.upstreamMs);
    const log = this.listener.accessLog;
    if (log === undefined) return;
    log({
      listener: this.listener.name,
      requestId: this.requestId,
      client: this.clientAddress,
      method: this.req.method,
      path: this.path,
      status,
      pool: this.pool.name,
      server: this.server?.name,
      upstreamMs: this.upstreamMs,
      totalMs,
      bytes: this.bytesSent,
      retries: this.retries,
      error: this.error,
    });
  }
}
