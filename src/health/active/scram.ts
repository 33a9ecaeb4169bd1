/**
 * The client side of SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL uses
 * it: no channel binding (`n,,`), an empty user name in the client-first
 * message (the server takes the user from the startup message).
 */
import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';

export const SCRAM_MECHANISM = 'SCRAM-SHA-256';

export interface ScramClientFirst {
  readonly nonce: string;
  /** The client-first message without the GS2 header. */
  readonly bare: string;
  /** The whole client-first message, sent to the server. */
  readonly message: string;
}

/**
 * Starts an exchange. `nonce` is random unless given (tests pass a fixed one);
 * `user` is empty for PostgreSQL, which ignores it.
 */
export function scramClientFirst(options: { nonce?: string; user?: string } = {}): ScramClientFirst {
  const nonce = options.nonce ?? randomBytes(18).toString('base64');
  const user = (options.user ?? '').replaceAll('=', '=3D').replaceAll(',', '=2C');
  const bare = `n=${user},r=${nonce}`;
  return { nonce, bare, message: `n,,${bare}` };
}

export interface ScramClientFinal {
  /** The client-final message, sent to the server. */
  readonly message: string;
  /** The server signature the server-final message must carry, base64. */
  readonly expectedServerSignature: string;
}

function parseAttributes(message: string): Map<string, string> {
  const attributes = new Map<string, string>();
  for (const part of message.split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) attributes.set(part.slice(0, eq), part.slice(eq + 1));
  }
  return attributes;
}

function hmac(key: Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

/**
 * PostgreSQL prepares passwords with SASLprep and falls back to the raw bytes
 * when that fails; for ASCII passwords both are the identity. NFKC covers the
 * normalization step of SASLprep for the rest.
 */
function preparePassword(password: string): string {
  return /^[\x00-\x7f]*$/.test(password) ? password : password.normalize('NFKC');
}

/**
 * Computes the client-final message from the server-first message.
 * Throws when the server-first message is malformed or its nonce does not
 * extend ours (a sign of a confused or hostile server).
 * Costs `i` iterations of PBKDF2 off the main thread.
 */
export async function scramClientFinal(
  first: ScramClientFirst,
  serverFirst: string,
  password: string,
): Promise<ScramClientFinal> {
  const attributes = parseAttributes(serverFirst);
  const nonce = attributes.get('r');
  const salt = attributes.get('s');
  const iterations = Number(attributes.get('i'));
  if (nonce === undefined || salt === undefined || !Number.isInteger(iterations) || iterations < 1) {
    throw new Error('malformed SCRAM server-first message');
  }
  if (!nonce.startsWith(first.nonce) || nonce.length === first.nonce.length) {
    throw new Error('SCRAM server nonce does not extend the client nonce');
  }
  const salted = await new Promise<Buffer>((resolve, reject) => {
    pbkdf2(preparePassword(password), Buffer.from(salt, 'base64'), iterations, 32, 'sha256', (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
  const clientKey = hmac(salted, 'Client Key');
  const storedKey = createHash('sha256').update(clientKey).digest();
  const withoutProof = `c=biws,r=${nonce}`;
  const authMessage = `${first.bare},${serverFirst},${withoutProof}`;
  const clientSignature = hmac(storedKey, authMessage);
  const proof = Buffer.alloc(clientKey.length);
  for (let i = 0; i < proof.length; i++) proof[i] = (clientKey[i] ?? 0) ^ (clientSignature[i] ?? 0);
  const serverSignature = hmac(hmac(salted, 'Server Key'), authMessage);
  return {
    message: `${withoutProof},p=${proof.toString('base64')}`,
    expectedServerSignature: serverSignature.toString('base64'),
  };
}

/** True when the server-final message proves the server knew the password too. */
export function scramServerFinalValid(serverFinal: string, final: ScramClientFinal): boolean {
  const signature = parseAttributes(serverFinal).get('v');
  if (signature === undefined) return false;
  const got = Buffer.from(signature, 'base64');
  const want = Buffer.from(final.expectedServerSignature, 'base64');
  return got.length === want.length && timingSafeEqual(got, want);
}
