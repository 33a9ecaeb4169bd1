import type { RouteMatchConfig } from '../config/types.js';

/**
 * What a route rule may look at. Built once per request by the listener; the
 * host is already lower-cased with any port removed, the path has no query.
 */
export interface RouteRequest {
  readonly method: string;
  readonly host: string;
  readonly path: string;
  /** Lower-case header name → value, as Node's `IncomingMessage.headers`. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

export type Matcher = (request: RouteRequest) => boolean;

/**
 * Compiles one route's `match` block into a single predicate. Regular
 * expressions and lookup sets are built here, once, never per request.
 * An empty match block yields a predicate that accepts everything.
 */
export function compileMatch(match: RouteMatchConfig): Matcher {
  const tests: Matcher[] = [];
  if (match.host !== undefined) tests.push(hostMatcher(match.host));
  if (match.path !== undefined) {
    const prefix = match.path;
    tests.push((request) => request.path.startsWith(prefix));
  }
  if (match.pathRegex !== undefined) {
    const regex = new RegExp(match.pathRegex);
    tests.push((request) => regex.test(request.path));
  }
  if (match.methods !== undefined) {
    const methods = new Set(match.methods.map((method) => method.toUpperCase()));
    tests.push((request) => methods.has(request.method));
  }
  if (match.headers !== undefined) {
    for (const [name, value] of Object.entries(match.headers)) {
      const key = name.toLowerCase();
      tests.push((request) => headerEquals(request.headers[key], value));
    }
  }
  if (match.cookies !== undefined) {
    const wanted = Object.entries(match.cookies);
    tests.push((request) => {
      const cookies = parseCookieHeader(request.headers.cookie);
      return wanted.every(([name, value]) => cookies.get(name) === value);
    });
  }
  if (tests.length === 0) return () => true;
  if (tests.length === 1) return tests[0] as Matcher;
  return (request) => tests.every((test) => test(request));
}

/** `example.com` matches only itself; `*.example.com` matches any name below it, not the apex. */
function hostMatcher(pattern: string): Matcher {
  const lower = pattern.toLowerCase();
  if (lower.startsWith('*.')) {
    const suffix = lower.slice(1);
    return (request) => request.host.length > suffix.length && request.host.endsWith(suffix);
  }
  return (request) => request.host === lower;
}

function headerEquals(actual: string | string[] | undefined, expected: string): boolean {
  if (actual === undefined) return false;
  if (typeof actual === 'string') return actual === expected;
  return actual.includes(expected);
}

/** Parses a Cookie header (RFC 6265 §4.2) into name → first value. */
export function parseCookieHeader(header: string | string[] | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  if (header === undefined) return cookies;
  const text = typeof header === 'string' ? header : header.join('; ');
  for (const part of text.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    if (name === '' || cookies.has(name)) continue;
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    cookies.set(name, value);
  }
  return cookies;
}
