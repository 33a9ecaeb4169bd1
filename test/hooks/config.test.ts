import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { checkConfigText, parseConfig } from '../../src/config/index.js';
import { ConfigError, formatConfigIssue } from '../../src/core/errors.js';

const FILE = 'test/fixtures/config/hooks.yaml';
const BASE = [
  'listeners:',
  '  - { name: web, protocol: http, listen: 127.0.0.1:8080, routes: [ { pool: web } ] }',
  'pools:',
  '  - { name: web, servers: [ { name: a, address: 127.0.0.1:3001 } ] }',
];

function config(...hookLines: string[]): string {
  return [...BASE, 'hooks:', ...hookLines, ''].join('\n');
}

function errors(text: string): string[] {
  return checkConfigText(text, FILE, { HOOK_TOKEN: 'token-1' }).errors.map(formatConfigIssue);
}

describe('hooks in the config', () => {
  test('defaults, paths relative to the config file, and env substitution', () => {
    const parsed = parseConfig(
      config(
        '  - name: scale-out',
        '    on: [pool-degraded, pool-empty]',
        '    pools: [web]',
        '    exec: { command: ./scripts/add-capacity.sh, args: [--count, 2] }',
        '  - name: pager',
        '    webhook: { url: "http://127.0.0.1:9000/ballast", headers: { Authorization: "Bearer ${env:HOOK_TOKEN}" } }',
        '  - name: logger',
        '    on: [site-down, site-down, site-up]',
        '    queueSize: 10',
        '    exec: { command: logger, cwd: logs, timeout: 2s, retries: 2, retryDelay: 250ms }',
      ),
      FILE,
      { HOOK_TOKEN: 'token-1' },
    );
    const dir = resolve('test/fixtures/config');
    assert.deepEqual(parsed.hooks, [
      {
        name: 'scale-out',
        on: ['pool-degraded', 'pool-empty'],
        pools: ['web'],
        sites: undefined,
        queueSize: 1000,
        action: { type: 'exec', command: resolve(dir, 'scripts/add-capacity.sh'), args: ['--count', '2'], cwd: dir, timeout: 30_000, retries: 0, retryDelay: 1000 },
      },
      {
        name: 'pager',
        on: undefined,
        pools: undefined,
        sites: undefined,
        queueSize: 1000,
        action: { type: 'webhook', url: 'http://127.0.0.1:9000/ballast', headers: { authorization: 'Bearer token-1' }, timeout: 5000, retries: 3, retryDelay: 1000 },
      },
      {
        name: 'logger',
        on: ['site-down', 'site-up'],
        pools: undefined,
        sites: undefined,
        queueSize: 10,
        action: { type: 'exec', command: 'logger', args: [], cwd: resolve(dir, 'logs'), timeout: 2000, retries: 2, retryDelay: 250 },
      },
    ]);
    assert.deepEqual(parseConfig(BASE.join('\n'), FILE, {}).hooks, []);
  });

  test('problems are reported at their place', () => {
    assert.deepEqual(
      errors(
        config(
          '  - name: both',
          '    exec: { command: /bin/true }',
          '    webhook: { url: "http://127.0.0.1:9000/" }',
          '  - name: neither',
          '    on: [server-down]',
          '  - name: bad',
          '    on: [server-gone]',
          '    pools: [api]',
          '    sites: [eu]',
          '    webhook: { url: "ftp://127.0.0.1/x", headers: { content-length: "3" } }',
          '  - name: both',
          '    exec: { command: x, timeout: 0 }',
        ),
      ),
      [
        `${FILE}:8:14: a hook has exactly one of exec or webhook, not both`,
        `${FILE}:9:5: hook "neither" needs exec or webhook`,
        `${FILE}:12:10: unknown event type "server-gone": expected one of server-up, server-down, server-ejected, server-restored, server-draining, server-disabled, server-enabled, server-weight, pool-degraded, pool-empty, pool-restored, site-up, site-down, dns-changed, config-reloaded, config-reload-failed`,
        `${FILE}:13:13: unknown pool "api"`,
        `${FILE}:14:13: unknown site "eu": not gslb.site nor a peer's site`,
        `${FILE}:15:21: invalid webhook url "ftp://127.0.0.1/x": expected an absolute http:// or https:// URL`,
        `${FILE}:15:69: header content-length is set by Ballast and cannot be configured`,
        `${FILE}:16:11: duplicate hook name "both" (first defined at line 6)`,
        `${FILE}:17:34: must be longer than 0`,
      ],
    );
  });

  test('every YAML example of docs/hooks.md is a valid config', () => {
    const doc = readFileSync('docs/hooks.md', 'utf8');
    const blocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((match) => match[1] ?? '');
    assert.ok(blocks.length >= 2);
    for (const block of blocks) {
      const result = checkConfigText(block, 'docs/ballast.yaml', { HOOK_TOKEN: 'token-1', BALLAST_ADMIN_TOKEN: 'admin-token' });
      assert.deepEqual(result.errors.map(formatConfigIssue), [], block);
    }
  });

  test('a config error is a ConfigError', () => {
    assert.throws(() => parseConfig(config('  - name: x'), FILE, {}), ConfigError);
  });
});
