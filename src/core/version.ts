import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package version, read once from the nearest package.json named "ballast". */
export const VERSION: string = findVersion();

function findVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 6; depth++) {
    try {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (manifest.name === 'ballast' && typeof manifest.version === 'string') return manifest.version;
    } catch {
      // not here; look one folder up
    }
    dir = dirname(dir);
  }
  return '0.0.0';
}
