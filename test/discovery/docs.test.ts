/**
 * The examples in docs/discovery.md are checked here: every `discovery`
 * list against the discovery schema, the rest of each config against the
 * config schema, every server file against the file parser, and the error
 * shown in the log example against what the parser prints.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { checkConfigObject } from '../../src/config/index.js';
import { fromZodIssues, formatPath, zodMessage } from '../../src/config/issues.js';
import { formatConfigIssue } from '../../src/core/errors.js';
import { DnsSource } from '../../src/discovery/dns.js';
import { parseServerFile } from '../../src/discovery/file.js';
import { discoveryListSchema } from '../../src/discovery/schema.js';
import { dnsDiscovery } from './helpers.js';

const DOC = readFileSync('docs/discovery.md', 'utf8');

function blocks(language: string): string[] {
  const found: string[] = [];
  for (const match of DOC.matchAll(new RegExp('```' + language + '\\n([\\s\\S]*?)```', 'g'))) found.push(match[1] ?? '');
  return found;
}

function isServerFile(block: string): boolean {
  return block.startsWith('# api-servers.yaml\n');
}

test('every config example is valid, discovery included', () => {
  const configs = blocks('yaml').filter((block) => !isServerFile(block));
  assert.ok(configs.length >= 5);
  for (const block of configs) {
    const raw = parseYaml(block) as { pools?: Record<string, unknown>[] };
    assert.ok(Array.isArray(raw.pools), block);
    for (const pool of raw.pools) {
      assert.ok(Array.isArray(pool['discovery']), `pool ${String(pool['name'])} has discovery`);
      const result = discoveryListSchema({ baseDir: '.' }).safeParse(pool['discovery'], { error: zodMessage, reportInput: true });
      const problems = result.success ? [] : fromZodIssues(result.error.issues).map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
      assert.deepEqual(problems, [], block);
      // The rest of the pool is an ordinary pool (static servers are optional with discovery).
      delete pool['discovery'];
      pool['servers'] ??= [{ name: 'placeholder', address: '127.0.0.1:1' }];
    }
    const checked = checkConfigObject(raw, 'snippet.yaml', {});
    assert.deepEqual(checked.errors.map(formatConfigIssue), [], block);
  }
});

test('every server file example is valid', () => {
  const files = [...blocks('yaml').filter(isServerFile), ...blocks('json').filter((block) => block.startsWith('['))];
  assert.equal(files.length, 2);
  for (const text of files) {
    const result = parseServerFile(text, 'servers');
    assert.ok(result.ok, `${text}: ${result.ok ? '' : result.errors.map(formatConfigIssue).join('\n')}`);
    assert.ok(result.servers.length > 0);
  }
});

test('the file error in the log example is the one Ballast prints', () => {
  const file = '/etc/ballast/api-servers.yaml';
  const result = parseServerFile('- { name: api-1, address: 10.0.1.11:8080 }\n- { name: api-2, address: 10.0.1.12:8080 }\n- address: 10.0.1.13\n', file);
  assert.ok(!result.ok);
  const line = JSON.stringify(result.errors.map(formatConfigIssue));
  assert.ok(DOC.includes(`"errors":${line}`), `the doc shows ${line}`);
});

test('the status example has the fields a source reports', async () => {
  const example = blocks('json').find((block) => block.startsWith('{'));
  assert.ok(example !== undefined);
  const shown = JSON.parse(example) as { discovery: { sources: Record<string, unknown>[]; conflicts: unknown[] } };
  const source = new DnsSource(dnsDiscovery({ name: '_api._tcp.example.com', recordType: 'SRV', resolver: '127.0.0.1:53' }), { pool: 'api' });
  await source.stop();
  assert.deepEqual(Object.keys(shown.discovery.sources[0] ?? {}).sort(), Object.keys(source.status()).sort());
  assert.deepEqual(shown.discovery.conflicts, []);
});
