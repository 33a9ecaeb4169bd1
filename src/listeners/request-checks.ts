/**
 * Checks of a parsed request head that Node's HTTP parser leaves to the
 * application: the limits of a listener, the Host rules of RFC 9112 §3.2,
 * transfer codings, and the request target forms of RFC 9112 §3.2.
 *
 * Node's parser (llhttp, strict) has already refused every message with
 * ambiguous framing (Content-Length with Transfer-Encoding, duplicate or
 * malformed Content-Length, bad chunk sizes, bare CR or LF, obs-fold,
 * unknown methods) with 400 before anything here runs.
 */
import type { IncomingMessage } from 'node:http';
import type { HttpListenerLimits } from '../config/types.js';

/** The limits these checks enforce. */
export type RequestRules = Pick<HttpListenerLimits, 'maxUrlLength' | 'maxHeaderSize' | 'maxHeaders' | 'underscoreHeaders'>;

/** `uri-host [":" port]` (RFC 9110 §7.2): a bracketed IP literal or reg-name / IPv4 characters. */
const HOST_VALUE = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+,;=%-]+)(?::[0-9]{1,5})?$/;

/** `http://authority/path?query` (absolute-form); userinfo, fragments and whitespace are not accepted. */
const ABSOLUTE_FORM = /^https?:\/\/([^/?#@\s]+)([/?][^#\s]*)?$/i;

/**
 * The status a request head must be refused with, or 0 when it is
 * acceptable: 505 for an HTTP version other than 1.x (HTTP/1 only), 414 for
 * a target longer than `maxUrlLength`, 431 for more than `maxHeaders` fields
 * or more than `maxHeaderSize` bytes of names and values, 400 for several
 * Host fields or an invalid one, or a name with `_` under `reject`, and 501
 * for a transfer coding other than chunked. O(headers).
 */
export function refusalStatus(req: IncomingMessage, rules: RequestRules, http2: boolean): number {
  if (!http2 && req.httpVersionMajor !== 1) return 505;
  if ((req.url ?? '').length > rules.maxUrlLength) return 414;
  const raw = req.rawHeaders;
  let count = 0;
  let bytes = 0;
  let host: string | undefined;
  let hosts = 0;
  let transferEncoding: string | undefined;
  let underscore = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    if (name.charCodeAt(0) === 58 /* ':' pseudo-header */) continue;
    count++;
    bytes += name.length + value.length;
    if (name.length === 4 && name.toLowerCase() === 'host') {
      host = value;
      hosts++;
    } else if (name.length === 17 && name.toLowerCase() === 'transfer-encoding') {
      transferEncoding = value;
    }
    if (name.includes('_')) underscore = true;
  }
  if (count > rules.maxHeaders || bytes > rules.maxHeaderSize) return 431;
  if (hosts > 1 || (host !== undefined && !HOST_VALUE.test(host))) return 400;
  if (underscore && rules.underscoreHeaders === 'reject') return 400;
  if (transferEncoding !== undefined && transferEncoding.trim().toLowerCase() !== 'chunked') return 501;
  return 0;
}

/**
 * Turns an absolute-form request (`GET http://host/path HTTP/1.1`) into
 * origin-form in place: `req.url` becomes the path and query, and Host (in
 * `req.headers` and `req.rawHeaders`, added when absent) becomes the target's
 * authority, which RFC 9112 §3.2.2 says replaces any Host field received.
 * Returns false for a target that is neither origin-form nor a valid
 * http(s) absolute-form (the request gets 400); the asterisk-form of
 * `OPTIONS *` and CONNECT's authority-form are refused too.
 */
export function toOriginForm(req: IncomingMessage): boolean {
  const url = req.url ?? '';
  if (url.charCodeAt(0) === 47 /* '/' */) return true;
  const match = ABSOLUTE_FORM.exec(url);
  const authority = match?.[1];
  if (match === null || authority === undefined || !HOST_VALUE.test(authority)) return false;
  const rest = match[2] ?? '';
  req.url = rest === '' ? '/' : rest.charCodeAt(0) === 63 /* '?' */ ? `/${rest}` : rest;
  req.headers.host = authority;
  const raw = req.rawHeaders;
  let replaced = false;
  for (let i = 0; i < raw.length; i += 2) {
    if ((raw[i] as string).toLowerCase() === 'host') {
      raw[i + 1] = authority;
      replaced = true;
    }
  }
  if (!replaced) raw.push('Host', authority);
  return true;
}
