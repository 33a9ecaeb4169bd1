/**
 * Parsers for the textual units a config file writes: durations, addresses,
 * byte sizes, HTTP status ranges and hash keys. Each throws a plain `Error`
 * whose message is ready to show after `FILE:LINE:COL: `; the schema turns it
 * into a positioned issue. All run in time linear in the input length.
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { HostPort } from '../core/server.js';
import type { HashKeyConfig, StatusRange } from './types.js';

/** Largest delay Node timers honour (2^31 - 1 ms, about 24.8 days); longer ones fire at once. */
export const MAX_DURATION_MS = 2_147_483_647;

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
/** One or more `<number><unit>` parts, e.g. `250ms`, `1.5s`, `1h30m`. */
export const DURATION_PATTERN = '^(0|([0-9]+(\\.[0-9]+)?(ms|s|m|h|d))+)$';
const DURATION_PART = /([0-9]+)(?:\.([0-9]+))?(ms|s|m|h|d)/g;
const DURATION_WHOLE = new RegExp(DURATION_PATTERN);

/**
 * Parses a duration such as `250ms`, `2s`, `1m30s`, `1.5h` or `0` into
 * milliseconds. The result is a whole number of milliseconds no larger than
 * {@link MAX_DURATION_MS}.
 */
export function parseDuration(text: string): number {
  if (!DURATION_WHOLE.test(text)) {
    throw new Error(
      `invalid duration ${JSON.stringify(text)}: write a number followed by a unit (ms, s, m, h, d), e.g. "250ms", "2s" or "1m30s"`,
    );
  }
  let total = 0;
  for (const part of text.matchAll(DURATION_PART)) {
    const unit = UNIT_MS[part[3] ?? ''] ?? 1;
    const fraction = part[2] ?? '';
    // Exact integer arithmetic: whole * unit + fraction digits * unit / 10^len.
    const scale = 10 ** fraction.length;
    const fractionMs = (Number(fraction || '0') * unit) / scale;
    if (!Number.isInteger(fractionMs)) {
      throw new Error(`invalid duration ${JSON.stringify(text)}: durations have millisecond precision`);
    }
    total += Number(part[1]) * unit + fractionMs;
  }
  if (total > MAX_DURATION_MS) {
    throw new Error(`invalid duration ${JSON.stringify(text)}: the longest duration allowed is 24d`);
  }
  return total;
}

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/** True for an RFC 1123 host name (letters, digits, hyphens; dot-separated labels). */
export function isHostname(text: string): boolean {
  // All-digit dotted names are mistyped IPv4 addresses, not names.
  return HOSTNAME.test(text) && !/^[0-9.]+$/.test(text);
}

/**
 * Parses `host:port`, with an IPv6 host in brackets (`[::1]:8080` → host
 * `::1`). The host is an IPv4 address, a bracketed IPv6 address or a host
 * name; the port is 0-65535 (0 asks the OS for a free port when listening).
 */
export function parseAddress(text: string): HostPort {
  const bad = (why: string): Error => new Error(`invalid address ${JSON.stringify(text)}: ${why}`);
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || text[close + 1] !== ':') throw bad('expected [IPv6]:port, e.g. [::1]:8080');
    host = text.slice(1, close);
    portText = text.slice(close + 2);
    if (!isIPv6(host)) throw bad(`"${host}" is not an IPv6 address`);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) throw bad('expected host:port, e.g. 127.0.0.1:8080 or [::1]:8080');
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(':')) throw bad('write IPv6 addresses in brackets, e.g. [::1]:8080');
    if (!isIPv4(host) && !isHostname(host)) throw bad(`"${host}" is neither an IPv4 address nor a host name`);
  }
  if (!/^[0-9]{1,5}$/.test(portText) || Number(portText) > 65535) {
    throw bad('the port must be a number from 0 to 65535');
  }
  return { host, port: Number(portText) };
}

const SIZE_UNITS: Readonly<Record<string, number>> = { '': 1, B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };
/** A byte count, optionally with a binary unit: `65536`, `64KiB`, `1MiB`. */
export const SIZE_PATTERN = '^[0-9]+(B|KiB|MiB|GiB)?$';
const SIZE = /^([0-9]+)(B|KiB|MiB|GiB)?$/;

/** Parses a byte size such as `512`, `64KiB`, `1MiB` or `1GiB` into bytes. */
export function parseSize(text: string): number {
  const match = SIZE.exec(text);
  const bytes = match ? Number(match[1]) * (SIZE_UNITS[match[2] ?? ''] ?? 1) : Number.NaN;
  if (!Number.isSafeInteger(bytes)) {
    throw new Error(`invalid size ${JSON.stringify(text)}: write a number of bytes, optionally with KiB, MiB or GiB, e.g. "64KiB"`);
  }
  return bytes;
}

/** A status code (`200`), an inclusive range (`200-399`) or a class (`2xx`). */
export const STATUS_PATTERN = '^([1-5][0-9][0-9](-[1-5][0-9][0-9])?|[1-5]xx)$';
const STATUS = new RegExp(STATUS_PATTERN);

/** Parses one `expectStatus` entry: `200`, `"200-399"` or `"2xx"`. */
export function parseStatusRange(value: string | number): StatusRange {
  const text = String(value);
  if (!STATUS.test(text)) {
    throw new Error(
      `invalid status ${JSON.stringify(value)}: write a code from 100 to 599, a range like "200-399" or a class like "2xx"`,
    );
  }
  if (text.endsWith('xx')) {
    const base = Number(text[0]) * 100;
    return { min: base, max: base + 99 };
  }
  const [low, high] = text.split('-');
  const min = Number(low);
  const max = high === undefined ? min : Number(high);
  if (max < min) throw new Error(`invalid status range ${JSON.stringify(value)}: the end is below the start`);
  return { min, max };
}

/** `source-ip`, `path`, or `header:NAME` / `cookie:NAME` / `query:NAME`. */
export const HASH_KEY_PATTERN = '^(source-ip|path|(header|cookie|query):.+)$';

/** Parses a consistent-hash key. Header names are lower-cased, as HTTP compares them. */
export function parseHashKey(text: string): HashKeyConfig {
  if (text === 'source-ip' || text === 'path') return { kind: text };
  const colon = text.indexOf(':');
  const kind = text.slice(0, colon);
  const name = text.slice(colon + 1);
  if (colon > 0 && name !== '') {
    if (kind === 'header') return { kind, name: name.toLowerCase() };
    if (kind === 'cookie' || kind === 'query') return { kind, name };
  }
  throw new Error(
    `invalid hashKey ${JSON.stringify(text)}: expected source-ip, path, header:NAME, cookie:NAME or query:NAME`,
  );
}
