/**
 * Shared pieces of the TCP proxy tests: echo and PROXY-parsing servers on
 * 127.0.0.1 port 0, a TcpListener over a real Pool, and small client helpers.
 */
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { configFromObject } from '../../src/config/index.js';
import type { PoolConfig, TcpListenerConfig } from '../../src/config/types.js';
import { EventBus } from '../../src/core/events.js';
import { TcpListener } from '../../src/listeners/tcp.js';
import { Pool } from '../../src/pools/pool.js';
import type { AccessLogEntry } from '../../src/proxy/access-log.js';
import { ProxyHeaderParser, type ProxyHeader } from '../../src/proxy/proxy-protocol.js';

export interface TestTcpServer {
  readonly name: string;
  readonly port: number;
  /** `127.0.0.1:PORT`, as configs write it. */
  readonly address: string;
  /** Connections accepted so far. */
  accepted: number;
  readonly server: Server;
  close(): Promise<void>;
}

/** Starts a server on 127.0.0.1 port 0 that hands each connection to `handle`; `close` also destroys open connections. */
export async function startTcpServer(name: string, handle: (socket: Socket) => void, host = '127.0.0.1'): Promise<TestTcpServer> {
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    result.accepted++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    handle(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const result: TestTcpServer = {
    name,
    port,
    address: host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`,
    accepted: 0,
    server,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  return result;
}

/** Echoes every byte back and half-closes after the client does. */
export function startEchoServer(name: string): Promise<TestTcpServer> {
  return startTcpServer(name, (socket) => socket.pipe(socket));
}

/** What a PROXY-parsing test server saw on one connection. */
export interface ParsedConnection {
  readonly header: ProxyHeader | undefined;
  readonly error: string | undefined;
  /** The TCP peer of the server's connection (Ballast's side). */
  readonly peer: string;
}

/**
 * A server that expects a PROXY header (v1 or v2) at the start of every
 * connection, records it, answers `<source address>:<source port>\n` and then
 * echoes the rest of the stream.
 */
export async function startProxyParsingServer(name: string): Promise<TestTcpServer & { readonly seen: ParsedConnection[] }> {
  const seen: ParsedConnection[] = [];
  const server = await startTcpServer(name, (socket) => {
    const parser = new ProxyHeaderParser();
    const peer = socket.remoteAddress ?? '';
    const onData = (chunk: Buffer): void => {
      const result = parser.push(chunk);
      if (result.kind === 'incomplete') return;
      socket.off('data', onData);
      if (result.kind === 'invalid') {
        seen.push({ header: undefined, error: result.reason, peer });
        socket.destroy();
        return;
      }
      seen.push({ header: result.header, error: undefined, peer });
      const source = result.header.source;
      socket.write(`${source === undefined ? 'unknown' : `${source.address}:${source.port}`}\n`);
      if (result.rest.length > 0) socket.write(result.rest);
      socket.pipe(socket);
    };
    socket.on('data', onData);
  });
  return Object.assign(server, { seen });
}

/** A port on 127.0.0.1 where nothing listens (connections are refused). */
export async function deadAddress(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `127.0.0.1:${port}`;
}

export interface TcpBallast {
  readonly listener: TcpListener;
  readonly pool: Pool;
  readonly port: number;
  readonly logs: AccessLogEntry[];
  close(): Promise<void>;
}

/** Validates a one-listener, one-pool TCP config through the real config schema. */
function tcpConfigs(
  servers: readonly string[],
  pool: Record<string, unknown> = {},
  listener: Record<string, unknown> = {},
): { listener: TcpListenerConfig; pool: PoolConfig } {
  const config = configFromObject({
    log: { level: 'silent', access: 'off' },
    listeners: [{ name: 'tcp', protocol: 'tcp', listen: '127.0.0.1:0', pool: 'app', ...listener }],
    pools: [
      {
        name: 'app',
        algorithm: 'round-robin',
        servers: servers.map((address, i) => ({ name: `s${i + 1}`, address })),
        ...pool,
      },
    ],
  });
  const listenerConfig = config.listeners[0];
  const poolConfig = config.pools[0];
  if (listenerConfig?.protocol !== 'tcp' || poolConfig === undefined) throw new Error('expected one tcp listener and one pool');
  return { listener: listenerConfig, pool: poolConfig };
}

/** Starts a TcpListener from `tcpConfigs` on 127.0.0.1 port 0 over a real Pool. */
export async function startTcpBallast(
  servers: readonly string[],
  pool: Record<string, unknown> = {},
  listener: Record<string, unknown> = {},
): Promise<TcpBallast> {
  const configs = tcpConfigs(servers, pool, listener);
  const livePool = new Pool(configs.pool, { events: new EventBus() });
  livePool.start();
  const logs: AccessLogEntry[] = [];
  const tcp = new TcpListener(configs.listener, livePool, (entry) => logs.push(entry));
  await tcp.listen();
  const close = async (): Promise<void> => {
    await tcp.close(200);
    await livePool.stop();
  };
  return { listener: tcp, pool: livePool, port: tcp.address.port, logs, close };
}

export interface DialOptions {
  /** Connect from this loopback address (127.0.0.0/8). */
  readonly localAddress?: string;
  readonly host?: string;
  /** Keep our side open after the peer's FIN (to send after it), instead of closing with it. */
  readonly allowHalfOpen?: boolean;
}

/** Opens a connection to 127.0.0.1:`port`. */
export function dial(port: number, options: DialOptions = {}): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      port,
      host: options.host ?? '127.0.0.1',
      localAddress: options.localAddress,
      allowHalfOpen: options.allowHalfOpen ?? false,
    });
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

export interface Collected {
  readonly data: Buffer;
  /** True when the peer half-closed cleanly (FIN); false when the socket ended by error or reset. */
  readonly ended: boolean;
  readonly error: string | undefined;
}

/** Collects everything `socket` receives until it closes, rejecting after `timeoutMs`. */
export function collect(socket: Socket, timeoutMs = 30_000): Promise<Collected> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let ended = false;
    let error: string | undefined;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no close within ${timeoutMs} ms; got ${Buffer.concat(chunks).length} bytes`));
    }, timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => {
      ended = true;
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      error = e.code ?? e.message;
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ data: Buffer.concat(chunks), ended, error });
    });
  });
}

/** Resolves with the first `length` bytes `socket` receives; callers expect nothing after them. */
export function readBytes(socket: Socket, length: number, timeoutMs = 10_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let have = 0;
    const done = (error?: Error): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      if (error) reject(error);
      else resolve(Buffer.concat(chunks).subarray(0, length));
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      have += chunk.length;
      if (have >= length) done();
    };
    const onClose = (): void => done(new Error(`closed after ${have} of ${length} bytes`));
    const timer = setTimeout(() => done(new Error(`timed out after ${have} of ${length} bytes`)), timeoutMs);
    socket.on('data', onData);
    socket.on('close', onClose);
  });
}

/** Sends `payload`, half-closes, and returns everything received until the connection closes. */
export async function exchange(port: number, payload: Buffer | string, options: DialOptions = {}): Promise<Collected> {
  const socket = await dial(port, options);
  const result = collect(socket);
  socket.end(payload);
  return result;
}
