/** Shared helpers of the config tests. */
import assert from 'node:assert/strict';
import { ConfigError, formatConfigIssue } from '../../src/core/errors.js';
import { checkConfigText, parseConfig } from '../../src/config/index.js';
import type { BallastConfig } from '../../src/config/index.js';

/** Joins lines into YAML text, so tests can count line numbers at a glance. */
export function yaml(...lines: string[]): string {
  return `${lines.join('\n')}\n`;
}

/** A config file name inside the fixtures folder, so relative TLS paths find the test certificates. */
export const FILE = 'test/fixtures/config/test.yaml';

/** Every `FILE:LINE:COL: message` line `parseConfig` throws for `text`; fails if it parses. */
export function errorLines(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfig(text, FILE, env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    assert.equal(error.code, 'BALLAST_ERR_CONFIG_INVALID');
    return error.issues.map(formatConfigIssue);
  }
  assert.fail('expected the config to be rejected');
}

/** The warning lines of a config that must be valid. */
export function warningLines(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  const result = checkConfigText(text, FILE, env);
  assert.deepEqual(result.errors.map(formatConfigIssue), []);
  return result.warnings.map(formatConfigIssue);
}

export function parse(text: string, env: NodeJS.ProcessEnv = {}): BallastConfig {
  return parseConfig(text, FILE, env);
}

/** A minimal valid config: one http listener, one pool, one server (lines 1-9). */
export const MINIMAL = [
  'listeners:',
  '  - name: web',
  '    protocol: http',
  '    listen: 127.0.0.1:8080',
  '    routes:',
  '      - pool: web',
  'pools:',
  '  - name: web',
  '    servers: [{ name: a, address: 127.0.0.1:3001 }]',
] as const;
