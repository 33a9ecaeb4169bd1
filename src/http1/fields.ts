/**
 * Lookups in raw field lists (`[name, value, name, value, ...]`), with the
 * joining rules of Node's `IncomingMessage.headers`, for both HTTP versions.
 */
import type { HeaderMap } from '../proxy/messages.js';

/** Every value of `lowerName` in a raw header list, joined as Node joins them. */
export function headerValue(raw: readonly string[], lowerName: string): string | undefined {
  let value: string | undefined;
  const length = lowerName.length;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length !== length || name.toLowerCase() !== lowerName) continue;
    const next = raw[i + 1] as string;
    value = value === undefined ? next : `${value}${lowerName === 'cookie' ? '; ' : ', '}${next}`;
  }
  return value;
}

export function headerMapOf(raw: readonly string[]): HeaderMap {
  const map: Record<string, string | string[]> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    if (name.charCodeAt(0) === 58 /* ':' */) continue;
    const value = raw[i + 1] as string;
    const existing = map[name];
    if (existing === undefined) map[name] = name === 'set-cookie' ? [value] : value;
    else if (Array.isArray(existing)) existing.push(value);
    else map[name] = `${existing}${name === 'cookie' ? '; ' : ', '}${value}`;
  }
  return map;
}
