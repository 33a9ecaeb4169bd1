import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';

/**
 * The path of `program` (looked up in `candidates`, then PATH, /usr/sbin and
 * /sbin). Fails loudly, naming the Debian package, when it is missing: a test
 * that needs a program never skips.
 */
export function requireProgram(program: string, debianPackage: string, candidates: readonly string[] = []): string {
  const dirs = (process.env['PATH'] ?? '').split(':').filter((dir) => dir !== '').concat(['/usr/sbin', '/sbin']);
  for (const path of [...candidates, ...dirs.map((dir) => join(dir, program))]) {
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  throw new Error(`${program} is not installed: install the Debian package "${debianPackage}" (apt-get install ${debianPackage})`);
}
