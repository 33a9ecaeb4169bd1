/**
 * Answers Ballast writes itself: short plain-text bodies, complete
 * responses written straight to a socket, and the lingering close after
 * them.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * How long a connection closed while the client may still be sending stays
 * half-closed before it is destroyed. Closing a socket with unread input
 * makes the kernel send a reset, which can destroy the answer in the
 * client's receive buffer before the client reads it (the "lingering close"
 * of HTTP servers); after this pause the client has read it.
 */
const LINGER_MS = 2000;

function destroySocket(socket: Duplex): void {
  socket.destroy();
}

function onLingerClose(this: Duplex & { [kLinger]?: NodeJS.Timeout }): void {
  clearTimeout(this[kLinger]);
}

const kLinger = Symbol('ballast.linger');

/**
 * Sends `bytes` (if any) and half-closes `socket`, destroying it LINGER_MS
 * later, or when it closes first.
 */
export function endLingering(socket: Duplex, bytes: Buffer | null): void {
  if (socket.destroyed) return;
  if (bytes === null) socket.end();
  else socket.end(bytes);
  const tagged = socket as Duplex & { [kLinger]?: NodeJS.Timeout };
  if (tagged[kLinger] !== undefined) return;
  const timer = setTimeout(destroySocket, LINGER_MS, socket);
  timer.unref();
  tagged[kLinger] = timer;
  socket.once('close', onLingerClose);
}

const BODIES: Record<number, Buffer> = {};

const TEXTS: Record<number, string> = {
  400: 'Bad Request',
  404: 'Not Found: no route matches this request',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  413: 'Payload Too Large',
  414: 'URI Too Long',
  431: 'Request Header Fields Too Large',
  501: 'Not Implemented',
  505: 'HTTP Version Not Supported',
  502: 'Bad Gateway: the server could not be reached or answered badly',
  503: 'Service Unavailable: no server is available',
  504: 'Gateway Timeout: the server did not answer in time',
};

/** The short plain-text body Ballast answers `status` with. */
export function plainBody(status: number): Buffer {
  const cached = BODIES[status];
  if (cached !== undefined) return cached;
  const body = Buffer.from(`${TEXTS[status] ?? String(status)}\n`);
  BODIES[status] = body;
  return body;
}

const RAW: Record<number, Buffer> = {};

/**
 * A complete HTTP/1.1 response that closes the connection, for writing
 * straight to a socket (a refused head, a refused upgrade). Built once per
 * status.
 */
export function rawResponse(status: number): Buffer {
  const cached = RAW[status];
  if (cached !== undefined) return cached;
  const body = plainBody(status);
  const head =
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
    `content-type: text/plain; charset=utf-8\r\ncontent-length: ${body.length}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n`;
  const bytes = Buffer.concat([Buffer.from(head, 'latin1'), body]);
  RAW[status] = bytes;
  return bytes;
}
