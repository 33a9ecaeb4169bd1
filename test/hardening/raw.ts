/**
 * Raw-socket tools for the hostile-input suite: a client that writes exact
 * bytes and reads whatever comes back, a strict parser for the responses it
 * reads, and a raw TCP "backend" that answers with exact bytes and counts the
 * connections and requests it sees.
 */
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface RawResult {
  /** Every byte the server sent, as latin1 text. */
  readonly text: string;
  /** The responses in `text`, in order. */
  readonly responses: readonly ParsedResponse[];
  /** Status of the first response; 0 when there is none. */
  readonly status: number;
  /** The server closed (or reset) the connection before the client gave up. */
  readonly closed: boolean;
  /** A socket error seen by the client (e.g. ECONNRESET), if any. */
  readonly error: string | undefined;
  /** Time from connect to close or give-up. */
  readonly ms: number;
}

export interface RawOptions {
  /** Give up (and close) after this long. Default 5 s. */
  readonly timeoutMs?: number;
  /** Pause between the parts written. Default 0. */
  readonly gapMs?: number;
  /** Stop early, as soon as this holds for what was read (e.g. one complete response). */
  readonly until?: (responses: readonly ParsedResponse[]) => boolean;
  /** Source address (a loopback address). */
  readonly localAddress?: string;
}

/**
 * Connects to 127.0.0.1:`port`, writes `parts` (with `gapMs` between them,
 * stopping if the server closes) and reads until the server closes, `until`
 * holds, or `timeoutMs` passes.
 */
export function rawExchange(port: number, parts: readonly (string | Buffer)[], options: RawOptions = {}): Promise<RawResult> {
  const timeoutMs = options.timeoutMs ?? 5000;
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = net.connect({ port, host: '127.0.0.1', ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }) });
    const chunks: Buffer[] = [];
    let error: string | undefined;
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const responses = parseResponses(text);
      resolve({ text, responses, status: responses[0]?.status ?? 0, closed, error, ms: performance.now() - started });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (options.until?.(parseResponses(Buffer.concat(chunks).toString('latin1')))) finish(false);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      error = err.code ?? err.message;
    });
    socket.on('close', () => finish(true));
    socket.once('connect', () => {
      void (async () => {
        for (const part of parts) {
          if (socket.destroyed || !socket.writable) return;
          socket.write(part);
          if ((options.gapMs ?? 0) > 0) await sleep(options.gapMs);
        }
      })();
    });
  });
}

export interface ParsedResponse {
  readonly status: number;
  /** Lower-case names; repeated fields joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** The body was complete by its framing (Content-Length reached, last chunk seen, or close-delimited). */
  readonly complete: boolean;
}

/** `until` helper: `n` complete responses have arrived. */
export function responsesComplete(n: number): (responses: readonly ParsedResponse[]) => boolean {
  return (responses) => responses.length >= n && responses.slice(0, n).every((response) => response.complete);
}

/**
 * Parses HTTP/1.1 responses as a strict client would: Content-Length or
 * chunked framing; without either, the body runs to the end of the input (a
 * close-delimited body counts as complete). Stops at the first thing that is
 * not a response.
 */
export function parseResponses(text: string): ParsedResponse[] {
  const out: ParsedResponse[] = [];
  let rest = text;
  while (rest.length > 0) {
    const end = rest.indexOf('\r\n\r\n');
    if (end === -1) break;
    const lines = rest.slice(0, end).split('\r\n');
    const statusLine = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
    if (statusLine === null) break;
    const status = Number(statusLine[1]);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    rest = rest.slice(end + 4);
    if ((status >= 100 && status < 200) || status === 204 || status === 304) {
      out.push({ status, headers, body: '', complete: true });
      continue;
    }
    if (headers['transfer-encoding']?.toLowerCase() === 'chunked') {
      let body = '';
      let complete = false;
      for (;;) {
        const lineEnd = rest.indexOf('\r\n');
        if (lineEnd === -1) break;
        const size = Number.parseInt(rest.slice(0, lineEnd), 16);
        if (!Number.isFinite(size)) break;
        if (size === 0) {
          const trailerEnd = rest.indexOf('\r\n\r\n', lineEnd);
          complete = trailerEnd !== -1;
          rest = complete ? rest.slice(trailerEnd + 4) : '';
          break;
        }
        if (rest.length < lineEnd + 2 + size + 2) {
          body += rest.slice(lineEnd + 2);
          rest = '';
          break;
        }
        body += rest.slice(lineEnd + 2, lineEnd + 2 + size);
        rest = rest.slice(lineEnd + 2 + size + 2);
      }
      out.push({ status, headers, body, complete });
      if (!complete) break;
      continue;
    }
    const length = headers['content-length'];
    if (length !== undefined) {
      const size = Number(length);
      const body = rest.slice(0, size);
      out.push({ status, headers, body, complete: body.length === size });
      rest = rest.slice(size);
      if (body.length < size) break;
      continue;
    }
    out.push({ status, headers, body: rest, complete: true });
    break;
  }
  return out;
}

/** One request head as a raw backend read it. */
export interface RawRequest {
  /** Index of the connection it arrived on (0-based, in accept order). */
  readonly connection: number;
  readonly method: string;
  readonly target: string;
  readonly head: string;
}

/**
 * How a raw backend answers one request: bytes to write (the connection then
 * stays open for the next request), or a function that drives the socket.
 */
export type RawAnswer = string | Buffer | ((socket: net.Socket, request: RawRequest) => void);

export interface RawBackend {
  readonly port: number;
  readonly address: string;
  /** Every request head read, in order. */
  readonly requests: RawRequest[];
  /** Connections accepted so far. */
  connections(): number;
  /** Requests read on each connection, by connection index. */
  requestsPerConnection(): number[];
  close(): Promise<void>;
}

/**
 * A TCP server on 127.0.0.1 that reads request heads (bodies are not
 * expected: tests send GET) and answers each with `answer(request)`.
 */
export async function startRawBackend(answer: (request: RawRequest) => RawAnswer): Promise<RawBackend> {
  const requests: RawRequest[] = [];
  const perConnection: number[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    const connection = perConnection.push(0) - 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let pending = '';
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.toString('latin1');
      for (;;) {
        const end = pending.indexOf('\r\n\r\n');
        if (end === -1) return;
        const head = pending.slice(0, end);
        pending = pending.slice(end + 4);
        const [method = '', target = ''] = (head.split('\r\n')[0] ?? '').split(' ');
        const request: RawRequest = { connection, method, target, head };
        requests.push(request);
        perConnection[connection] = (perConnection[connection] ?? 0) + 1;
        const reply = answer(request);
        if (typeof reply === 'function') reply(socket, request);
        else socket.write(reply);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    address: `127.0.0.1:${port}`,
    requests,
    connections: () => perConnection.length,
    requestsPerConnection: () => [...perConnection],
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A listener config (YAML shape) for one http listener on port 0 in front of pool `app`. */
export function listenerConfig(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { name: 'web', protocol: 'http', listen: '127.0.0.1:0', routes: [{ pool: 'app' }], ...overrides };
}

/** The port a running Ballast listener is bound to. */
export function portOf(url: string): number {
  return Number(new URL(url).port);
}
