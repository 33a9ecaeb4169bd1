/**
 * Checks of a parsed request head that the parsers leave to the listener:
 * its limits, the Host rules of RFC 9112 §3.2, and the request target forms
 * of RFC 9112 §3.2.
 *
 * The HTTP/1 parser (http1/head.ts) has already refused every message with
 * ambiguous framing (Content-Length with Transfer-Encoding, duplicate or
 * malformed Content-Length, transfer codings, bare CR or LF, obs-fold,
 * versions other than 1.x) before anything here runs; Node's HTTP/2 layer
 * does the same for HTTP/2.
 */
import type { HttpListenerLimits } from '../config/types.js';
import type { FieldStats, ProxyRequest } from '../proxy/messages.js';

/** The limits these checks enforce. */
export type RequestRules = Pick<HttpListenerLimits, 'maxUrlLength' | 'maxHeaderSize' | 'maxHeaders' | 'underscoreHeaders'>;

/** `uri-host [":" port]` (RFC 9110 §7.2): a bracketed IP literal or reg-name / IPv4 characters. */
const HOST_VALUE = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+,;=%-]+)(?::[0-9]{1,5})?$/;

/** `http://authority/path?query` (absolute-form); userinfo, fragments and whitespace are not accepted. */
const ABSOLUTE_FORM = /^https?:\/\/([^/?#@\s]+)([/?][^#\s]*)?$/i;

/**
 * The status a request head must be refused with, or 0 when it is
 * acceptable: 414 for a target longer than `maxUrlLength`, 431 for more
 * than `maxHeaders` fields or more than `maxHeaderSize` bytes of names and
 * values, 400 for several Host fields or an invalid one, or a name with `_`
 * under `reject`. O(headers).
 */
export function refusalStatus(req: ProxyRequest, rules: RequestRules): number {
  if (req.url.length > rules.maxUrlLength) return 414;
  const stats = req.stats;
  if (stats.fieldCount > rules.maxHeaders || stats.fieldBytes > rules.maxHeaderSize) return 431;
  if (stats.hostCount > 1 || (stats.host !== undefined && !HOST_VALUE.test(stats.host))) return 400;
  if (stats.underscore && rules.underscoreHeaders === 'reject') return 400;
  return 0;
}

/** The stats of a raw field list (HTTP/2 pseudo-headers are not counted). O(headers). */
export function fieldStatsOf(raw: readonly string[]): FieldStats {
  let fieldCount = 0;
  let fieldBytes = 0;
  let host: string | undefined;
  let hostCount = 0;
  let underscore = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    if (name.charCodeAt(0) === 58 /* ':' pseudo-header */) continue;
    fieldCount++;
    fieldBytes += name.length + value.length;
    if (name.length === 4 && name.toLowerCase() === 'host') {
      host = value;
      hostCount++;
    }
    if (name.includes('_')) underscore = true;
  }
  return { fieldCount, fieldBytes, hostCount, host, underscore };
}

/**
 * Turns an absolute-form request (`GET http://host/path HTTP/1.1`) into
 * origin-form in place: `req.url` becomes the path and query, and Host
 * (added when absent) becomes the target's authority, which
 * RFC 9112 §3.2.2 says replaces any Host field received. Returns false for a
 * target that is neither origin-form nor a valid http(s) absolute-form (the
 * request gets 400); the asterisk-form of `OPTIONS *` and CONNECT's
 * authority-form are refused too.
 */
export function toOriginForm(req: ProxyRequest): boolean {
  const url = req.url;
  if (url.charCodeAt(0) === 47 /* '/' */) return true;
  const match = ABSOLUTE_FORM.exec(url);
  const authority = match?.[1];
  if (match === null || authority === undefined || !HOST_VALUE.test(authority)) return false;
  const rest = match[2] ?? '';
  req.url = rest === '' ? '/' : rest.charCodeAt(0) === 63 /* '?' */ ? `/${rest}` : rest;
  req.replaceHost(authority);
  return true;
}
