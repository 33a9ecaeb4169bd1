/**
 * Layer 4 forwarding: one client connection piped to one server connection,
 * with failover while nothing has been forwarded yet, half-close, idle
 * timeouts and the PROXY protocol in both directions.
 */
import { connect, type Socket } from 'node:net';
import { normalizeIp } from '../core/address.js';
import type { PickContext } from '../balancers/types.js';
import type { Pool } from '../pools/pool.js';
import type { QueueWaiter } from '../pools/queue.js';
import type { PoolServer } from '../pools/server.js';
import type { AccessLogWriter } from './access-log.js';
import { encodeProxyHeader, readProxyHeader, type ProxyProtocolVersion, type ReadProxyHeaderResult } from './proxy-protocol.js';

/** What a TCP session needs to know about the listener it arrived on. Rebuilt on reload; sessions keep the one they started with. */
export interface TcpProxyContext {
  readonly name: string;
  readonly pool: Pool;
  /** PROXY header written to servers before any client byte; undefined sends none. */
  readonly proxyProtocol: ProxyProtocolVersion | undefined;
  /** Require a PROXY header from every peer, and accept peers only when `isTrusted`. */
  readonly acceptProxyProtocol: boolean;
  readonly isTrusted: (address: string) => boolean;
  /** A connection with no byte moving in either direction this long is closed. */
  readonly idleTimeoutMs: number;
  readonly accessLog: AccessLogWriter | undefined;
  readonly stats: TcpStats;
}

/** Counters of one server as seen by one TCP listener. */
export interface TcpServerCounters {
  /** Connections established to the server. */
  connections: number;
  /** Established connections open now. */
  active: number;
  /** Bytes from clients to the server (PROXY headers excluded). */
  bytesIn: number;
  /** Bytes from the server to clients. */
  bytesOut: number;
  /** Failed connection attempts (refused, unreachable, connect timeout). */
  connectErrors: number;
  /** Sum of the times to establish `connections`, in milliseconds. */
  connectMsTotal: number;
  /** Sum of the lifetimes of closed connections (`connections - active`), in milliseconds. */
  durationMsTotal: number;
}

/** Counters of one TCP listener. */
export interface TcpListenerCounters {
  /** Client connections accepted. */
  connections: number;
  /** Client connections open now. */
  active: number;
  /** Bytes received from clients (PROXY headers excluded). */
  bytesIn: number;
  /** Bytes sent to clients. */
  bytesOut: number;
  /** Failed connection attempts to servers, retries included. */
  connectErrors: number;
  /** Connections closed because no server could take them (none serving, queue full or queue timeout). */
  noServer: number;
  /** Connections refused for a missing, invalid or untrusted PROXY header. */
  rejected: number;
  /** Errors accepting connections (for example EMFILE). */
  acceptErrors: number;
  /** Sum of the lifetimes of closed connections (`connections - active`), in milliseconds. */
  durationMsTotal: number;
}

export interface TcpServerStats extends Readonly<TcpServerCounters> {
  readonly pool: string;
  readonly server: string;
}

export interface TcpListenerStats extends Readonly<TcpListenerCounters> {
  readonly servers: readonly TcpServerStats[];
}

/**
 * Counter store of one listener, kept across reloads. Bytes of open
 * connections are added only when a snapshot is taken, so forwarding never
 * touches the counters per chunk.
 */
export class TcpStats {
  readonly listener: TcpListenerCounters = {
    connections: 0,
    active: 0,
    bytesIn: 0,
    bytesOut: 0,
    connectErrors: 0,
    noServer: 0,
    rejected: 0,
    acceptErrors: 0,
    durationMsTotal: 0,
  };
  private readonly servers = new Map<string, { pool: string; server: string; counters: TcpServerCounters }>();

  /** The counters of `server` of `pool`, created on first use. O(1). */
  server(pool: string, server: string): TcpServerCounters {
    const key = `${pool}\u0000${server}`;
    let entry = this.servers.get(key);
    if (entry === undefined) {
      entry = {
        pool,
        server,
        counters: { connections: 0, active: 0, bytesIn: 0, bytesOut: 0, connectErrors: 0, connectMsTotal: 0, durationMsTotal: 0 },
      };
      this.servers.set(key, entry);
    }
    return entry.counters;
  }

  /** A copy of every counter with the bytes of `open` sessions included. O(servers + open sessions). */
  snapshot(open: Iterable<TcpSession>): TcpListenerStats {
    const listener = { ...this.listener };
    const copies = new Map<TcpServerCounters, TcpServerStats & TcpServerCounters>();
    for (const { pool, server, counters } of this.servers.values()) copies.set(counters, { pool, server, ...counters });
    for (const session of open) {
      const bytesIn = session.bytesIn;
      const bytesOut = session.bytesOut;
      listener.bytesIn += bytesIn;
      listener.bytesOut += bytesOut;
      const copy = session.serverCounters === undefined ? undefined : copies.get(session.serverCounters);
      if (copy !== undefined) {
        copy.bytesIn += bytesIn;
        copy.bytesOut += bytesOut;
      }
    }
    return { ...listener, servers: [...copies.values()] };
  }
}

/** The whole PROXY header must arrive within this time of the connection opening. */
export const PROXY_HEADER_TIMEOUT_MS = 3000;

/** How long a client refused for lack of a server may take to close its side before it is dropped. */
const CLOSE_LINGER_MS = 1000;

/** Retries allowed regardless of load, so a quiet pool can still fail over (as the HTTP proxy does). */
const MIN_RETRY_CONCURRENCY = 3;

const RESET_CODES = new Set(['ECONNRESET', 'EPIPE']);

const kSession = Symbol('ballast.tcpSession');
type SessionSocket = Socket & { [kSession]?: TcpSession | undefined };

/**
 * Read buffers of the server sockets, shared by every session. A server
 * socket reads into a buffer lent from here (`onread`), the bytes go to the
 * client straight from that memory, and the buffer comes back once the write
 * has finished. Bulk transfers from servers then allocate nothing per read:
 * otherwise every read is a fresh 64 KiB allocation outside the JavaScript
 * heap, and that churn makes V8 run a full garbage collection for about
 * every 64 MiB forwarded and glibc hand the memory back to the kernel and
 * fault it in again, which together cost more CPU than the copying itself.
 *
 * A socket always holds the buffer for its next read, so a quiet connection
 * holds a small one; after a read that filled its buffer, the next read gets
 * a large one. Spare buffers are kept up to a bound; beyond it they are left
 * to the garbage collector. Take and give are O(1).
 */
const SMALL_READ_BUFFER = 4 * 1024;
const LARGE_READ_BUFFER = 64 * 1024;
const spareSmallBuffers: Buffer[] = [];
const spareLargeBuffers: Buffer[] = [];
/** At most 4 MiB of spare buffers of each size. */
const MAX_SPARE_SMALL = 1024;
const MAX_SPARE_LARGE = 64;

function takeReadBuffer(large: boolean): Buffer {
  return (large ? spareLargeBuffers.pop() : spareSmallBuffers.pop()) ?? Buffer.allocUnsafeSlow(large ? LARGE_READ_BUFFER : SMALL_READ_BUFFER);
}

/** Precondition: nothing reads into or writes from `buffer` any more. */
function giveReadBuffer(buffer: Buffer): void {
  if (buffer.length === LARGE_READ_BUFFER) {
    if (spareLargeBuffers.length < MAX_SPARE_LARGE) spareLargeBuffers.push(buffer);
  } else if (spareSmallBuffers.length < MAX_SPARE_SMALL) spareSmallBuffers.push(buffer);
}

function onClientError(this: SessionSocket, error: NodeJS.ErrnoException): void {
  this[kSession]?.clientFailed(error);
}
function onClientClose(this: SessionSocket): void {
  this[kSession]?.clientClosed();
}
function onClientTimeout(this: SessionSocket): void {
  this[kSession]?.timedOut();
}
function onUpstreamConnect(this: SessionSocket): void {
  this[kSession]?.upstreamConnected();
}
function onUpstreamError(this: SessionSocket, error: NodeJS.ErrnoException): void {
  this[kSession]?.upstreamFailed(error);
}
function onUpstreamClose(this: SessionSocket): void {
  this[kSession]?.upstreamClosed();
}
function onUpstreamTimeout(this: SessionSocket): void {
  this[kSession]?.upstreamTimedOut();
}
function onUpstreamEnd(this: SessionSocket): void {
  this[kSession]?.serverEnded();
}
function onClientDrain(this: SessionSocket): void {
  this[kSession]?.clientDrained();
}

function errorReason(side: 'client' | 'server', error: NodeJS.ErrnoException): string {
  return RESET_CODES.has(error.code ?? '') ? `${side} reset` : `${side} ${error.code ?? error.message}`;
}

/**
 * One client connection and its way to a server.
 *
 * Life: [read the PROXY header] → acquire a server (possibly waiting in the
 * pool's queue while every server is at its connection limit) → connect (on
 * failure, and while retries allow, another server not tried yet) → pipe
 * both ways → close. The client socket stays paused until a server
 * connection is up, so early client bytes wait in the kernel (bounded by its
 * receive buffer) and nothing is forwarded before the server is chosen for
 * good.
 *
 * Invariants: `pool.begin`/`pool.end` pair exactly once per attempt;
 * `finish` runs exactly once, after both sockets closed. Socket events reach
 * the session through module-level handlers, so a session allocates no
 * closures of its own.
 */
export class TcpSession implements QueueWaiter {
  private readonly startedAt = performance.now();
  private readonly pool: Pool;
  /** What balancing sees: the client address, from the PROXY header when one was accepted. */
  ctx: PickContext;
  private queued = false;
  private clientOpen = true;
  private clientAddress: string;
  private clientPort: number;
  /** The address the client connected to; read from the socket (a getsockname call) only when a PROXY header needs it. */
  private localAddress: string | undefined;
  private localPort = 0;
  /** Bytes of an accepted PROXY header, not counted as client data. */
  private headerBytes = 0;
  private server: PoolServer | undefined;
  private tried: PoolServer[] | undefined;
  private retries = 0;
  private holdsRetryToken = false;
  private upstream: SessionSocket | undefined;
  private attemptStartedAt = 0;
  private connected = false;
  private connectedAt = 0;
  private connectMs: number | undefined;
  private serverFailed = false;
  private closingClient = false;
  private status = 0;
  private error: string | undefined;
  private finished = false;
  /** The pooled buffer the current server socket will read into next; undefined between reads. */
  private readBuffer: Buffer | undefined;
  /** Whether the last read from the server filled its buffer: then the next read gets a large one. */
  private lastReadFilled = false;
  /** Pooled buffers whose bytes are being written to the client, in write order. */
  private readonly sending: Buffer[] = [];
  /** Write callback of those writes: each completion gives back the oldest buffer. Bound once per session. */
  private onSent: (() => void) | undefined;
  /** Counters of the server this session is connected to. */
  serverCounters: TcpServerCounters | undefined;

  /** Precondition: `client` was accepted paused (`pauseOnConnect`) with `allowHalfOpen`, and has a remote address. */
  constructor(
    private readonly client: SessionSocket,
    private readonly context: TcpProxyContext,
    private readonly onDone: (session: TcpSession) => void,
  ) {
    this.pool = context.pool;
    this.clientAddress = normalizeIp(client.remoteAddress ?? '');
    this.clientPort = client.remotePort ?? 0;
    this.ctx = this.pickContext();
  }

  /** Only a `source-ip` hash key exists for a connection: there are no headers, cookies or paths. */
  private pickContext(): PickContext {
    const clientAddress = this.clientAddress;
    return { clientAddress, hashKey: this.pool.hashKey?.({ clientAddress, url: '', headers: undefined }) };
  }

  /** Bytes received from the client so far, PROXY header excluded. */
  get bytesIn(): number {
    return Math.max(0, this.client.bytesRead - this.headerBytes);
  }

  /** Bytes sent to the client so far. */
  get bytesOut(): number {
    return this.client.bytesWritten;
  }

  start(): void {
    const client = this.client;
    client[kSession] = this;
    client.on('error', onClientError);
    client.on('close', onClientClose);
    client.on('timeout', onClientTimeout);
    client.setTimeout(this.context.idleTimeoutMs);
    const counters = this.context.stats.listener;
    counters.connections++;
    counters.active++;
    if (!this.context.acceptProxyProtocol) {
      this.firstAttempt();
      return;
    }
    if (!this.context.isTrusted(this.clientAddress)) {
      this.reject(403, 'PROXY header from an untrusted peer');
      return;
    }
    readProxyHeader(client, { timeoutMs: PROXY_HEADER_TIMEOUT_MS }, (result) => this.onProxyHeader(result));
  }

  /** Closes both sides at once (listener shutdown). */
  destroy(): void {
    this.error ??= 'listener closed';
    this.client.destroy();
    this.upstream?.destroy();
  }

  private onProxyHeader(result: ReadProxyHeaderResult): void {
    if (!this.clientOpen) return;
    const header = result.header;
    if (header === undefined) {
      this.reject(400, result.error ?? 'bad PROXY header');
      return;
    }
    this.headerBytes = header.length;
    if (header.source !== undefined && header.destination !== undefined) {
      this.clientAddress = normalizeIp(header.source.address);
      this.clientPort = header.source.port;
      this.localAddress = normalizeIp(header.destination.address);
      this.localPort = header.destination.port;
      this.ctx = this.pickContext();
    }
    this.firstAttempt();
  }

  /** Refuses the connection before any server is involved. */
  private reject(status: number, reason: string): void {
    this.context.stats.listener.rejected++;
    this.status = status;
    this.error = reason;
    this.client.destroy();
  }

  /** The first attempt may wait in the pool's queue; retries take a free server or give up. */
  private firstAttempt(): void {
    const acquired = this.pool.acquire(this.ctx, this);
    if (acquired === 'queued') {
      this.queued = true;
      return;
    }
    if (typeof acquired === 'string') {
      this.refuse(acquired === 'queue-full' ? 'queue full' : 'no server available');
      return;
    }
    this.connectTo(acquired);
  }

  /** The pool reserved `server` for this queued session. */
  granted(server: PoolServer): void {
    this.queued = false;
    this.connectTo(server);
  }

  /** The session's place in the queue ran out or the pool stopped. */
  rejected(reason: 'timeout' | 'stopped'): void {
    this.queued = false;
    this.refuse(reason === 'timeout' ? 'queue timeout' : 'pool stopped');
  }

  /** No server will take the connection: status 503. */
  private refuse(reason: string): void {
    this.status = 503;
    this.error = reason;
    this.context.stats.listener.noServer++;
    this.closeClient();
  }

  private connectTo(server: PoolServer): void {
    this.server = server;
    this.pool.begin(server);
    this.attemptStartedAt = performance.now();
    const upstream: SessionSocket = connect({
      host: server.address.host,
      port: server.address.port,
      allowHalfOpen: true,
      noDelay: true,
      // Server bytes are read into pooled buffers (see takeReadBuffer) and forwarded by serverData.
      onread: {
        buffer: () => this.lendReadBuffer(),
        callback: (nread: number, buffer: Uint8Array) => this.serverData(nread, buffer as Buffer),
      },
    });
    upstream[kSession] = this;
    upstream.setTimeout(this.pool.config.timeouts.connect);
    upstream.on('connect', onUpstreamConnect);
    upstream.on('error', onUpstreamError);
    upstream.on('close', onUpstreamClose);
    upstream.on('timeout', onUpstreamTimeout);
    this.upstream = upstream;
  }

  /** A server not tried yet by this session that can take a connection, or null. */
  private pickServer(): PoolServer | null {
    const ctx = this.ctx;
    const tried = this.tried;
    if (tried === undefined) return this.pool.pick(ctx);
    for (let i = 0; i < 4; i++) {
      const server = this.pool.pick(ctx);
      if (server === null) return null;
      if (!tried.includes(server)) return server;
    }
    for (const server of this.pool.list()) {
      if (server.eligible && !server.atCapacity && !tried.includes(server)) return server;
    }
    return null;
  }

  upstreamConnected(): void {
    const upstream = this.upstream as SessionSocket;
    const server = this.server as PoolServer;
    const now = performance.now();
    this.connected = true;
    this.connectedAt = now;
    this.connectMs = now - this.attemptStartedAt;
    this.status = 200;
    this.error = undefined;
    const counters = this.context.stats.server(this.pool.name, server.name);
    counters.connections++;
    counters.active++;
    counters.connectMsTotal += this.connectMs;
    this.serverCounters = counters;
    upstream.setTimeout(this.context.idleTimeoutMs);
    const version = this.context.proxyProtocol;
    if (version !== undefined) {
      if (this.localAddress === undefined) {
        this.localAddress = normalizeIp(this.client.localAddress ?? '');
        this.localPort = this.client.localPort ?? 0;
      }
      upstream.write(
        encodeProxyHeader(
          version,
          { address: this.clientAddress, port: this.clientPort },
          { address: this.localAddress, port: this.localPort },
        ),
      );
    }
    // Client to server: pipe() carries backpressure and forwards the end as a
    // half-close. Server to client: serverData writes each read, a full
    // client pauses the server socket until it drains, and the server's end
    // becomes the client's half-close. allowHalfOpen keeps the other
    // direction flowing after one has ended.
    this.client.pipe(upstream);
    this.client.on('drain', onClientDrain);
    upstream.on('end', onUpstreamEnd);
  }

  /** Called by the server socket before each read (and once when it is created). */
  private lendReadBuffer(): Buffer {
    const buffer = takeReadBuffer(this.lastReadFilled);
    this.readBuffer = buffer;
    return buffer;
  }

  /**
   * The server socket read `nread` bytes into `buffer`: write them to the
   * client from that memory, which stays lent until the write has finished.
   * Returns false, pausing the server socket, when the client's write buffer
   * is full; the client's `drain` resumes it.
   */
  private serverData(nread: number, buffer: Buffer): boolean {
    this.readBuffer = undefined;
    this.lastReadFilled = nread === buffer.length;
    this.sending.push(buffer);
    this.onSent ??= () => {
      const sent = this.sending.shift();
      if (sent !== undefined) giveReadBuffer(sent);
    };
    return this.client.write(buffer.subarray(0, nread), this.onSent);
  }

  /** Gives back the buffer the closed (or abandoned) server socket would have read into next. */
  private releaseReadBuffer(): void {
    const buffer = this.readBuffer;
    if (buffer === undefined) return;
    this.readBuffer = undefined;
    giveReadBuffer(buffer);
  }

  upstreamFailed(error: NodeJS.ErrnoException): void {
    if (!this.connected) {
      this.attemptFailed(error.code === 'ECONNREFUSED' ? 'connection refused' : `connect ${error.code ?? error.message}`);
      return;
    }
    this.serverFailed = true;
    this.error ??= errorReason('server', error);
    if (!this.client.destroyed) this.client.resetAndDestroy();
  }

  /** The server finished sending: pass the half-close on to the client. */
  serverEnded(): void {
    this.client.end();
  }

  /** The client took everything written to it: the server socket, paused by serverData, may read again. */
  clientDrained(): void {
    this.upstream?.resume();
  }

  upstreamTimedOut(): void {
    if (!this.connected) this.attemptFailed('connect timeout');
    else this.timedOut();
  }

  /** Ends a connection attempt that never reached the server, then fails over or gives up. */
  private attemptFailed(reason: string): void {
    const upstream = this.upstream as SessionSocket;
    const server = this.server as PoolServer;
    upstream[kSession] = undefined;
    upstream.destroy();
    this.releaseReadBuffer();
    this.upstream = undefined;
    this.pool.end(server, performance.now() - this.attemptStartedAt, true);
    this.context.stats.listener.connectErrors++;
    this.context.stats.server(this.pool.name, server.name).connectErrors++;
    this.error = reason;
    if (!this.clientOpen) {
      this.maybeFinish();
      return;
    }
    if (this.canRetry()) {
      (this.tried ??= []).push(server);
      const next = this.pickServer();
      if (next !== null) {
        this.retries++;
        this.connectTo(next);
        return;
      }
    }
    this.status = 502;
    this.closeClient();
  }

  private canRetry(): boolean {
    const policy = this.pool.config.retries;
    if (this.retries >= policy.attempts || !policy.on.includes('connect-failure')) return false;
    if (this.holdsRetryToken) return true;
    if (!this.pool.tryTakeRetryToken(MIN_RETRY_CONCURRENCY, policy.budgetPercent)) return false;
    this.holdsRetryToken = true;
    return true;
  }

  /**
   * Closes the client politely when no server will serve it: our FIN first,
   * then whatever the client still sends is discarded until it closes too or
   * the linger time passes.
   */
  private closeClient(): void {
    const client = this.client;
    if (client.destroyed) return;
    this.closingClient = true;
    client.setTimeout(CLOSE_LINGER_MS);
    client.end();
    client.resume();
  }

  clientFailed(error: NodeJS.ErrnoException): void {
    this.error ??= errorReason('client', error);
    const upstream = this.upstream;
    if (this.connected && upstream !== undefined && !upstream.destroyed) upstream.resetAndDestroy();
  }

  /** Idle timeout of either socket, or the end of the linger time of a refused client. */
  timedOut(): void {
    if (!this.closingClient) this.error ??= 'idle timeout';
    this.client.destroy();
    this.upstream?.destroy();
  }

  clientClosed(): void {
    this.clientOpen = false;
    if (this.queued) {
      this.queued = false;
      this.pool.leaveQueue(this);
      this.status = 499;
      this.error ??= 'client closed';
    }
    const upstream = this.upstream;
    if (upstream !== undefined && !this.connected) {
      // The client left while we were still connecting: abandon the attempt.
      upstream[kSession] = undefined;
      upstream.destroy();
      this.releaseReadBuffer();
      this.upstream = undefined;
      this.pool.end(this.server as PoolServer, performance.now() - this.attemptStartedAt, false);
      this.status = 499;
      this.error ??= 'client closed';
    }
    // A connected upstream closes by itself: after a clean close of the client
    // both of its directions have ended too (pipe), and every abrupt end of
    // the client (error, timeout, destroy) has already destroyed it.
    this.maybeFinish();
  }

  upstreamClosed(): void {
    this.upstream = undefined;
    this.releaseReadBuffer();
    this.maybeFinish();
  }

  private maybeFinish(): void {
    if (this.clientOpen || this.upstream !== undefined || this.finished) return;
    this.finish();
  }

  private finish(): void {
    this.finished = true;
    this.client[kSession] = undefined;
    const now = performance.now();
    const bytesIn = this.bytesIn;
    const bytesOut = this.bytesOut;
    const listener = this.context.stats.listener;
    listener.active--;
    listener.bytesIn += bytesIn;
    listener.bytesOut += bytesOut;
    listener.durationMsTotal += now - this.startedAt;
    const server = this.server;
    const counters = this.serverCounters;
    if (this.connected && server !== undefined && counters !== undefined) {
      this.pool.end(server, this.connectMs ?? 0, this.serverFailed);
      counters.active--;
      counters.bytesIn += bytesIn;
      counters.bytesOut += bytesOut;
      counters.durationMsTotal += now - this.connectedAt;
      this.serverCounters = undefined;
    }
    if (this.holdsRetryToken) this.pool.returnRetryToken();
    this.onDone(this);
    this.context.accessLog?.({
      listener: this.context.name,
      client: this.clientAddress,
      method: 'TCP',
      path: '-',
      status: this.status === 0 ? 499 : this.status,
      pool: this.pool.name,
      server: server?.name,
      upstreamMs: this.connectMs,
      totalMs: now - this.startedAt,
      bytes: bytesOut,
      retries: this.retries,
      error: this.error,
    });
  }
}
