import { createServer, ServerResponse, type IncomingMessage, type Server } from 'node:http';
import {
  createSecureServer,
  Http2ServerResponse,
  type Http2SecureServer,
  type Http2ServerRequest,
  type Http2Session,
} from 'node:http2';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { HttpListenerConfig, HttpsListenerConfig } from '../config/types.js';
import { AddressSet } from '../core/address.js';
import type { Pool } from '../pools/pool.js';
import type { AccessLogWriter } from '../proxy/access-log.js';
import { proxyHttpRequest, type ListenerContext } from '../proxy/http.js';
import { connectionClosing, endLingering, rawResponse, sendPlain } from '../proxy/responses.js';
import { normalizeHost, type Router } from '../router/router.js';
import { proxyUpgrade } from '../proxy/upgrade.js';
import type { RequestTelemetry } from '../runtime/telemetry.js';
import { listenOn, waitUntil } from './listen.js';
import { refusalStatus, toOriginForm } from './request-checks.js';
import { CertificateStore } from './tls.js';

/** HTTP/2 header list overhead per field (RFC 9113 §6.5.2: name + value + 32). */
const H2_FIELD_OVERHEAD = 32;
/** Pseudo-header fields (`:method`, `:path`, ...) allowed on top of `maxHeaders`. */
const H2_PSEUDO_HEADERS = 5;

type AnyServer = Server | Http2SecureServer;
type AnyRequest = IncomingMessage | Http2ServerRequest;
type AnyResponse = ServerResponse | Http2ServerResponse;

/** What Node attaches to parser errors it reports through `clientError`. */
type ClientError = Error & { code?: string; rawPacket?: Buffer };

const kRefused = Symbol('ballast.refused');

/**
 * An `http` listener: accepts connections, matches each request against the
 * route table and hands it to the proxy. The route table can be swapped at
 * run time (reload) without touching the socket.
 *
 * Every HTTP/1 connection is parsed by a Node `http.Server` with the
 * listener's limits (`http1`); with HTTP/2 enabled, TLS connections that did
 * not negotiate h2 are handed to such a server too, so HTTP/1.1 clients of
 * an HTTP/2 listener get the same header timeout and limits.
 */
export class HttpListener {
  readonly name: string;
  private config: HttpListenerConfig | HttpsListenerConfig;
  private router: Router<Pool>;
  private context: ListenerContext;
  private readonly server: AnyServer;
  /** The server that parses HTTP/1 (the listening server itself unless HTTP/2 is on). */
  private readonly http1: Server;
  private readonly certificates: CertificateStore | undefined;
  private trusted: AddressSet;
  /** Every open client connection (TLS and HTTP/2 servers lack closeAllConnections). */
  private readonly sockets = new Set<Socket | Duplex>();
  private readonly sessions = new Set<Http2Session>();
  /** Open connections per client address, while `maxConnectionsPerIp` is set. */
  private readonly perAddress = new Map<string, number>();
  private activeRequests = 0;
  private readonly onResponseClosed = (): void => {
    this.activeRequests--;
  };

  constructor(
    config: HttpListenerConfig | HttpsListenerConfig,
    router: Router<Pool>,
    accessLog: AccessLogWriter | undefined,
    private readonly telemetry?: RequestTelemetry,
  ) {
    this.name = config.name;
    this.config = config;
    this.router = router;
    this.trusted = new AddressSet(config.trustedProxies);
    this.context = this.buildContext(accessLog);
    const handler = (req: AnyRequest, res: AnyResponse): void => this.handle(req as IncomingMessage, res as ServerResponse);
    const http1Options = {
      headersTimeout: config.timeouts.requestHeaders,
      requestTimeout: 0,
      keepAliveTimeout: config.timeouts.idle,
      connectionsCheckingInterval: Math.min(1000, config.timeouts.requestHeaders),
      maxHeaderSize: parserHeaderLimit(config),
      requireHostHeader: true,
      noDelay: true,
    };
    if (config.protocol === 'http') {
      this.certificates = undefined;
      this.server = createServer(http1Options, handler);
      this.http1 = this.server;
    } else {
      const certificates = new CertificateStore(config.tls.certificates);
      this.certificates = certificates;
      // A TLS handshake gets no longer than the request headers would.
      const tlsOptions = {
        ...certificates.defaultOptions,
        SNICallback: certificates.sniCallback,
        handshakeTimeout: config.timeouts.requestHeaders,
      };
      if (config.tls.http2) {
        const server = createSecureServer(
          {
            ...tlsOptions,
            allowHTTP1: true,
            settings: { maxConcurrentStreams: config.maxConcurrentStreams, maxHeaderListSize: h2HeaderListLimit(config) },
            maxHeaderListPairs: config.maxHeaders + H2_PSEUDO_HEADERS,
            maxSessionMemory: 32,
          },
          handler,
        );
        server.on('session', (session: Http2Session) => {
          this.sessions.add(session);
          session.on('close', () => this.sessions.delete(session));
        });
        server.setTimeout(config.timeouts.idle);
        this.http1 = detachedHttp1Server(server, createServer(http1Options, handler));
        this.server = server;
      } else {
        this.server = createHttpsServer({ ...http1Options, ...tlsOptions }, handler);
        this.http1 = this.server;
      }
    }
    this.http1.maxHeadersCount = config.maxHeaders + 1;
    this.http1.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.handleUpgrade(req, socket, head));
    this.http1.on('connect', (req: IncomingMessage, socket: Duplex) => refuseRaw(socket, 405));
    this.http1.on('clientError', (error: ClientError, socket: Duplex) => this.onClientError(error, socket));
    this.http1.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => this.handleExpectContinue(req, res));
    this.server.maxConnections = config.maxConnections;
    this.server.on('connection', (socket: Socket) => this.admit(socket));
    const track = (socket: Socket | Duplex): void => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    };
    this.server.on(config.protocol === 'http' ? 'connection' : 'secureConnection', track);
  }

  /** Binds the configured address. */
  async listen(): Promise<void> {
    await listenOn(this.server, this.config.listen);
  }

  get address(): AddressInfo {
    return this.server.address() as AddressInfo;
  }

  /**
   * Applies a new route table, listener settings and certificates; the socket
   * stays open. Limits apply to connections accepted from now on (header
   * limits) or to requests from now on (the others); HTTP/2 settings are
   * fixed when the listener starts.
   */
  update(config: HttpListenerConfig | HttpsListenerConfig, router: Router<Pool>, accessLog: AccessLogWriter | undefined): void {
    this.config = config;
    this.router = router;
    this.trusted = new AddressSet(config.trustedProxies);
    this.context = this.buildContext(accessLog);
    if (config.protocol === 'https' && this.certificates !== undefined) {
      this.certificates.reload(config.tls.certificates);
      (this.server as Http2SecureServer).setSecureContext(this.certificates.defaultOptions);
    }
    this.http1.headersTimeout = config.timeouts.requestHeaders;
    this.http1.keepAliveTimeout = config.timeouts.idle;
    // Read by Node's HTTP server for every new connection.
    (this.http1 as Server & { maxHeaderSize: number }).maxHeaderSize = parserHeaderLimit(config);
    this.http1.maxHeadersCount = config.maxHeaders + 1;
    this.server.maxConnections = config.maxConnections;
  }

  get inFlight(): number {
    return this.activeRequests;
  }

  /**
   * Stops accepting, lets in-flight requests finish for up to `drainMs`,
   * then closes whatever is left.
   */
  async close(drainMs: number): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const session of this.sessions) session.close();
    if ('closeIdleConnections' in this.server) this.server.closeIdleConnections();
    if (this.http1 !== this.server) this.http1.closeIdleConnections();
    await waitUntil(() => this.activeRequests === 0, drainMs);
    for (const session of this.sessions) session.destroy();
    for (const socket of this.sockets) socket.destroy();
    if (this.http1 !== this.server) this.http1.close();
    await closed;
  }

  /**
   * Applies `maxConnectionsPerIp` to a new TCP connection (before TLS).
   * Trusted proxies are exempt: many clients share their address.
   * `maxConnections` is enforced by Node before this runs.
   */
  private admit(socket: Socket): void {
    const limit = this.config.maxConnectionsPerIp;
    const address = socket.remoteAddress;
    if (limit === undefined || address === undefined || this.trusted.has(address)) return;
    const open = this.perAddress.get(address) ?? 0;
    if (open >= limit) {
      socket.destroy();
      return;
    }
    this.perAddress.set(address, open + 1);
    socket.once('close', () => {
      const left = (this.perAddress.get(address) ?? 1) - 1;
      if (left <= 0) this.perAddress.delete(address);
      else this.perAddress.set(address, left);
    });
  }

  /**
   * A request Node's parser refused (malformed or ambiguous framing, limits,
   * the header timeout): answers with the matching status and a lingering
   * close. A head larger than the parser's limit is 414 when the request
   * line alone is what overflowed, else 431.
   */
  private onClientError(error: ClientError, socket: Duplex): void {
    const refused = socket as Duplex & { [kRefused]?: boolean; _httpMessage?: ServerResponse | null };
    if (refused[kRefused] === true) return;
    refused[kRefused] = true;
    const code = error.code;
    if (code === 'ECONNRESET' || code === 'EPIPE' || !socket.writable || refused._httpMessage?.headersSent === true) {
      socket.destroy();
      return;
    }
    let status = 400;
    if (code === 'HPE_HEADER_OVERFLOW') status = requestLineOverflowed(error.rawPacket, this.config.maxUrlLength) ? 414 : 431;
    else if (code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW') status = 413;
    else if (code === 'ERR_HTTP_REQUEST_TIMEOUT') status = 408;
    endLingering(socket, rawResponse(status));
  }

  /**
   * `Expect: 100-continue`: a request that will be refused (a body announced
   * larger than `maxBodySize`, a limit, a bad Host) gets its refusal instead
   * of 100 Continue, so the client never sends the body.
   */
  private handleExpectContinue(req: IncomingMessage, res: ServerResponse): void {
    if (refusalStatus(req, this.config, false) === 0 && !bodyTooLarge(req, this.config.maxBodySize)) res.writeContinue();
    this.handle(req, res);
  }

  /**
   * WebSocket upgrades are proxied after the server answers 101. Any other
   * Upgrade (h2c, ...) is served as a plain request with the Upgrade header
   * stripped, never tunnelled.
   */
  private handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const isWebSocket = (req.headers.upgrade ?? '').toLowerCase() === 'websocket';
    if (isWebSocket) {
      const status = refusalStatus(req, this.config, false) || (toOriginForm(req) ? 0 : 400);
      if (status !== 0) {
        refuseRaw(socket, status);
        return;
      }
      const target = this.route(req);
      if (target !== undefined) {
        proxyUpgrade(req, socket, head, target.pool, this.context, this.config.timeouts.idle);
        return;
      }
    }
    if (head.length > 0) socket.unshift(head);
    const res = new ServerResponse(req);
    res.shouldKeepAlive = false;
    res.assignSocket(socket as Socket);
    res.on('finish', () => socket.end());
    this.handle(req, res);
  }

  private route(req: IncomingMessage): { pool: Pool; path: string } | undefined {
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const path = query === -1 ? url : url.slice(0, query);
    const pool = this.router.resolve({
      method: req.method ?? 'GET',
      host: normalizeHost(req.headers.host ?? (req.headers[':authority'] as string | undefined)),
      path,
      headers: req.headers,
    });
    return pool === undefined ? undefined : { pool, path };
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    // A request pipelined behind an answer that closes the connection is never served.
    if (connectionClosing(req.socket)) return;
    this.activeRequests++;
    res.on('close', this.onResponseClosed);
    const http2 = res instanceof Http2ServerResponse;
    const refusal = refusalStatus(req, this.config, http2);
    if (refusal !== 0) {
      this.refuse(res, refusal);
      return;
    }
    if (!(http2 ? req.url?.charCodeAt(0) === 47 /* '/' */ : toOriginForm(req))) {
      this.refuse(res, 400);
      return;
    }
    if (bodyTooLarge(req, this.config.maxBodySize)) {
      this.refuse(res, 413);
      return;
    }
    const url = req.url ?? '/';
    const pool = this.route(req)?.pool;
    if (pool === undefined) {
      sendPlain(res, 404);
      this.log(req, 404, 'no route');
      return;
    }
    proxyHttpRequest(req, res, pool, this.context, url);
  }

  /** Answers a request Ballast will not forward; the connection closes, as its body was not read. */
  private refuse(res: ServerResponse, status: number): void {
    sendPlain(res, status, true);
    this.log(res.req, status, 'refused');
  }

  private log(req: IncomingMessage, status: number, error: string): void {
    this.context.accessLog?.({
      listener: this.name,
      client: req.socket?.remoteAddress ?? '',
      method: req.method ?? '',
      path: req.url ?? '',
      status,
      pool: undefined,
      server: undefined,
      upstreamMs: undefined,
      totalMs: 0,
      bytes: 0,
      retries: 0,
      error,
    });
  }

  private buildContext(accessLog: AccessLogWriter | undefined): ListenerContext {
    const trusted = this.trusted;
    const config = this.config;
    return {
      name: config.name,
      protocol: config.protocol,
      isTrusted: (address) => trusted.has(address),
      accessLog,
      telemetry: this.telemetry,
      body: { maxBytes: config.maxBodySize, totalMs: config.timeouts.requestBody, idleMs: config.timeouts.requestBodyIdle },
      dropUnderscore: config.underscoreHeaders === 'drop',
    };
  }
}

/**
 * The byte limit given to Node's parser, which counts the request target and
 * every header name and value together: room for both limits, so that each
 * is then checked on its own (414, 431) by `refusalStatus`.
 */
function parserHeaderLimit(config: HttpListenerConfig | HttpsListenerConfig): number {
  return config.maxUrlLength + config.maxHeaderSize;
}

/** SETTINGS_MAX_HEADER_LIST_SIZE for HTTP/2: both limits plus the per-field overhead HTTP/2 counts. */
function h2HeaderListLimit(config: HttpsListenerConfig): number {
  return config.maxUrlLength + config.maxHeaderSize + (config.maxHeaders + H2_PSEUDO_HEADERS) * H2_FIELD_OVERHEAD;
}

/** Whether the declared Content-Length exceeds `max` (streamed bodies are counted by the proxy). */
function bodyTooLarge(req: IncomingMessage, max: number | undefined): boolean {
  if (max === undefined) return false;
  const length = req.headers['content-length'];
  return length !== undefined && Number(length) > max;
}

/**
 * Whether a parser overflow happened inside the request line: the packet
 * being parsed begins with a method and a target longer than `maxUrlLength`
 * with no end of line. A heuristic (the line may span packets); a miss
 * answers 431 instead of 414, still a refusal.
 */
function requestLineOverflowed(packet: Buffer | undefined, maxUrlLength: number): boolean {
  if (packet === undefined) return false;
  const space = packet.indexOf(32);
  if (space <= 0 || space > 32) return false;
  const end = packet.indexOf(10, space);
  return (end === -1 ? packet.length : end) - space > maxUrlLength;
}

/** Writes a complete error response to a socket that has no ServerResponse, then closes it. */
function refuseRaw(socket: Duplex, status: number): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  endLingering(socket, rawResponse(status));
}

/**
 * Routes the TLS connections of an HTTP/2 server that did not negotiate h2
 * to `http1`, a plain `http.Server` that never listens itself but parses them
 * with the listener's HTTP/1 options (Node's own HTTP/1 fallback in the
 * HTTP/2 server ignores them, the header timeout included). Returns `http1`.
 */
function detachedHttp1Server(server: Http2SecureServer, http1: Server): Server {
  const http2Listeners = server.listeners('secureConnection') as ((this: Http2SecureServer, socket: TLSSocket) => void)[];
  server.removeAllListeners('secureConnection');
  server.on('secureConnection', (socket: TLSSocket) => {
    if (socket.alpnProtocol === 'h2') {
      for (const listener of http2Listeners) listener.call(server, socket);
    } else {
      http1.emit('connection', socket);
    }
  });
  // An http.Server starts checking header timeouts when it starts listening; this one never does.
  http1.emit('listening');
  return http1;
}
