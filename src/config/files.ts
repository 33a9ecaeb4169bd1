/**
 * Checks of the files a config names (TLS certificates and keys): they must
 * exist, be readable, hold PEM data of the right kind, and each key must
 * belong to its certificate. Synchronous: runs once per config load.
 */
import { readFileSync } from 'node:fs';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

function readProblem(path: string, what: string, error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  const quoted = JSON.stringify(path);
  switch (code) {
    case 'ENOENT':
      return `${what} file ${quoted} does not exist`;
    case 'EACCES':
    case 'EPERM':
      return `${what} file ${quoted} is not readable (permission denied)`;
    case 'EISDIR':
      return `${what} file ${quoted} is a directory`;
    default:
      return `cannot read ${what} file ${quoted}: ${error instanceof Error ? error.message : String(error)}`;
  }
}

export interface CertificatePairProblems {
  readonly cert?: string;
  readonly key?: string;
}

/**
 * Validates a certificate chain file and its private key, both absolute
 * paths. Returns the problem found with each file; an empty object when the
 * pair is usable.
 */
export function checkCertificatePair(certPath: string, keyPath: string): CertificatePairProblems {
  let certificate: X509Certificate | undefined;
  let certProblem: string | undefined;
  try {
    const text = readFileSync(certPath);
    try {
      certificate = new X509Certificate(text);
    } catch {
      certProblem = `certificate file ${JSON.stringify(certPath)} does not hold a PEM certificate`;
    }
  } catch (error) {
    certProblem = readProblem(certPath, 'certificate', error);
  }

  let key: KeyObject | undefined;
  let keyProblem: string | undefined;
  try {
    const text = readFileSync(keyPath);
    try {
      key = createPrivateKey(text);
    } catch (error) {
      keyProblem =
        (error as NodeJS.ErrnoException).code === 'ERR_MISSING_PASSPHRASE'
          ? `key file ${JSON.stringify(keyPath)} is encrypted; Ballast needs an unencrypted private key`
          : `key file ${JSON.stringify(keyPath)} does not hold a PEM private key`;
    }
  } catch (error) {
    keyProblem = readProblem(keyPath, 'key', error);
  }

  if (certificate !== undefined && key !== undefined && !certificate.checkPrivateKey(key)) {
    keyProblem = `key file ${JSON.stringify(keyPath)} does not match certificate ${JSON.stringify(certPath)}`;
  }
  return {
    ...(certProblem === undefined ? {} : { cert: certProblem }),
    ...(keyProblem === undefined ? {} : { key: keyProblem }),
  };
}
