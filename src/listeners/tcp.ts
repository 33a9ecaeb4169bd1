import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { TcpListenerConfig } from '../config/types.js';
import { AddressSet } from '../core/address.js';
import type { Pool } from '../pools/pool.js';
import type { AccessLogWriter } from '../proxy/access-log.js';
import { DeadlineSweep } from '../core/deadline-sweep.js';
import { tickIntervalMs, TcpSession, TcpStats, type TcpListenerStats, type TcpProxyContext } from '../proxy/tcp.js';
import { listenOn, waitUntil } from './listen.js';

/**
 * The part of Node's `net.Server` internals the listener uses: the listening
 * handle calls `onconnection(status, clientHandle)` for every accepted
 * connection (also in cluster workers, whose handle the primary feeds).
 */
interface ListeningHandle {
  onconnection?: unknown;
}

/**
 * A `tcp` listener: every accepted connection is balanced on its own to a
 * server of one pool and relayed to it byte for byte. The pool, the PROXY
 * protocol settings and the idle timeout can be swapped at run time (reload)
 * without touching the socket; open connections keep the settings they
 * started with.
 */
export class TcpListener {
  readonly name: string;
  private config: TcpListenerConfig;
  private context: TcpProxyContext;
  private readonly server: Server;
  /** Open sessions, whose deadlines one sweep enforces (see tickIntervalMs). */
  private readonly sessions = new DeadlineSweep<TcpSession>();
  private readonly counters = new TcpStats();
  /** Resolves `close` once the last session finished. */
  private onAllDone: (() => void) | undefined;
  private readonly onSessionDone = (session: TcpSession): void => {
    this.sessions.delete(session);
    if (this.sessions.size === 0) this.onAllDone?.();
  };

  constructor(config: TcpListenerConfig, pool: Pool, accessLog: AccessLogWriter | undefined) {
    this.name = config.name;
    this.config = config;
    this.context = this.buildContext(pool, accessLog);
    this.server = createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (socket) => this.acceptSocket(socket));
  }

  /**
   * Binds the configured address. Accepted connections then reach
   * `acceptHandle` straight from the listening handle, so that the session
   * builds the client socket with `onread` (which `net.Server` does not
   * offer) and client reads allocate nothing; should a Node.js version lack
   * that callback, Node's own accept path (`acceptSocket`) serves instead.
   */
  async listen(): Promise<void> {
    await listenOn(this.server, this.config.listen);
    // After a successful bind the only errors left are failed accepts
    // (EMFILE and the like): count them and keep serving.
    this.server.on('error', () => {
      this.counters.listener.acceptErrors++;
    });
    const handle = (this.server as unknown as { _handle?: ListeningHandle | null })._handle;
    if (typeof handle?.onconnection === 'function') {
      handle.onconnection = (status: number, client: object): void => this.acceptHandle(status, client);
    }
  }

  get address(): AddressInfo {
    return this.server.address() as AddressInfo;
  }

  /** Applies new settings and a new pool to connections accepted from now on; the socket stays open. */
  update(config: TcpListenerConfig, pool: Pool, accessLog: AccessLogWriter | undefined): void {
    this.config = config;
    this.context = this.buildContext(pool, accessLog);
  }

  /** Client connections open now. */
  get inFlight(): number {
    return this.sessions.size;
  }

  /** Counters of this listener and of each server it connected to, open connections' bytes included. O(servers + open connections). */
  stats(): TcpListenerStats {
    return this.counters.snapshot(this.sessions);
  }

  /**
   * Stops accepting, lets open connections finish for up to `drainMs`, then
   * closes whatever is left.
   */
  async close(drainMs: number): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    await waitUntil(() => this.sessions.size === 0, drainMs);
    if (this.sessions.size > 0) {
      // Destroyed sockets close on a later tick; each session finishes after both of its sockets did.
      const finished = new Promise<void>((resolve) => {
        this.onAllDone = resolve;
      });
      for (const session of this.sessions) session.destroy();
      await finished;
    }
    await closed;
  }

  /** A connection from the listening handle; `status` is a negative errno when the accept failed. */
  private acceptHandle(status: number, client: object): void {
    if (status !== 0) {
      this.counters.listener.acceptErrors++;
      return;
    }
    const session = new TcpSession(this.context, this.onSessionDone);
    this.sessions.add(session, tickIntervalMs(this.context));
    session.acceptHandle(client);
  }

  private acceptSocket(socket: Socket): void {
    const session = new TcpSession(this.context, this.onSessionDone);
    this.sessions.add(session, tickIntervalMs(this.context));
    session.acceptSocket(socket);
  }

  private buildContext(pool: Pool, accessLog: AccessLogWriter | undefined): TcpProxyContext {
    const trusted = new AddressSet(this.config.trustedProxies);
    return {
      name: this.config.name,
      pool,
      proxyProtocol: this.config.proxyProtocol,
      acceptProxyProtocol: this.config.acceptProxyProtocol,
      isTrusted: (address) => trusted.has(address),
      idleTimeoutMs: this.config.timeouts.idle,
      accessLog,
      stats: this.counters,
    };
  }
}
