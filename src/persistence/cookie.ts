import { createHmac, timingSafeEqual } from 'node:crypto';

/** Separates the parts of a cookie value; never appears in server names (config restricts them). */
const SEPARATOR = '~';
/** MAC length in base64url characters (128 bits). */
const MAC_CHARS = 22;
/** Longer values are not even parsed: a sticky cookie is short. */
const MAX_VALUE_LENGTH = 256;

export interface StickyCookieOptions {
  readonly pool: string;
  readonly cookie: string;
  readonly secret: string;
  readonly ttlMs: number;
}

/**
 * Signed sticky-session cookies: `server~expiry~mac`, where the MAC is
 * HMAC-SHA256 over pool, server and expiry with the configured secret. Any
 * Ballast instance with the same secret and pool honours a cookie another
 * issued; nothing is stored. A tampered, expired, oversized or foreign-pool
 * cookie verifies as undefined and is simply ignored.
 */
export class StickyCookie {
  readonly name: string;
  private readonly pool: string;
  private readonly secret: string;
  private readonly ttlMs: number;
  private readonly attributes: string;

  constructor(options: StickyCookieOptions) {
    this.name = options.cookie;
    this.pool = options.pool;
    this.secret = options.secret;
    this.ttlMs = options.ttlMs;
    const maxAge = Math.max(1, Math.floor(options.ttlMs / 1000));
    this.attributes = `; Path=/; Max-Age=${maxAge}; HttpOnly; SameSite=Lax`;
  }

  /** The server a cookie value names, when its signature holds and it has not expired. */
  verify(value: string | undefined, nowMs: number): { server: string; expiresAt: number } | undefined {
    if (value === undefined || value.length > MAX_VALUE_LENGTH) return undefined;
    const parts = value.split(SEPARATOR);
    if (parts.length !== 3) return undefined;
    const [server, expiryText, mac] = parts as [string, string, string];
    const expiresAt = Number.parseInt(expiryText, 36) * 1000;
    if (!Number.isFinite(expiresAt) || expiresAt <= nowMs || mac.length !== MAC_CHARS) return undefined;
    const expected = Buffer.from(this.mac(server, expiryText));
    const given = Buffer.from(mac);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    return { server, expiresAt };
  }

  /** A fresh `Set-Cookie` header value naming `server`; `secure` (https listeners) adds the Secure attribute. */
  issue(server: string, nowMs: number, secure: boolean): string {
    const expiryText = Math.floor((nowMs + this.ttlMs) / 1000).toString(36);
    const value = `${this.name}=${server}${SEPARATOR}${expiryText}${SEPARATOR}${this.mac(server, expiryText)}${this.attributes}`;
    return secure ? `${value}; Secure` : value;
  }

  /** Whether a valid cookie is past half its lifetime and worth renewing. */
  wantsRenewal(expiresAt: number, nowMs: number): boolean {
    return expiresAt - nowMs < this.ttlMs / 2;
  }

  private mac(server: string, expiryText: string): string {
    return createHmac('sha256', this.secret).update(`${this.pool}\n${server}\n${expiryText}`).digest('base64url').slice(0, MAC_CHARS);
  }
}
