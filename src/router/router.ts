import type { RouteConfig } from '../config/types.js';
import { compileMatch, type Matcher, type RouteRequest } from './matchers.js';

interface CompiledRoute<P> {
  readonly matches: Matcher;
  readonly target: P;
}

/**
 * An ordered rule table: the first route whose conditions all hold wins.
 * `resolve` costs O(routes × conditions) and allocates nothing unless a
 * cookie condition must parse the Cookie header.
 */
export class Router<P> {
  private readonly routes: readonly CompiledRoute<P>[];
  /** Whether any rule looks at header fields or cookies (the listener builds the header map only then). */
  readonly readsHeaders: boolean;

  /** `lookup` turns a route's pool name into the runtime pool it forwards to. */
  constructor(routes: readonly RouteConfig[], lookup: (poolName: string) => P) {
    this.routes = routes.map((route) => ({ matches: compileMatch(route.match), target: lookup(route.pool) }));
    this.readsHeaders = routes.some((route) => route.match.headers !== undefined || route.match.cookies !== undefined);
  }

  resolve(request: RouteRequest): P | undefined {
    for (const route of this.routes) {
      if (route.matches(request)) return route.target;
    }
    return undefined;
  }
}

/** Lower-cases a Host header value and removes its port (IPv6 literals keep their brackets). */
export function normalizeHost(host: string | undefined): string {
  if (host === undefined || host === '') return '';
  let end = host.length;
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    if (close !== -1) end = close + 1;
  } else {
    const colon = host.lastIndexOf(':');
    if (colon !== -1) end = colon;
  }
  return host.slice(0, end).toLowerCase();
}

export type { RouteRequest } from './matchers.js';
