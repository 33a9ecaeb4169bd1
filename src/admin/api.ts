/**
 * The admin HTTP server on `admin.listen`: the REST API under `/api/v1`,
 * Prometheus metrics on `/metrics` and the dashboard on `/`.
 *
 * Reads are open to whoever can reach the (loopback by default) admin
 * address; every call that changes state needs `Authorization: Bearer TOKEN`
 * (see auth.ts). Answers are JSON; errors are
 * `{ "error": { "code": "BALLAST_ERR_...", "message": "..." } }` with a stable
 * code. The order of checks is route (404), method (405), token (401/403),
 * body (413/400), then the action itself (404 for an unknown pool or
 * server), so a caller without the token learns nothing about names.
 *
 * No cross-origin access is granted (no CORS headers; preflights get 405), so
 * a web page from elsewhere cannot send the bearer header to this server, and
 * the dashboard is served with a strict Content-Security-Policy.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AdminConfig } from '../config/types.js';
import { ErrorCodes, isBallastError } from '../core/errors.js';
import type { ServerAction } from '../runtime/runtime.js';
import { AUTH_REALM, AuthError, authorize } from './auth.js';
import { DASHBOARD_ASSETS } from './dashboard/index.js';
import type { DashboardAsset } from './dashboard/index.js';
import { EventStreams } from './sse.js';
import type { AdminView } from './view.js';

/**
 * Stable codes of the admin API's own protocol errors. They complete the
 * shared catalogue (`ErrorCodes`) for failures that only HTTP routing knows.
 */
export const AdminErrorCodes = {
  NOT_FOUND: ErrorCodes.NOT_FOUND,
  METHOD_NOT_ALLOWED: ErrorCodes.METHOD_NOT_ALLOWED,
  PAYLOAD_TOO_LARGE: ErrorCodes.PAYLOAD_TOO_LARGE,
  INTERNAL: ErrorCodes.INTERNAL,
} as const;

/** Largest accepted request body. */
export const MAX_BODY_BYTES = 16 * 1024;
/** Highest weight the API accepts. */
export const MAX_WEIGHT = 1000;

export interface AdminLogger {
  warn(obj: object, msg: string): void;
}

export interface AdminServerOptions {
  /** Keep-alive comment interval of event streams, ms. Default 15 s. */
  readonly heartbeatMs?: number;
  /** Unsent bytes after which an event-stream client that stopped reading is cut off. Default 1 MiB. */
  readonly maxStreamBufferBytes?: number;
  /** Largest accepted request body, bytes. Default 16 KiB. */
  readonly maxBodyBytes?: number;
}

/** An error answer: HTTP status, stable code, message and extra headers. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

type Method = 'GET' | 'HEAD' | 'POST' | 'PUT';
type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;
/** A path's handlers by method; the keys are also its `Allow` header. */
type Resource = Partial<Record<Method, Handler>>;

const SERVER_ACTIONS = new Set(['drain', 'enable', 'disable']);

/** Headers on every answer. */
const BASE_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
} as const;

/** The dashboard's policy: only its own scripts, styles and API; never framed. */
const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * The admin server. Lifecycle: `listen()` once, `close()` once. It holds no
 * state of its own beyond open event streams: everything it shows comes
 * from `view` at the time of the call.
 */
export class AdminServer {
  private readonly server: Server;
  private readonly streams: EventStreams;
  private readonly maxBodyBytes: number;
  private token: string | undefined;
  private reloading: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly config: AdminConfig,
    private readonly view: AdminView,
    private readonly logger?: AdminLogger,
    options: AdminServerOptions = {},
  ) {
    this.maxBodyBytes = options.maxBodyBytes ?? MAX_BODY_BYTES;
    this.token = config.token;
    this.streams = new EventStreams(view.events, {
      ...(options.heartbeatMs === undefined ? {} : { heartbeatMs: options.heartbeatMs }),
      ...(options.maxStreamBufferBytes === undefined ? {} : { maxBufferedBytes: options.maxStreamBufferBytes }),
    });
    this.server = createServer({ maxHeaderSize: 16 * 1024 }, (req, res) => this.handle(req, res));
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 30_000;
    this.server.keepAliveTimeout = 5_000;
  }

  /** Binds `admin.listen`; rejects when the address cannot be bound. */
  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error): void => reject(error);
      this.server.once('error', onError);
      this.server.listen(this.config.listen.port, this.config.listen.host, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
  }

  /** The bound address; throws before `listen()` resolved. */
  get address(): AddressInfo {
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('the admin server is not listening');
    return address;
  }

  /**
   * Applies the token of a reloaded `admin` section; the next call is checked
   * against it. (A changed `admin.listen` needs a new AdminServer.)
   */
  updateToken(token: string | undefined): void {
    this.token = token;
  }

  /** Event streams open now. */
  get openStreams(): number {
    return this.streams.size;
  }

  /**
   * Stops accepting, ends event streams, lets calls in progress finish for
   * up to 2 s, then closes what is left. Idempotent.
   */
  close(): Promise<void> {
    this.streams.closeAll();
    if (!this.server.listening) return Promise.resolve();
    return new Promise((resolve) => {
      const force = setTimeout(() => this.server.closeAllConnections(), 2_000);
      force.unref();
      this.server.close(() => {
        clearTimeout(force);
        resolve();
      });
      this.server.closeIdleConnections();
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    let path: string;
    let resource: Resource | undefined;
    try {
      path = pathOf(req.url ?? '/');
      resource = this.route(path);
    } catch (error) {
      this.fail(req, res, error);
      return;
    }
    if (resource === undefined) {
      this.fail(req, res, new HttpError(404, AdminErrorCodes.NOT_FOUND, `no such admin resource: ${req.method ?? ''} ${path}`));
      return;
    }
    const handler = resource[req.method as Method];
    if (handler === undefined) {
      const allow = Object.keys(resource).join(', ');
      this.fail(req, res, new HttpError(405, AdminErrorCodes.METHOD_NOT_ALLOWED, `${req.method ?? ''} is not allowed on ${path}; use ${allow}`, { allow }));
      return;
    }
    let outcome: void | Promise<void>;
    try {
      outcome = handler(req, res);
    } catch (error) {
      this.fail(req, res, error);
      return;
    }
    if (outcome instanceof Promise) outcome.catch((error: unknown) => this.fail(req, res, error));
  }

  /** The handlers of `path`, or undefined for an unknown path. Segments arrive percent-decoded. */
  private route(path: string): Resource | undefined {
    const asset = DASHBOARD_ASSETS.get(path);
    if (asset !== undefined) return readable((req, res) => sendAsset(req, res, asset));
    const segments = path.split('/').slice(1).map(decodeSegment);
    if (segments[0] === 'metrics' && segments.length === 1) return readable((_req, res) => this.sendMetrics(res));
    if (segments[0] !== 'api' || segments[1] !== 'v1') return undefined;
    const rest = segments.slice(2);
    if (rest.length === 1) {
      switch (rest[0]) {
        case 'status':
          return readable((_req, res) => sendJson(res, 200, this.view.status()));
        case 'availability':
          return readable((_req, res) => sendJson(res, 200, this.view.availability()));
        case 'events':
          return readable((req, res) => this.sendEvents(req, res));
        case 'reload':
          return { POST: (req, res) => this.reload(req, res) };
        default:
          return undefined;
      }
    }
    if (rest.length === 4 && rest[0] === 'gslb' && rest[1] === 'sites' && rest[3] === 'failback' && rest[2] !== undefined) {
      const site = rest[2];
      return { POST: (req, res) => this.failback(req, res, site) };
    }
    const [pools, pool, servers, server, action] = rest;
    if (rest.length !== 5 || pools !== 'pools' || servers !== 'servers' || pool === undefined || server === undefined || action === undefined) {
      return undefined;
    }
    if (SERVER_ACTIONS.has(action)) {
      const type = action as 'drain' | 'enable' | 'disable';
      return { POST: (req, res) => this.act(req, res, pool, server, () => ({ type })) };
    }
    if (action === 'weight') {
      return { PUT: (req, res) => this.act(req, res, pool, server, (body) => ({ type: 'weight', weight: parseWeight(body) })) };
    }
    return undefined;
  }

  private sendEvents(req: IncomingMessage, res: ServerResponse): void {
    if (req.method === 'GET' && (req.headers.accept ?? '').includes('text/event-stream')) {
      this.streams.open(req, res);
      return;
    }
    sendJson(res, 200, this.view.events.recent());
  }

  private async sendMetrics(res: ServerResponse): Promise<void> {
    const { contentType, body } = await this.view.metrics();
    res.writeHead(200, { ...BASE_HEADERS, 'content-type': contentType, 'cache-control': 'no-store' });
    res.end(body);
  }

  /** A server action: token, then body, then the runtime (which may throw 404 codes). */
  private async act(
    req: IncomingMessage,
    res: ServerResponse,
    pool: string,
    server: string,
    action: (body: string) => ServerAction,
  ): Promise<void> {
    this.authorize(req);
    const body = await readBody(req, this.maxBodyBytes);
    const parsed = action(body);
    this.view.serverAction(pool, server, parsed);
    const state = this.view.status().pools.find((p) => p.name === pool)?.servers.find((s) => s.name === server);
    sendJson(res, 200, { ok: true, pool, server, action: parsed.type, ...(state === undefined ? {} : { state: state.state, weight: state.weight }) });
  }

  /** `POST /api/v1/gslb/sites/{site}/failback`: sends answers back to a recovered site now (`failback: manual`). */
  private async failback(req: IncomingMessage, res: ServerResponse, site: string): Promise<void> {
    this.authorize(req);
    await readBody(req, this.maxBodyBytes);
    if (this.view.failback === undefined) throw new HttpError(404, AdminErrorCodes.NOT_FOUND, 'gslb is not configured');
    sendJson(res, 200, { ok: true, site: this.view.failback(site) });
  }

    /** `POST /api/v1/reload`; concurrent reloads run one after the other. */
  private async reload(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.authorize(req);
    await readBody(req, this.maxBodyBytes);
    const run = this.reloading.then(() => this.view.reload());
    this.reloading = run.catch(() => undefined);
    const result = await run;
    if (result.ok) sendJson(res, 200, { ok: true });
    else sendJson(res, 422, { ok: false, errors: result.errors });
  }

  private authorize(req: IncomingMessage): void {
    try {
      authorize(this.token, req.headers.authorization);
    } catch (error) {
      if (error instanceof AuthError) {
        this.logger?.warn(
          { remote: req.socket.remoteAddress, method: req.method, path: pathOf(req.url ?? '/'), failure: error.authFailure },
          'admin call refused',
        );
      }
      throw error;
    }
  }

  /** Answers an error as JSON; unexpected errors are logged and answered 500 without details. */
  private fail(req: IncomingMessage, res: ServerResponse, error: unknown): void {
    let answer: HttpError;
    if (error instanceof HttpError) answer = error;
    else if (isBallastError(error) && error.status >= 400 && error.status < 500) {
      answer = new HttpError(error.status, error.code, error.message, error.status === 401 ? { 'www-authenticate': `Bearer realm="${AUTH_REALM}"` } : {});
    } else {
      this.logger?.warn({ method: req.method, path: pathOf(req.url ?? '/'), err: error instanceof Error ? error.message : String(error) }, 'admin call failed');
      answer = new HttpError(500, AdminErrorCodes.INTERNAL, 'internal error; see the Ballast log');
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    // An unread oversized body is not worth draining: answer and close the connection.
    const headers: Record<string, string> = answer.status === 413 ? { ...answer.headers, connection: 'close' } : { ...answer.headers };
    sendJson(res, answer.status, { error: { code: answer.code, message: answer.message } }, headers);
  }
}

/** GET and HEAD on one handler. */
function readable(handler: Handler): Resource {
  return { GET: handler, HEAD: handler };
}

function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(400, ErrorCodes.BAD_REQUEST, 'malformed percent-encoding in the path');
  }
}

function sendJson(res: ServerResponse, status: number, value: unknown, headers: Readonly<Record<string, string>> = {}): void {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    ...BASE_HEADERS,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(body);
}

function sendAsset(req: IncomingMessage, res: ServerResponse, asset: DashboardAsset): void {
  const headers = {
    ...BASE_HEADERS,
    'content-type': asset.contentType,
    'cache-control': 'no-cache',
    etag: asset.etag,
    'content-security-policy': CONTENT_SECURITY_POLICY,
  };
  if (req.headers['if-none-match'] === asset.etag) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  res.writeHead(200, { ...headers, 'content-length': asset.body.length });
  res.end(asset.body);
}

/**
 * Reads the whole body as UTF-8, refusing more than `limit` bytes with 413
 * (from Content-Length at once, else as soon as the limit is passed).
 */
function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const tooLarge = (): HttpError => new HttpError(413, AdminErrorCodes.PAYLOAD_TOO_LARGE, `request bodies are limited to ${limit} bytes`);
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.off('end', onEnd);
        req.pause();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => resolve(Buffer.concat(chunks).toString('utf8'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', reject);
  });
}

/** The weight of a `{"weight": N}` body: an integer from 0 to MAX_WEIGHT, else 400. */
function parseWeight(body: string): number {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new HttpError(400, ErrorCodes.BAD_REQUEST, 'the body must be JSON: {"weight": N}');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new HttpError(400, ErrorCodes.BAD_REQUEST, 'the body must be a JSON object: {"weight": N}');
  }
  const keys = Object.keys(value);
  if (keys.length !== 1 || keys[0] !== 'weight') {
    throw new HttpError(400, ErrorCodes.BAD_REQUEST, 'the body must have exactly one key, "weight"');
  }
  const weight = (value as { weight: unknown }).weight;
  if (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 0 || weight > MAX_WEIGHT) {
    throw new HttpError(400, ErrorCodes.BAD_REQUEST, `weight must be an integer from 0 to ${MAX_WEIGHT}`);
  }
  return weight;
}
