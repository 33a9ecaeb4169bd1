import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { clientAddressOf } from '../persistence/source-ip.js';
import { parseCookieHeader } from '../router/matchers.js';
import type { Pool } from '../pools/pool.js';
import type { PoolServer } from '../pools/server.js';
import { MAX_RESPONSE_HEAD, parseResponseHead, scanHead, type ResponseHead } from '../http1/head.js';
import { downstreamResponseHeaders, requestIdFor, upstreamRequestFields } from './headers.js';
import type { ListenerContext } from './http.js';
import type { ProxyRequest } from './messages.js';


function rawStatus(socket: Duplex, status: number, text: string): void {
  if (socket.destroyed) return;
  const body = `${text}\n`;
  socket.end(`HTTP/1.1 ${status} ${text}\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}

/**
 * Proxies a WebSocket handshake. The request goes to a server with the
 * usual forwarding headers plus `Upgrade`/`Connection`; only when the server
 * answers 101 do bytes flow both ways as a tunnel. Any other answer is passed
 * to the client and the connection closed, so nothing is ever tunnelled
 * without a real 101. Either side closing or going idle for `idleMs` closes
 * both.
 */
export function proxyUpgrade(req: ProxyRequest, client: Duplex, head: Buffer, pool: Pool, listener: ListenerContext, idleMs: number): void {
  const peer = req.remoteAddress;
  const clientAddress = clientAddressOf(peer, req.header('x-forwarded-for'), listener.isTrusted);
  const url = req.url;
  const cookie = pool.stickyCookie;
  const sticky = cookie?.verify(parseCookieHeader(req.header('cookie')).get(cookie.name), Date.now());
  const server =
    (sticky === undefined ? undefined : pool.stickyServer(sticky.server)) ??
    pool.pick({ clientAddress, hashKey: pool.hashKey?.({ clientAddress, url, headers: req.headers }) });
  if (server === null) {
    rawStatus(client, 503, 'Service Unavailable');
    return;
  }
  new UpgradeTunnel(req, client, head, pool, server, listener, idleMs, clientAddress).start();
}

class UpgradeTunnel {
  private readonly startedAt = performance.now();
  private upstream: Socket | undefined;
  private status = 0;
  private ended = false;
  private failed = false;
  private bytes = 0;

  constructor(
    private readonly req: ProxyRequest,
    private readonly client: Duplex,
    private readonly head: Buffer,
    private readonly pool: Pool,
    private readonly server: PoolServer,
    private readonly listener: ListenerContext,
    private readonly idleMs: number,
    private readonly clientAddress: string,
  ) {}

  start(): void {
    const { req, client, server } = this;
    this.pool.begin(server);
    const upstream = connect({ host: server.address.host, port: server.address.port, timeout: this.pool.config.timeouts.connect });
    this.upstream = upstream;
    upstream.setNoDelay(true);
    client.on('error', () => this.close());
    client.on('close', () => this.close());
    upstream.on('error', () => {
      if (this.status === 0) {
        this.failed = true;
        rawStatus(client, 502, 'Bad Gateway');
      }
      this.close();
    });
    upstream.on('close', () => this.close());
    upstream.once('timeout', () => {
      this.failed = true;
      rawStatus(client, 504, 'Gateway Timeout');
      this.close();
    });
    upstream.once('connect', () => {
      upstream.setTimeout(this.idleMs);
      const fields = upstreamRequestFields(req, {
        peerAddress: req.remoteAddress,
        peerTrusted: this.listener.isTrusted(req.remoteAddress),
        protocol: this.listener.protocol,
        dropUnderscore: this.listener.dropUnderscore,
        requestId: requestIdFor(req.header('x-request-id')),
      });
      upstream.write(`${req.method} ${req.url} HTTP/1.1\r\n${fields}connection: Upgrade\r\nupgrade: ${req.header('upgrade') ?? 'websocket'}\r\n\r\n`, 'latin1');
      this.readResponseHead(upstream);
    });
  }

  /** Reads the server's response head; a 101 opens the tunnel, anything else is relayed and closed. */
  private readResponseHead(upstream: Socket): void {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      size += chunk.length;
      const buffered = Buffer.concat(chunks);
      const scan = scanHead(buffered, 0, buffered.length);
      if (scan.kind === 'incomplete' && size <= MAX_RESPONSE_HEAD) return;
      upstream.off('data', onData);
      const head = scan.kind === 'complete' ? parseResponseHead(buffered.toString('latin1', 0, scan.end)) : null;
      if (scan.kind !== 'complete' || head === null) {
        this.failed = true;
        rawStatus(this.client, 502, 'Bad Gateway');
        this.close();
        return;
      }
      this.status = head.status;
      if (this.status === 101) this.openTunnel(upstream, buffered);
      else this.relayRefusal(upstream, head, buffered.subarray(scan.end));
    };
    upstream.on('data', onData);
  }

  private openTunnel(upstream: Socket, buffered: Buffer): void {
    const client = this.client;
    // What the client sent after its request is for the new protocol: it goes to the server only now, after the 101.
    if (this.head.length > 0) upstream.write(this.head);
    client.write(buffered);
    this.bytes += buffered.length;
    if ('setTimeout' in client && typeof client.setTimeout === 'function') (client as Socket).setTimeout(this.idleMs);
    const onIdle = (): void => this.close();
    client.on('timeout', onIdle);
    upstream.on('timeout', onIdle);
    upstream.on('data', (chunk: Buffer) => {
      this.bytes += chunk.length;
    });
    upstream.pipe(client);
    client.pipe(upstream);
    upstream.on('end', () => client.end());
    client.on('end', () => upstream.end());
  }

  /**
   * The server declined the upgrade: its answer goes to the client, no byte
   * flows back. With a Content-Length both connections close once that body
   * is through (nothing past it is relayed); otherwise the body runs until
   * the server closes.
   */
  private relayRefusal(upstream: Socket, head: ResponseHead, body: Buffer): void {
    // The head as the proxy passes any other: without hop-by-hop fields, and saying the connection closes.
    let text = `HTTP/1.1 ${head.status} ${head.reason}\r\n`;
    const fields = downstreamResponseHeaders(head.rawHeaders);
    for (let i = 0; i < fields.length; i += 2) text += `${fields[i] as string}: ${fields[i + 1] as string}\r\n`;
    // A chunked body is relayed as it comes, still chunked.
    if (head.chunked) text += 'transfer-encoding: chunked\r\n';
    this.client.write(`${text}connection: close\r\n\r\n`, 'latin1');
    if (head.contentLength < 0) {
      this.client.write(body);
      upstream.pipe(this.client);
      return;
    }
    let remaining = head.contentLength;
    const relay = (chunk: Buffer): void => {
      const part = chunk.length > remaining ? chunk.subarray(0, remaining) : chunk;
      remaining -= part.length;
      this.client.write(part);
      if (remaining > 0) return;
      upstream.off('data', relay);
      this.client.end();
      upstream.destroy();
    };
    relay(body);
    if (remaining > 0) upstream.on('data', relay);
  }

  private close(): void {
    if (this.ended) return;
    this.ended = true;
    this.upstream?.destroy();
    this.client.destroy();
    const elapsed = performance.now() - this.startedAt;
    this.pool.end(this.server, elapsed, this.failed);
    this.listener.accessLog?.({
      listener: this.listener.name,
      client: this.clientAddress,
      method: this.req.method,
      path: this.req.url,
      status: this.status === 0 ? (this.failed ? 502 : 499) : this.status,
      pool: this.pool.name,
      server: this.server.name,
      upstreamMs: undefined,
      totalMs: elapsed,
      bytes: this.bytes,
      retries: 0,
      error: this.failed ? 'upgrade failed' : undefined,
    });
  }
}
