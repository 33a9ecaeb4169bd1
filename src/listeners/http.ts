import { createServer, ServerResponse, type IncomingMessage, type Server } from 'node:http';
import { createSecureServer, type Http2SecureServer, type Http2ServerRequest, type Http2ServerResponse, type Http2Session } from 'node:http2';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { HttpListenerConfig, HttpsListenerConfig } from '../config/types.js';
import { AddressSet } from '../core/address.js';
import type { Pool } from '../pools/pool.js';
import type { AccessLogWriter } from '../proxy/access-log.js';
import { proxyHttpRequest, type ListenerContext } from '../proxy/http.js';
import { sendPlain } from '../proxy/responses.js';
import { normalizeHost, type Router } from '../router/router.js';
import { proxyUpgrade } from '../proxy/upgrade.js';
import type { RequestTelemetry } from '../runtime/telemetry.js';
import { listenOn, waitUntil } from './listen.js';
import { CertificateStore } from './tls.js';

/** HTTP/2 limits: concurrent streams per connection and the size of a header list. */
const H2_MAX_CONCURRENT_STREAMS = 128;
const H2_MAX_HEADER_LIST_BYTES = 64 * 1024;

type AnyServer = Server | Http2SecureServer;
type AnyRequest = IncomingMessage | Http2ServerRequest;
type AnyResponse = ServerResponse | Http2ServerResponse;

/**
 * An `http` listener: accepts connections, matches each request against the
 * route table and hands it to the proxy. The route table can be swapped at
 * run time (reload) without touching the socket.
 */
export class HttpListener {
  readonly name: string;
  private config: HttpListenerConfig | HttpsListenerConfig;
  private router: Router<Pool>;
  private context: ListenerContext;
  private readonly server: AnyServer;
  private readonly certificates: CertificateStore | undefined;
  /** Every open client connection (TLS and HTTP/2 servers lack closeAllConnections). */
  private readonly sockets = new Set<Socket | Duplex>();
  private readonly sessions = new Set<Http2Session>();
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
    this.context = this.buildContext(accessLog);
    const handler = (req: AnyRequest, res: AnyResponse): void => this.handle(req as IncomingMessage, res as ServerResponse);
    const http1Options = {
      headersTimeout: config.timeouts.requestHeaders,
      requestTimeout: 0,
      keepAliveTimeout: config.timeouts.idle,
      connectionsCheckingInterval: Math.min(1000, config.timeouts.requestHeaders),
      noDelay: true,
    };
    if (config.protocol === 'http') {
      this.certificates = undefined;
      this.server = createServer(http1Options, handler);
    } else {
      const certificates = new CertificateStore(config.tls.certificates);
      this.certificates = certificates;
      const tlsOptions = { ...certificates.defaultOptions, SNICallback: certificates.sniCallback };
      if (config.tls.http2) {
        const server = createSecureServer(
          {
            ...tlsOptions,
            allowHTTP1: true,
            settings: { maxConcurrentStreams: H2_MAX_CONCURRENT_STREAMS, maxHeaderListSize: H2_MAX_HEADER_LIST_BYTES },
            maxSessionMemory: 32,
          },
          handler,
        );
        server.on('session', (session: Http2Session) => {
          this.sessions.add(session);
          session.on('close', () => this.sessions.delete(session));
        });
        server.setTimeout(config.timeouts.idle);
        this.server = server;
      } else {
        this.server = createHttpsServer({ ...http1Options, ...tlsOptions }, handler);
      }
    }
    const track = (socket: Socket | Duplex): void => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    };
    this.server.on(config.protocol === 'http' ? 'connection' : 'secureConnection', track);
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.handleUpgrade(req, socket, head));
  }

  /** Binds the configured address. */
  async listen(): Promise<void> {
    await listenOn(this.server, this.config.listen);
  }

  get address(): AddressInfo {
    return this.server.address() as AddressInfo;
  }

  /** Applies a new route table, listener settings and certificates; the socket stays open. */
  update(config: HttpListenerConfig | HttpsListenerConfig, router: Router<Pool>, accessLog: AccessLogWriter | undefined): void {
    this.config = config;
    this.router = router;
    this.context = this.buildContext(accessLog);
    if (config.protocol === 'https' && this.certificates !== undefined) {
      this.certificates.reload(config.tls.certificates);
      (this.server as Http2SecureServer).setSecureContext(this.certificates.defaultOptions);
    }
    if ('headersTimeout' in this.server) {
      this.server.headersTimeout = config.timeouts.requestHeaders;
      this.server.keepAliveTimeout = config.timeouts.idle;
    }
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
    await waitUntil(() => this.activeRequests === 0, drainMs);
    for (const session of this.sessions) session.destroy();
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  /**
   * WebSocket upgrades are proxied after the server answers 101. Any other
   * Upgrade (h2c, ...) is served as a plain request with the Upgrade header
   * stripped, never tunnelled.
   */
  private handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const target = this.route(req);
    const isWebSocket = (req.headers.upgrade ?? '').toLowerCase() === 'websocket';
    if (target !== undefined && isWebSocket) {
      proxyUpgrade(req, socket, head, target.pool, this.context, this.config.timeouts.idle);
      return;
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
    this.activeRequests++;
    res.on('close', this.onResponseClosed);
    const url = req.url ?? '/';
    if (url.charCodeAt(0) !== 47 /* '/' */) {
      sendPlain(res, 400, true);
      return;
    }
    const pool = this.route(req)?.pool;
    if (pool === undefined) {
      sendPlain(res, 404);
      this.context.accessLog?.({
        listener: this.name,
        client: req.socket.remoteAddress ?? '',
        method: req.method ?? '',
        path: url,
        status: 404,
        pool: undefined,
        server: undefined,
        upstreamMs: undefined,
        totalMs: 0,
        bytes: 0,
        retries: 0,
        error: 'no route',
      });
      return;
    }
    proxyHttpRequest(req, res, pool, this.context, url);
  }

  private buildContext(accessLog: AccessLogWriter | undefined): ListenerContext {
    const trusted = new AddressSet(this.config.trustedProxies);
    return {
      name: this.config.name,
      protocol: this.config.protocol,
      isTrusted: (address) => trusted.has(address),
      accessLog,
      telemetry: this.telemetry,
    };
  }
}
