import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HttpListenerConfig } from '../config/types.js';
import { AddressSet } from '../core/address.js';
import type { Pool } from '../pools/pool.js';
import type { AccessLogWriter } from '../proxy/access-log.js';
import { proxyHttpRequest, type ListenerContext } from '../proxy/http.js';
import { sendPlain } from '../proxy/responses.js';
import { normalizeHost, type Router } from '../router/router.js';
import { listenOn, waitUntil } from './listen.js';

/**
 * An `http` listener: accepts connections, matches each request against the
 * route table and hands it to the proxy. The route table can be swapped at
 * run time (reload) without touching the socket.
 */
export class HttpListener {
  readonly name: string;
  private config: HttpListenerConfig;
  private router: Router<Pool>;
  private context: ListenerContext;
  private readonly server: Server;
  private activeRequests = 0;
  private readonly onResponseClosed = (): void => {
    this.activeRequests--;
  };

  constructor(config: HttpListenerConfig, router: Router<Pool>, accessLog: AccessLogWriter | undefined) {
    this.name = config.name;
    this.config = config;
    this.router = router;
    this.context = this.buildContext(accessLog);
    this.server = createServer(
      {
        headersTimeout: config.timeouts.requestHeaders,
        requestTimeout: 0,
        keepAliveTimeout: config.timeouts.idle,
        connectionsCheckingInterval: Math.min(1000, config.timeouts.requestHeaders),
        noDelay: true,
      },
      (req, res) => this.handle(req, res),
    );
  }

  /** Binds the configured address. */
  async listen(): Promise<void> {
    await listenOn(this.server, this.config.listen);
  }

  get address(): AddressInfo {
    return this.server.address() as AddressInfo;
  }

  /** Applies a new route table and listener settings; the socket stays open. */
  update(config: HttpListenerConfig, router: Router<Pool>, accessLog: AccessLogWriter | undefined): void {
    this.config = config;
    this.router = router;
    this.context = this.buildContext(accessLog);
    this.server.headersTimeout = config.timeouts.requestHeaders;
    this.server.keepAliveTimeout = config.timeouts.idle;
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
    this.server.closeIdleConnections();
    await waitUntil(() => this.activeRequests === 0, drainMs);
    this.server.closeAllConnections();
    await closed;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.activeRequests++;
    res.on('close', this.onResponseClosed);
    const url = req.url ?? '/';
    if (url.charCodeAt(0) !== 47 /* '/' */) {
      sendPlain(res, 400, true);
      return;
    }
    const query = url.indexOf('?');
    const path = query === -1 ? url : url.slice(0, query);
    const pool = this.router.resolve({
      method: req.method ?? 'GET',
      host: normalizeHost(req.headers.host),
      path,
      headers: req.headers,
    });
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
    };
  }
}
