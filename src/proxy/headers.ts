/**
 * Header rewriting between client and server. Works on Node's flat raw
 * header arrays (`[name, value, name, value, ...]`) so names keep their case
 * and repeated headers their order.
 */

import type { ProxyRequest } from './messages.js';
import { randomUuid } from './request-id.js';

/** Hop-by-hop headers (RFC 9110 §7.6.1) plus legacy ones proxies must not forward. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/** Names a client header list may contain that the proxy replaces with its own values. */
const FORWARDED = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host']);

/** Other client-address headers servers are known to trust; kept only from trusted proxies. */
const CLIENT_ADDRESS = new Set(['forwarded', 'x-real-ip']);

/** Added to Via (RFC 9110 §7.6.3). */
const VIA_ENTRY = '1.1 ballast';

/** The lower-case tokens of every Connection header in `raw`, or null when there is none. */
export function connectionTokens(raw: readonly string[]): Set<string> | null {
  let tokens: Set<string> | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 10 && name.toLowerCase() === 'connection') {
      tokens ??= new Set();
      for (const token of (raw[i + 1] as string).split(',')) {
        const trimmed = token.trim().toLowerCase();
        if (trimmed !== '') tokens.add(trimmed);
      }
    }
  }
  return tokens;
}

export interface ForwardingInfo {
  /** The address of the peer that connected to Ballast. */
  readonly peerAddress: string;
  /** Whether that peer is a trusted proxy whose X-Forwarded-* headers we keep. */
  readonly peerTrusted: boolean;
  readonly protocol: 'http' | 'https';
  /** Remove header fields whose name contains `_` (the listener's `underscoreHeaders: drop`). */
  readonly dropUnderscore: boolean;
  /** Sent as `X-Request-Id`; any X-Request-Id of the client is replaced by it (see `requestIdFor`). */
  readonly requestId: string;
}

/** Characters and length a client's X-Request-Id must keep to be passed on. */
const VALID_REQUEST_ID = /^[A-Za-z0-9._:+/=-]{1,128}$/;

/**
 * The request id for a request: the client's own X-Request-Id when it is a
 * single short token (so ids survive across proxies), else a new UUID.
 */
export function requestIdFor(clientValue: string | string[] | undefined): string {
  return typeof clientValue === 'string' && VALID_REQUEST_ID.test(clientValue) ? clientValue : randomUuid();
}

/**
 * Builds the field lines sent to the server (`name: value` + CRLF each):
 * hop-by-hop fields, every field named in Connection and the framing
 * fields are removed first (the connection to the server frames the body it
 * sends), then X-Forwarded-For/-Proto/-Host, Via and X-Request-Id are
 * added. A client's own X-Forwarded-* survive only when the peer is trusted;
 * otherwise they are replaced, so a client cannot forge them (and Forwarded
 * and X-Real-IP, which Ballast does not set, are removed). `Expect` is
 * consumed here (the listener answered 100-continue). Connection cannot
 * remove Host: Host is end-to-end, and a request without it would reach the
 * server with a Host of the proxy's choosing. Names with `_` are dropped when
 * asked, since servers that map `-` to `_` (CGI, PHP, many frameworks) would
 * read `X_Forwarded_For` as `X-Forwarded-For`. A request with none of these
 * fields keeps its field lines as received. O(headers).
 */
export function upstreamRequestFields(req: ProxyRequest, info: ForwardingInfo): string {
  const plain = req.plainFields;
  if (plain !== null) {
    const host = req.header('host');
    const forwardedHost = host === undefined ? '' : `x-forwarded-host: ${host}\r\n`;
    return `${plain}x-forwarded-for: ${info.peerAddress}\r\nx-forwarded-proto: ${info.protocol}\r\n${forwardedHost}via: ${VIA_ENTRY}\r\nx-request-id: ${info.requestId}\r\n`;
  }
  const headers = rewrittenFields(req.rawHeaders, info);
  let lines = '';
  for (let i = 0; i < headers.length; i += 2) lines += `${headers[i] as string}: ${headers[i + 1] as string}\r\n`;
  return lines;
}

function rewrittenFields(raw: readonly string[], info: ForwardingInfo): string[] {
  const named = connectionTokens(raw);
  const out: string[] = [];
  let forwardedFor: string | undefined;
  let forwardedProto: string | undefined;
  let forwardedHost: string | undefined;
  let host: string | undefined;
  let authority: string | undefined;
  let via: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    if (name.charCodeAt(0) === 58 /* ':' */) {
      // HTTP/2 pseudo-headers: the authority becomes the Host of the HTTP/1.1 request.
      if (name === ':authority') authority = value;
      continue;
    }
    const lower = name.toLowerCase();
    // Framing (Content-Length, Transfer-Encoding) is set by the connection to the server for the body it sends.
    if (HOP_BY_HOP.has(lower) || lower === 'expect' || lower === 'content-length' || (named !== null && lower !== 'host' && named.has(lower))) continue;
    if (info.dropUnderscore && lower.includes('_')) continue;
    if (!info.peerTrusted && CLIENT_ADDRESS.has(lower)) continue;
    if (FORWARDED.has(lower)) {
      if (!info.peerTrusted) continue;
      if (lower === 'x-forwarded-for') forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
      else if (lower === 'x-forwarded-proto') forwardedProto ??= value;
      else forwardedHost ??= value;
      continue;
    }
    if (lower === 'via') {
      via = via === undefined ? value : `${via}, ${value}`;
      continue;
    }
    if (lower === 'x-request-id') continue;
    if (lower === 'host') host ??= value;
    out.push(name, value);
  }
  if (host === undefined && authority !== undefined) {
    host = authority;
    out.push('host', authority);
  }
  out.push('x-forwarded-for', forwardedFor === undefined ? info.peerAddress : `${forwardedFor}, ${info.peerAddress}`);
  out.push('x-forwarded-proto', forwardedProto ?? info.protocol);
  const originalHost = forwardedHost ?? host;
  if (originalHost !== undefined) out.push('x-forwarded-host', originalHost);
  out.push('via', via === undefined ? VIA_ENTRY : `${via}, ${VIA_ENTRY}`);
  out.push('x-request-id', info.requestId);
  return out;
}

/**
 * The server's response fields as sent to the client, without hop-by-hop
 * fields or those the server named in Connection. (The response parser has
 * already refused any transfer coding other than a single `chunked`.)
 * O(headers).
 */
export function downstreamResponseHeaders(raw: string[]): string[] {
  const named = connectionTokens(raw);
  // Connection is itself hop-by-hop: without it, the common answer's list is passed on as it is.
  if (named === null && !raw.some((name, i) => i % 2 === 0 && HOP_BY_HOP.has(name.toLowerCase()))) return raw;
  const kept: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const lower = (raw[i] as string).toLowerCase();
    if (HOP_BY_HOP.has(lower) || (named !== null && named.has(lower))) continue;
    kept.push(raw[i] as string, raw[i + 1] as string);
  }
  return kept;
}
