import type { IncomingHttpHeaders } from 'node:http';
import type { HashKeyConfig } from '../config/types.js';
import { parseCookieHeader } from '../router/matchers.js';

/** What a hash key may be taken from. `url` keeps its query string. */
export interface HashSource {
  readonly clientAddress: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders | undefined;
}

/** Returns the key for one request, or undefined when the request lacks it (the balancer then falls back). */
export type HashKeyExtractor = (source: HashSource) => string | undefined;

/**
 * Builds the extractor for a pool's `hashKey`, once per pool. The switch is
 * exhaustive over the key kinds. TCP connections have no headers or URL, so
 * only `source-ip` yields a key for them.
 */
export function hashKeyExtractor(config: HashKeyConfig): HashKeyExtractor {
  switch (config.kind) {
    case 'source-ip':
      return (source) => (source.clientAddress === '' ? undefined : source.clientAddress);
    case 'path':
      return (source) => {
        if (source.headers === undefined) return undefined;
        const query = source.url.indexOf('?');
        return query === -1 ? source.url : source.url.slice(0, query);
      };
    case 'header': {
      const name = config.name.toLowerCase();
      return (source) => {
        const value = source.headers?.[name];
        return Array.isArray(value) ? value.join(',') : value;
      };
    }
    case 'cookie': {
      const name = config.name;
      return (source) => (source.headers === undefined ? undefined : parseCookieHeader(source.headers.cookie).get(name));
    }
    case 'query': {
      const name = config.name;
      return (source) => {
        const query = source.url.indexOf('?');
        if (source.headers === undefined || query === -1) return undefined;
        return new URLSearchParams(source.url.slice(query + 1)).get(name) ?? undefined;
      };
    }
    default: {
      const unreachable: never = config;
      throw new Error(`unknown hash key ${JSON.stringify(unreachable)}`);
    }
  }
}
