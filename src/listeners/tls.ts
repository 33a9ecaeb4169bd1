import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { TlsCertificateConfig } from '../config/types.js';

/** TLS versions Ballast accepts from clients. */
export const MIN_TLS_VERSION = 'TLSv1.2';

interface NamedContext {
  readonly context: SecureContext;
  readonly cert: Buffer;
  readonly key: Buffer;
  /** Lower-case DNS names from the certificate (subjectAltName, else the CN); may start with `*.`. */
  readonly names: readonly string[];
}

/**
 * The certificates of one https listener, chosen by SNI: an exact name
 * first, then a wildcard covering one label (`*.example.com` matches
 * `a.example.com`, not `a.b.example.com`), else the first certificate (also
 * for clients that send no SNI). Reading the files again (`reload`) swaps the
 * set atomically; connections already open keep their certificate.
 */
export class CertificateStore {
  private contexts: readonly NamedContext[] = [];

  constructor(certificates: readonly TlsCertificateConfig[]) {
    this.reload(certificates);
  }

  reload(certificates: readonly TlsCertificateConfig[]): void {
    this.contexts = certificates.map((certificate) => {
      const cert = readFileSync(certificate.cert);
      const key = readFileSync(certificate.key);
      return { context: createSecureContext({ cert, key, minVersion: MIN_TLS_VERSION }), cert, key, names: certificateNames(cert) };
    });
  }

  /** Certificate and key for clients without SNI (the server's own options). */
  get defaultOptions(): { cert: Buffer; key: Buffer; minVersion: typeof MIN_TLS_VERSION } {
    const first = this.contexts[0] as NamedContext;
    return { cert: first.cert, key: first.key, minVersion: MIN_TLS_VERSION };
  }

  get defaultContext(): SecureContext {
    return (this.contexts[0] as NamedContext).context;
  }

  /** The context for a server name; cost O(certificates × names). */
  select(serverName: string | undefined): SecureContext {
    if (serverName === undefined || serverName === '') return this.defaultContext;
    const name = serverName.toLowerCase();
    for (const entry of this.contexts) if (entry.names.includes(name)) return entry.context;
    const dot = name.indexOf('.');
    if (dot > 0) {
      const wildcard = `*${name.slice(dot)}`;
      for (const entry of this.contexts) if (entry.names.includes(wildcard)) return entry.context;
    }
    return this.defaultContext;
  }

  /** For `tls.createServer({ SNICallback })`. */
  readonly sniCallback = (serverName: string, callback: (error: Error | null, context?: SecureContext) => void): void => {
    callback(null, this.select(serverName));
  };
}

function certificateNames(pem: Buffer): string[] {
  const certificate = new X509Certificate(pem);
  const names: string[] = [];
  for (const entry of (certificate.subjectAltName ?? '').split(',')) {
    const trimmed = entry.trim();
    if (trimmed.startsWith('DNS:')) names.push(trimmed.slice(4).toLowerCase());
  }
  if (names.length === 0) {
    const cn = /(?:^|\n)CN=([^\n]+)/.exec(certificate.subject);
    if (cn?.[1] !== undefined) names.push(cn[1].trim().toLowerCase());
  }
  return names;
}
