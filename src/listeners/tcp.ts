import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { TcpListenerConfig } from '../config/types.js';
import { AddressSet } from '../core/address.js';
import type { Pool } from '../pools/pool.js';
import type { AccessLogWriter } from '../proxy/access-log.js';
import { TcpSession, TcpStats, type TcpListenerStats, type TcpProxyContext } from '../proxy/tcp.js';
import { listenOn, waitUntil } from './listen.js';

/**
 * A `tcp` listener: every accepted connection is balanced on its own to a
 * server of one pool and piped to it byte for byte. The pool, the PROXY
 * protocol settings and the idle timeout can be swapped at run time (reload)
 * without touching the socket; open connections keep the settings they
 * started with.
 */
export class TcpListener {
  readonly name: string;
  private config: TcpListenerConfig;
  private context: TcpProxyContext;
  private readonly server: Server;
  private readonly sessions = new Set<TcpSession>();
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
    this.server = createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (socket) => this.accept(socket));
  }

  /** Binds the configured address. */
  async listen(): Promise<void> {
    await listenOn(this.server, this.config.listen);
    // After a successful bind the only errors left are failed accepts
    // (EMFILE and the like): count them and keep serving.
    this.server.on('error', () => {
      this.counters.listener.acceptErrors++;
    });
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

  private accept(socket: Socket): void {
    if (socket.remoteAddress === undefined) {
      // Already gone between accept and this callback.
      socket.destroy();
      return;
    }
    const session = new TcpSession(socket, this.context, this.onSessionDone);
    this.sessions.add(session);
    session.start();
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
