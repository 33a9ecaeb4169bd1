/**
 * Header rewriting between client and server. Works on Node's flat raw
 * header arrays (`[name, value, name, value, ...]`) so names keep their case
 * and repeated headers their order.
 */

import { randomUUID } from 'node:crypto';

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
  return typeof clientValue === 'string' && VALID_REQUEST_ID.test(clientValue) ? clientValue : randomUUID();
}

/**
 * Builds the header list sent to the server: hop-by-hop headers and every
 * header named in Connection are removed first, then X-Forwarded-For/-Proto/
 * -Host, Via and X-Request-Id are added. A client's own X-Forwarded-* survive only when the
 * peer is trusted; otherwise they are replaced, so a client cannot forge them
 * (and Forwarded and X-Real-IP, which Ballast does not set, are removed).
 * `Expect` is consumed here (Node already answered 100-continue). Connection
 * cannot remove Host: Host is end-to-end, and a request without it would reach
 * the server with a Host of the proxy's choosing. Names with `_` are dropped
 * when asked, since servers that map `-` to `_` (CGI, PHP, many frameworks)
 * would read `X_Forwarded_For` as `X-Forwarded-For`. O(headers).
 */
export function upstreamRequestHeaders(raw: readonly string[], info: ForwardingInfo): string[] {
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
    if (HOP_BY_HOP.has(lower) || lower === 'expect' || (named !== null && lower !== 'host' && named.has(lower))) continue;
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
 * Converts a server's raw response headers to the list sent to the client,
 * without hop-by-hop headers or those the server named in Connection.
 * Returns null when the response uses a transfer coding other than a single
 * `chunked`: its body would reach the client still encoded (the coding is
 * hop-by-hop and removed), and a stacked or unknown coding is a sign of a
 * broken or hostile server. O(headers).
 */
export function downstreamResponseHeaders(raw: readonly Buffer[]): string[] | null {
  const out: string[] = [];
  let named: Set<string> | null = null;
  let codings = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as Buffer).toString('latin1');
    const value = (raw[i + 1] as Buffer).toString('latin1');
    const lower = name.toLowerCase();
    if (lower === 'connection') {
      named ??= new Set();
      for (const token of value.split(',')) named.add(token.trim().toLowerCase());
      continue;
    }
    if (lower === 'transfer-encoding' && (++codings > 1 || value.trim().toLowerCase() !== 'chunked')) return null;
    if (HOP_BY_HOP.has(lower)) continue;
    out.push(name, value);
  }
  if (named === null) return out;
  const kept: string[] = [];
  for (let i = 0; i < out.length; i += 2) {
    if (!named.has((out[i] as string).toLowerCase())) kept.push(out[i] as string, out[i + 1] as string);
  }
  return kept;
}
