import { createSecureServer, type Http2SecureServer, type Http2ServerRequest, type Http2ServerResponse, type Http2Session } from 'node:http2';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import type { HttpListenerConfig, HttpsListenerConfig } from '../config/types.js';
import { AddressSet } from '../core/address.js';
import { Http1Server, type HeadRefusal, type Http1Request, type Http1Response, type Http1ServerOptions } from '../http1/server.js';
import type { Pool } from '../pools/pool.js';
import type { AccessLogWriter } from '../proxy/access-log.js';
import { proxyHttpRequest, type ListenerContext } from '../proxy/http.js';
import type { ProxyRequest, ProxyResponse } from '../proxy/messages.js';
import { sendPlain } from '../proxy/responses.js';
import { normalizeHost, type Router } from '../router/router.js';
import { proxyUpgrade } from '../proxy/upgrade.js';
import type { RequestTelemetry } from '../runtime/telemetry.js';
import { Http2Request, Http2Response } from './http2-messages.js';
import { listenOn, waitUntil } from './listen.js';
import { refusalStatus, toOriginForm } from './request-checks.js';
import { CertificateStore } from './tls.js';

/** HTTP/2 header list overhead per field (RFC 9113 §6.5.2: name + value + 32). */
const H2_FIELD_OVERHEAD = 32;
/** Pseudo-header fields (`:method`, `:path`, ...) allowed on top of `maxHeaders`. */
const H2_PSEUDO_HEADERS = 5;

type AnyServer = NetServer | TlsServer | Http2SecureServer;

/** Bytes of framing around each field line (`: ` and CRLF) and around the head, on top of the counted limits. */
const FIELD_FRAMING = 4;
const HEAD_FRAMING = 64;

/**
 * An `http` or `https` listener: accepts connections, matches each request
 * against the route table and hands it to the proxy. The route table can be
 * swapped at run time (reload) without touching the socket.
 *
 * HTTP/1 connections, plain or TLS, are served by Ballast's own HTTP/1
 * server (http1/server.ts); with HTTP/2 enabled, TLS connections that
 * negotiate h2 go to Node's HTTP/2 server and the others to the HTTP/1
 * server, so both get the listener's limits and timeouts.
 */
export class HttpListener {
  readonly name: string;
  private config: HttpListenerConfig | HttpsListenerConfig;
  private router: Router<Pool>;
  private context: ListenerContext;
  private readonly server: AnyServer;
  private readonly http1: Http1Server;
  private readonly certificates: CertificateStore | undefined;
  private trusted: AddressSet;
  private readonly sessions = new Set<Http2Session>();
  /** Client sockets handed to WebSocket tunnels: closed after the drain like any connection. */
  private readonly tunnels = new Set<Duplex>();
  /** Open connections per client address, while `maxConnectionsPerIp` is set. */
  private readonly perAddress = new Map<string, number>();
  /** Requests in progress: HTTP/1 ones are counted by `http1`, these are HTTP/2 streams. */
  private activeStreams = 0;
  private readonly onStreamClosed = (): void => {
    this.activeStreams--;
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
    this.http1 = new Http1Server(http1Options(config), {
      request: (req, res) => this.handleHttp1(req, res),
      refused: (refusal) => this.logRefusedHead(refusal),
    });
    const accept = (socket: Socket | TLSSocket): void => this.http1.accept(socket, socket.remoteAddress ?? '');
    if (config.protocol === 'http') {
      this.certificates = undefined;
      this.server = createNetServer({ allowHalfOpen: true, noDelay: true }, accept);
    } else {
      const certificates = new CertificateStore(config.tls.certificates);
      this.certificates = certificates;
      // A TLS handshake gets no longer than the request headers would.
      const tlsOptions = {
        ...certificates.defaultOptions,
        SNICallback: certificates.sniCallback,
        handshakeTimeout: config.timeouts.requestHeaders,
        allowHalfOpen: true,
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
          (req: Http2ServerRequest, res: Http2ServerResponse) => this.handleHttp2(req, res),
        );
        server.on('session', (session: Http2Session) => {
          this.sessions.add(session);
          session.on('close', () => this.sessions.delete(session));
        });
        server.setTimeout(config.timeouts.idle);
        routeHttp1Connections(server, accept);
        this.server = server;
      } else {
        this.server = createTlsServer({ ...tlsOptions, ALPNProtocols: ['http/1.1'] }, accept);
      }
      this.server.on('tlsClientError', (_error: Error, socket: TLSSocket) => socket.destroy());
    }
    this.server.maxConnections = config.maxConnections;
    this.server.on('connection', (socket: Socket) => this.admit(socket));
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
   * stays open. Limits apply to requests from now on; HTTP/2 settings are
   * fixed when the listener starts.
   */
  update(config: HttpListenerConfig | HttpsListenerConfig, router: Router<Pool>, accessLog: AccessLogWriter | undefined): void {
    this.config = config;
    this.router = router;
    this.trusted = new AddressSet(config.trustedProxies);
    this.context = this.buildContext(accessLog);
    if (config.protocol === 'https' && this.certificates !== undefined) {
      this.certificates.reload(config.tls.certificates);
      (this.server as TlsServer).setSecureContext(this.certificates.defaultOptions);
    }
    this.http1.options = http1Options(config);
    this.server.maxConnections = config.maxConnections;
  }

  get inFlight(): number {
    return this.http1.inFlight + this.activeStreams;
  }

  /**
   * Stops accepting, lets in-flight requests finish for up to `drainMs`,
   * then closes whatever is left.
   */
  async close(drainMs: number): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const session of this.sessions) session.close();
    this.http1.closeIdle();
    await waitUntil(() => this.inFlight === 0, drainMs);
    for (const session of this.sessions) session.destroy();
    for (const tunnel of this.tunnels) tunnel.destroy();
    this.http1.destroyAll();
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

  private handleHttp1(req: Http1Request, res: Http1Response): void {
    if (req.method === 'CONNECT') {
      this.refuse(req, res, 405);
      return;
    }
    const refusal = refusalStatus(req, this.config) || (toOriginForm(req) ? 0 : 400);
    if (refusal !== 0) {
      this.refuse(req, res, refusal);
      return;
    }
    // HTTP/1.1 requires Host (RFC 9112 §3.2); absolute-form has supplied one by now.
    if (req.httpVersionMinor > 0 && req.header('host') === undefined) {
      this.refuse(req, res, 400);
      return;
    }
    if (req.upgrade) {
      const isWebSocket = (req.header('upgrade') ?? '').toLowerCase() === 'websocket';
      const target = isWebSocket && req.body === null ? this.route(req) : undefined;
      if (target !== undefined) {
        const { socket, head } = res.detach();
        this.tunnels.add(socket);
        socket.once('close', () => this.tunnels.delete(socket));
        proxyUpgrade(req, socket, head, target, this.context, this.config.timeouts.idle);
        return;
      }
      // Any other Upgrade (h2c, ...) is served as a plain request, never tunnelled; the connection closes after it.
      res.closeConnection();
    }
    const expect = req.header('expect');
    if (expect !== undefined) {
      if (expect.toLowerCase() !== '100-continue') {
        this.refuse(req, res, 417);
        return;
      }
      // A request that will be refused gets its refusal instead of 100 Continue, so the client never sends the body.
      if (req.httpVersionMinor > 0 && req.body !== null && !bodyTooLarge(req, this.config.maxBodySize)) res.writeContinue();
    }
    this.serve(req, res);
  }

  private handleHttp2(raw: Http2ServerRequest, rawResponse: Http2ServerResponse): void {
    this.activeStreams++;
    rawResponse.once('close', this.onStreamClosed);
    const req = new Http2Request(raw);
    const res = new Http2Response(rawResponse);
    const refusal = refusalStatus(req, this.config) || (req.url.charCodeAt(0) === 47 /* '/' */ ? 0 : 400);
    if (refusal !== 0) {
      this.refuse(req, res, refusal);
      return;
    }
    this.serve(req, res);
  }

  private serve(req: ProxyRequest, res: ProxyResponse): void {
    if (bodyTooLarge(req, this.config.maxBodySize)) {
      this.refuse(req, res, 413);
      return;
    }
    const pool = this.route(req);
    if (pool === undefined) {
      sendPlain(res, 404);
      this.log(req, 404, 'no route');
      return;
    }
    proxyHttpRequest(req, res, pool, this.context, req.url);
  }

  private route(req: ProxyRequest): Pool | undefined {
    const url = req.url;
    const query = url.indexOf('?');
    return this.router.resolve({
      method: req.method,
      host: normalizeHost(req.header('host') ?? req.header(':authority')),
      path: query === -1 ? url : url.slice(0, query),
      headers: this.router.readsHeaders ? req.headers : NO_HEADERS,
    });
  }

  /** Answers a request Ballast will not forward; the connection closes, as its body was not read. */
  private refuse(req: ProxyRequest, res: ProxyResponse, status: number): void {
    sendPlain(res, status, true);
    this.log(req, status, 'refused');
  }

  private log(req: ProxyRequest, status: number, error: string): void {
    this.logUnforwarded(req.remoteAddress, req.method, req.url, status, error);
  }

  private logRefusedHead(refusal: HeadRefusal): void {
    this.logUnforwarded(refusal.remoteAddress, refusal.method, refusal.target, refusal.status, refusal.reason);
  }

  /** An access log line for a request answered by Ballast itself, never sent to a server. */
  private logUnforwarded(client: string, method: string, path: string, status: number, error: string): void {
    this.context.accessLog?.({
      listener: this.name,
      client,
      method,
      path,
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

const NO_HEADERS = Object.freeze({});

function http1Options(config: HttpListenerConfig | HttpsListenerConfig): Http1ServerOptions {
  return {
    maxHeadBytes: config.maxUrlLength + config.maxHeaderSize + (config.maxHeaders + 1) * FIELD_FRAMING + HEAD_FRAMING,
    maxUrlLength: config.maxUrlLength,
    headersTimeoutMs: config.timeouts.requestHeaders,
    idleTimeoutMs: config.timeouts.idle,
  };
}

/** SETTINGS_MAX_HEADER_LIST_SIZE for HTTP/2: both limits plus the per-field overhead HTTP/2 counts. */
function h2HeaderListLimit(config: HttpsListenerConfig): number {
  return config.maxUrlLength + config.maxHeaderSize + (config.maxHeaders + H2_PSEUDO_HEADERS) * H2_FIELD_OVERHEAD;
}

/** Whether the declared body length exceeds `max` (streamed bodies are counted by the proxy). */
function bodyTooLarge(req: ProxyRequest, max: number | undefined): boolean {
  return max !== undefined && req.body?.length !== undefined && req.body.length > max;
}

/**
 * Routes the TLS connections of an HTTP/2 server that did not negotiate h2
 * to `accept` (Ballast's HTTP/1 server) instead of Node's own HTTP/1
 * fallback, which would ignore the listener's HTTP/1 limits and timeouts.
 */
function routeHttp1Connections(server: Http2SecureServer, accept: (socket: TLSSocket) => void): void {
  const http2Listeners = server.listeners('secureConnection') as ((this: Http2SecureServer, socket: TLSSocket) => void)[];
  server.removeAllListeners('secureConnection');
  server.on('secureConnection', (socket: TLSSocket) => {
    if (socket.alpnProtocol === 'h2') {
      for (const listener of http2Listeners) listener.call(server, socket);
    } else {
      accept(socket);
    }
  });
}
