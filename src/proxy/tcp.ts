/**
 * Layer 4 forwarding: one client connection relayed to one server connection,
 * with failover while nothing has been forwarded yet, half-close, idle
 * timeouts and the PROXY protocol in both directions.
 */
import { connect, Socket, type SocketConstructorOpts } from 'node:net';
import { normalizeIp } from '../core/address.js';
import type { PickContext } from '../balancers/types.js';
import type { Timed } from '../core/deadline-sweep.js';
import type { Pool } from '../pools/pool.js';
import type { QueueWaiter } from '../pools/queue.js';
import type { PoolServer } from '../pools/server.js';
import type { AccessLogWriter } from './access-log.js';
import { encodeProxyHeader, ProxyHeaderParser, type ProxyProtocolVersion } from './proxy-protocol.js';

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

/**
 * How often a listener must call `checkDeadline` on its sessions: an eighth of the
 * shortest timeout a session of `context` can have (idle, connect, linger),
 * but no more often than every 10 ms. A deadline is then enforced at most one
 * sweep late, the idle timeout at most two. One sweep per listener replaces a
 * timer per socket that every read and write would otherwise re-arm.
 */
export function tickIntervalMs(context: TcpProxyContext): number {
  return Math.max(10, Math.min(context.idleTimeoutMs, context.pool.config.timeouts.connect, CLOSE_LINGER_MS) / 8);
}

/**
 * Read buffers. Each socket reads through `onread` into a buffer lent by its
 * Relay, and the bytes go to the other socket straight from there, so
 * forwarding allocates nothing per read. Otherwise Node.js reads every chunk
 * into a fresh 64 KiB allocation outside the JavaScript heap, and that churn
 * makes V8 run a full garbage collection for about every 64 MiB forwarded and
 * glibc hand the memory back to the kernel and fault it in again, which
 * together cost more CPU than the copying itself.
 *
 * A socket whose reads are small (a quiet connection, a short request) reads
 * into the one small buffer every such socket shares: libuv reads a socket
 * and runs its read callback in one go, and the callback copies the bytes out
 * before any other socket can read, so a quiet connection holds no buffer of
 * its own. After a read that fills it, the socket is lent a large buffer of
 * its own until its reads turn small again. Spare large buffers are kept up
 * to a bound; beyond it they are left to the garbage collector. Take and give
 * are O(1).
 */
const SMALL_READ_BUFFER = 4 * 1024;
const LARGE_READ_BUFFER = 64 * 1024;
const sharedSmallBuffer = Buffer.allocUnsafeSlow(SMALL_READ_BUFFER);
const spareLargeBuffers: Buffer[] = [];
/** At most 4 MiB of spare large buffers. */
const MAX_SPARE_LARGE = 64;

function takeLargeBuffer(): Buffer {
  return spareLargeBuffers.pop() ?? Buffer.allocUnsafeSlow(LARGE_READ_BUFFER);
}

/** Precondition: nothing reads into or writes from `buffer` any more. */
function giveLargeBuffer(buffer: Buffer): void {
  if (spareLargeBuffers.length < MAX_SPARE_LARGE) spareLargeBuffers.push(buffer);
}

/**
 * One direction of a session: what the source socket reads is written to the
 * other socket. From a large buffer it is written from that memory itself:
 * when the write completes at once (the kernel took every byte) the source
 * reads into the same buffer again; otherwise the buffer stays with the write
 * until its callback and the source is lent another one. A buffer is never
 * read into or given back while a write still uses it. From the shared small
 * buffer the write gets a copy.
 */
export class Relay {
  /** The large buffer lent to the source socket; undefined while its reads are small, or while its last one is held by a write. */
  private buffer: Buffer | undefined;
  private large = false;
  /** Per write of a large buffer not completed yet, oldest first: the buffer while the write holds it, else null. */
  private writes: Array<Buffer | null> | undefined;
  /** Write callback: writes complete in order, so each completion settles the oldest entry. */
  private readonly written = (): void => {
    const buffer = this.writes?.shift();
    if (buffer) giveLargeBuffer(buffer);
  };

  /** `onread` buffer function: called when the source socket is created and after each of its reads. */
  readonly lend = (): Buffer => (this.large ? (this.buffer ??= takeLargeBuffer()) : sharedSmallBuffer);

  /**
   * Writes the `nread` bytes the source read into `buffer` to `to`. Returns
   * false, which pauses the source until `to` drains, when `to` has enough
   * queued. A `buffer` not lent by this relay (a chunk Node.js allocated) is
   * written as it is.
   */
  forward(to: Socket, nread: number, buffer: Buffer): boolean {
    const chunk = nread === buffer.length ? buffer : buffer.subarray(0, nread);
    let more: boolean;
    if (buffer === sharedSmallBuffer) more = to.write(Buffer.from(chunk));
    else if (buffer !== this.buffer) return to.write(buffer);
    else if (to.writableLength > 0 && nread * 4 < buffer.length) {
      // Queued behind earlier writes, a small chunk would keep a mostly empty
      // buffer lent for as long as the queue takes: a copy bounds what a
      // trickle of small reads can hold.
      more = to.write(Buffer.from(chunk));
    } else {
      more = to.write(chunk, this.written);
      const writes = (this.writes ??= []);
      if (to.writableLength === 0) writes.push(null);
      else {
        writes.push(buffer);
        this.buffer = undefined;
      }
    }
    this.large = nread >= SMALL_READ_BUFFER;
    if (!this.large) this.release();
    return more;
  }

  /** Gives back the large buffer lent to the source. Precondition: nothing reads into it any more. */
  release(): void {
    const buffer = this.buffer;
    if (buffer === undefined) return;
    this.buffer = undefined;
    giveLargeBuffer(buffer);
  }
}

const kSession = Symbol('ballast.tcpSession');
type SessionSocket = Socket & { [kSession]?: TcpSession | undefined };

function onClientData(this: SessionSocket, chunk: Buffer): void {
  const session = this[kSession];
  if (session !== undefined && !session.clientRead(chunk.length, chunk)) this.pause();
}
function onClientEnd(this: SessionSocket): void {
  this[kSession]?.clientEnded();
}
function onClientDrain(this: SessionSocket): void {
  this[kSession]?.clientDrained();
}
function onClientError(this: SessionSocket, error: NodeJS.ErrnoException): void {
  this[kSession]?.clientFailed(error);
}
function onClientClose(this: SessionSocket): void {
  this[kSession]?.clientClosed();
}
function onUpstreamConnect(this: SessionSocket): void {
  this[kSession]?.upstreamConnected();
}
function onUpstreamEnd(this: SessionSocket): void {
  this[kSession]?.serverEnded();
}
function onUpstreamDrain(this: SessionSocket): void {
  this[kSession]?.upstreamDrained();
}
function onUpstreamError(this: SessionSocket, error: NodeJS.ErrnoException): void {
  this[kSession]?.upstreamFailed(error);
}
function onUpstreamClose(this: SessionSocket): void {
  this[kSession]?.upstreamClosed();
}

function errorReason(side: 'client' | 'server', error: NodeJS.ErrnoException): string {
  return RESET_CODES.has(error.code ?? '') ? `${side} reset` : `${side} ${error.code ?? error.message}`;
}

/**
 * Closes `socket` once both of its directions are done (its peer's FIN read,
 * nothing left queued to write), else sends its FIN. A plain close of such a
 * socket saves the shutdown call: the kernel still sends what it holds, then
 * the FIN.
 */
function endOrClose(socket: Socket): void {
  if (socket.readableEnded && socket.writableLength === 0) socket.destroy();
  else socket.end();
}

/**
 * One client connection and its way to a server.
 *
 * Life: [read the PROXY header] → acquire a server (possibly waiting in the
 * pool's queue while every server is at its connection limit) → connect (on
 * failure, and while retries allow, another server not tried yet) → relay
 * both ways → close. The client socket is not read until a server
 * connection is up, so early client bytes wait in the kernel (bounded by its
 * receive buffer) and nothing is forwarded before the server is chosen for
 * good.
 *
 * Deadlines (idle, connect, PROXY header, linger) have no timers of their
 * own: the listener calls `checkDeadline` every `tickIntervalMs`, and reads
 * and drains bump an activity count that `checkDeadline` compares.
 *
 * Invariants: `pool.begin`/`pool.end` pair exactly once per attempt;
 * `finish` runs exactly once, after both sockets closed. Socket events reach
 * the session through module-level handlers.
 */
export class TcpSession implements QueueWaiter, PickContext, Timed {
  private readonly startedAt = performance.now();
  private readonly pool: Pool;
  private client!: SessionSocket;
  /** Client to server, and server to client. */
  private readonly up = new Relay();
  private readonly down = new Relay();
  /** The client address, normalized; read from the socket (a getpeername call) only once something needs it. */
  private address: string | undefined;
  private clientPort = 0;
  /** The pool's hash key for this connection, when the pool hashes; see hashConnection. */
  hashKey: string | undefined;
  /** Parses the PROXY header while one is expected. */
  private header: ProxyHeaderParser | undefined;
  /** Client bytes read after the PROXY header, sent once a server is connected. */
  private early: Buffer | undefined;
  /** The address the client connected to; read from the socket (a getsockname call) only when a PROXY header needs it. */
  private localAddress: string | undefined;
  private localPort = 0;
  /** Bytes of an accepted PROXY header, not counted as client data. */
  private headerBytes = 0;
  private queued = false;
  private clientOpen = true;
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
  private lingerUntil = 0;
  /** Reads and drains so far; `checkDeadline` compares it with what it saw last to find idle connections. */
  private activity = 0;
  private seenActivity = 0;
  private quietSince = this.startedAt;
  private status = 0;
  private error: string | undefined;
  private finished = false;
  /** Counters of the server this session is connected to. */
  serverCounters: TcpServerCounters | undefined;

  constructor(
    private readonly context: TcpProxyContext,
    private readonly onDone: (session: TcpSession) => void,
  ) {
    this.pool = context.pool;
  }

  /** Balancing sees the session itself: the client address and, for hashing pools, its key. */
  get ctx(): PickContext {
    return this;
  }

  /** What balancing sees: the client address, from the PROXY header when one was accepted. */
  get clientAddress(): string {
    return this.address ?? this.readPeer();
  }

  private readPeer(): string {
    const address = normalizeIp(this.client.remoteAddress ?? '');
    this.address = address;
    this.clientPort = this.client.remotePort ?? 0;
    return address;
  }

  /** Bytes received from the client so far, PROXY header excluded. */
  get bytesIn(): number {
    return Math.max(0, this.client.bytesRead - this.headerBytes);
  }

  /** Bytes sent to the client so far. */
  get bytesOut(): number {
    return this.client.bytesWritten;
  }

  /**
   * Starts on a connection the listening socket accepted, given as Node's
   * native handle: the client socket is built here so that it reads into
   * lent buffers, as Node.js does for its own accepted sockets but with
   * `onread` (which `net.Server` does not offer). Paused, half-open allowed,
   * no Nagle delay, as the listener's own sockets.
   */
  acceptHandle(handle: object): void {
    const options = {
      handle,
      allowHalfOpen: true,
      pauseOnCreate: true,
      readable: true,
      writable: true,
      onread: { buffer: this.up.lend, callback: (nread: number, buffer: Uint8Array) => this.clientRead(nread, buffer as Buffer) },
    };
    const client = new Socket(options as SocketConstructorOpts);
    client.setNoDelay(true);
    this.start(client);
  }

  /** Starts on a socket Node.js accepted (paused, with `allowHalfOpen`): its reads arrive as chunks Node.js allocated. */
  acceptSocket(socket: Socket): void {
    socket.on('data', onClientData);
    this.start(socket);
  }

  private start(client: SessionSocket): void {
    this.client = client;
    client[kSession] = this;
    client.on('error', onClientError);
    client.on('close', onClientClose);
    client.on('end', onClientEnd);
    client.on('drain', onClientDrain);
    const context = this.context;
    const counters = context.stats.listener;
    counters.connections++;
    counters.active++;
    // The access log is written once the socket is closed, when its address can no longer be read.
    if (context.accessLog !== undefined) this.readPeer();
    if (!context.acceptProxyProtocol) {
      this.hashConnection();
      this.firstAttempt();
      return;
    }
    const peer = this.clientAddress;
    if (peer === '') {
      // No peer address: the client reset the connection before it was looked at. Nothing to refuse.
      this.status = 499;
      this.error = 'client reset';
      client.destroy();
      return;
    }
    if (!context.isTrusted(peer)) {
      this.reject(403, 'PROXY header from an untrusted peer');
      return;
    }
    this.header = new ProxyHeaderParser();
    client.resume();
  }

  /** Closes both sides at once (listener shutdown). */
  destroy(): void {
    this.error ??= 'listener closed';
    this.client.destroy();
    this.upstream?.destroy();
  }

  /**
   * Client bytes: the `onread` callback of the client socket, or its `data`
   * chunks when Node.js accepted it. Returns false to stop reading the client.
   */
  clientRead(nread: number, buffer: Buffer): boolean {
    this.activity++;
    const header = this.header;
    if (header !== undefined) return this.readHeader(header, buffer.subarray(0, nread));
    const upstream = this.upstream;
    // Before a server is connected only a refused client is read, to discard what it still sends.
    if (upstream === undefined || !this.connected) return true;
    return this.up.forward(upstream, nread, buffer);
  }

  /** Feeds the PROXY header parser; returns whether to keep reading the client. */
  private readHeader(parser: ProxyHeaderParser, chunk: Buffer): boolean {
    // The parser keeps an incomplete header, and the read buffer is reused: give it a copy.
    const result = parser.push(Buffer.from(chunk));
    if (result.kind === 'incomplete') return true;
    this.header = undefined;
    if (result.kind === 'invalid') {
      this.reject(400, result.reason);
      return false;
    }
    const header = result.header;
    this.headerBytes = header.length;
    if (result.rest.length > 0) this.early = result.rest;
    if (header.source !== undefined && header.destination !== undefined) {
      this.address = normalizeIp(header.source.address);
      this.clientPort = header.source.port;
      this.localAddress = normalizeIp(header.destination.address);
      this.localPort = header.destination.port;
    }
    this.hashConnection();
    this.firstAttempt();
    // Reading resumes once a server is connected; a client refused just now is read on, to discard.
    return this.closingClient;
  }

  /** Only a `source-ip` hash key exists for a connection: there are no headers, cookies or paths. */
  private hashConnection(): void {
    this.hashKey = this.pool.hashKey?.({ clientAddress: this.clientAddress, url: '', headers: undefined });
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
    const acquired = this.pool.acquire(this, this);
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
      onread: { buffer: this.down.lend, callback: (nread: number, buffer: Uint8Array) => this.serverRead(nread, buffer as Buffer) },
    });
    upstream[kSession] = this;
    upstream.on('connect', onUpstreamConnect);
    upstream.on('error', onUpstreamError);
    upstream.on('close', onUpstreamClose);
    upstream.on('end', onUpstreamEnd);
    upstream.on('drain', onUpstreamDrain);
    this.upstream = upstream;
  }

  /** A server not tried yet by this session that can take a connection, or null. */
  private pickServer(): PoolServer | null {
    const tried = this.tried;
    if (tried === undefined) return this.pool.pick(this);
    for (let i = 0; i < 4; i++) {
      const server = this.pool.pick(this);
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
    const version = this.context.proxyProtocol;
    if (version !== undefined) {
      const source = { address: this.clientAddress, port: this.clientPort };
      if (this.localAddress === undefined) {
        this.localAddress = normalizeIp(this.client.localAddress ?? '');
        this.localPort = this.client.localPort ?? 0;
      }
      upstream.write(encodeProxyHeader(version, source, { address: this.localAddress, port: this.localPort }));
    }
    const early = this.early;
    if (early !== undefined) {
      this.early = undefined;
      upstream.write(early);
    }
    // Each direction now relays what it reads (clientRead, serverRead): a
    // full receiver pauses the sender until its `drain`, and an end is passed
    // on as a half-close (clientEnded, serverEnded). allowHalfOpen keeps the
    // other direction flowing after one has ended. A client socket Node.js
    // accepted may have read its end already: pausing it does not stop its
    // reads at once.
    if (this.client.readableEnded) endOrClose(upstream);
    else this.client.resume();
  }

  /** Server bytes: the `onread` callback of the server socket. Returns false to stop reading the server. */
  private serverRead(nread: number, buffer: Buffer): boolean {
    this.activity++;
    return this.down.forward(this.client, nread, buffer);
  }

  /** The client finished sending: pass the half-close on to the server. */
  clientEnded(): void {
    if (this.header !== undefined) {
      this.header = undefined;
      this.reject(400, 'connection closed before the PROXY header ended');
      return;
    }
    const upstream = this.upstream;
    if (upstream !== undefined && this.connected) endOrClose(upstream);
  }

  /** The server finished sending: pass the half-close on to the client. */
  serverEnded(): void {
    endOrClose(this.client);
  }

  /** The client took everything written to it: the server socket, paused by serverRead, may read again. */
  clientDrained(): void {
    this.activity++;
    this.upstream?.resume();
  }

  /** The server took everything written to it: the client socket, paused by clientRead, may read again. */
  upstreamDrained(): void {
    this.activity++;
    this.client.resume();
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

  /**
   * Enforces the deadlines at `now` (performance.now()): the linger of a
   * refused client, the PROXY header's, the connect timeout and the idle
   * timeout. Called by the listener every `tickIntervalMs`. O(1).
   */
  checkDeadline(now: number): void {
    if (this.closingClient) {
      if (now >= this.lingerUntil) this.timedOut();
      return;
    }
    if (this.header !== undefined && now - this.startedAt >= PROXY_HEADER_TIMEOUT_MS) {
      this.header = undefined;
      this.reject(400, 'PROXY header timeout');
      return;
    }
    if (this.upstream !== undefined && !this.connected && now - this.attemptStartedAt >= this.pool.config.timeouts.connect) {
      this.attemptFailed('connect timeout');
      return;
    }
    if (this.activity !== this.seenActivity) {
      this.seenActivity = this.activity;
      this.quietSince = now;
    } else if (now - this.quietSince >= this.context.idleTimeoutMs) this.timedOut();
  }

  /** Ends a connection attempt that never reached the server, then fails over or gives up. */
  private attemptFailed(reason: string): void {
    const upstream = this.upstream as SessionSocket;
    const server = this.server as PoolServer;
    upstream[kSession] = undefined;
    upstream.destroy();
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
    this.lingerUntil = performance.now() + CLOSE_LINGER_MS;
    client.end();
    client.resume();
  }

  clientFailed(error: NodeJS.ErrnoException): void {
    this.error ??= errorReason('client', error);
    const upstream = this.upstream;
    if (this.connected && upstream !== undefined && !upstream.destroyed) upstream.resetAndDestroy();
  }

  /** Idle timeout, or the end of the linger time of a refused client. */
  timedOut(): void {
    if (!this.closingClient) this.error ??= 'idle timeout';
    this.client.destroy();
    this.upstream?.destroy();
  }

  clientClosed(): void {
    this.clientOpen = false;
    this.header = undefined;
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
      this.upstream = undefined;
      this.pool.end(this.server as PoolServer, performance.now() - this.attemptStartedAt, false);
      this.status = 499;
      this.error ??= 'client closed';
    }
    // A connected upstream closes by itself: after a clean close of the client
    // both of its directions have ended too (clientEnded, serverEnded), and
    // every abrupt end of the client (error, timeout, destroy) has already
    // destroyed it.
    this.maybeFinish();
  }

  upstreamClosed(): void {
    this.upstream = undefined;
    this.maybeFinish();
  }

  private maybeFinish(): void {
    if (this.clientOpen || this.upstream !== undefined || this.finished) return;
    this.finish();
  }

  private finish(): void {
    this.finished = true;
    this.client[kSession] = undefined;
    // Both sockets are closed: nothing reads into their buffers any more.
    // Buffers held by writes come back through the write callbacks.
    this.up.release();
    this.down.release();
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
      client: this.address ?? '',
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
