/**
 * The file source: parsing with positioned errors, and a real file that the
 * test writes, modifies, breaks, fixes, replaces and deletes while it is watched.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatConfigIssue } from '../../src/core/errors.js';
import { FileSource, parseServerFile } from '../../src/discovery/file.js';
import { brief, fileDiscovery, MemoryLogger, Reports, tempDir, waitFor } from './helpers.js';

function errors(text: string): string[] {
  const result = parseServerFile(text, 'servers.yaml');
  assert.ok(!result.ok, 'expected the file to be rejected');
  return result.errors.map(formatConfigIssue);
}

describe('parseServerFile', () => {
  test('a YAML or JSON list, names derived from addresses when absent', () => {
    const yaml = parseServerFile(
      ['- { name: api-1, address: 127.0.0.1:3001, weight: 3 }', '- address: "[::1]:3002"', '  backup: true', ''].join('\n'),
      'servers.yaml',
    );
    assert.ok(yaml.ok);
    assert.deepEqual(brief(yaml.servers), ['0--1_3002@::1:3002/1/backup', 'api-1@127.0.0.1:3001/3']);
    const json = parseServerFile('[{"address": "127.0.0.1:3003"}]', 'servers.json');
    assert.ok(json.ok);
    assert.deepEqual(brief(json.servers), ['127.0.0.1_3003@127.0.0.1:3003/1']);
    const none = parseServerFile('[]\n', 'servers.yaml');
    assert.ok(none.ok);
    assert.deepEqual(none.servers, []);
  });

  test('every problem with its line and column', () => {
    assert.deepEqual(
      errors(
        [
          '- name: api-1', // 1
          '  address: 127.0.0.1:3001', // 2
          '- name: api 2', // 3
          '  address: 127.0.0.1:0', // 4
          '- address: 127.0.0.1:3001', // 5
          '  weight: -1', // 6
          '  port: 3', // 7
          '- name: api-1', // 8
          '  address: 127.0.0.1:3009', // 9
          '',
        ].join('\n'),
      ),
      [
        'servers.yaml:3:9: invalid server name "api 2": use letters, digits, ".", "_" and "-", starting with a letter or digit',
        'servers.yaml:4:12: invalid address "127.0.0.1:0": the port must be from 1 to 65535',
        'servers.yaml:6:11: must be at least 0, got -1',
        'servers.yaml:7:3: unknown key "port"',
      ],
    );
    assert.deepEqual(
      errors(['- name: api-1', '  address: 127.0.0.1:3001', '- name: api-1', '  address: 127.0.0.1:3002', '- address: 127.0.0.1:3001', ''].join('\n')),
      [
        'servers.yaml:3:3: duplicate server name "api-1" (first defined at line 1)',
        'servers.yaml:5:12: duplicate server address 127.0.0.1:3001 (first defined at line 2)',
      ],
    );
    assert.deepEqual(errors(''), ['servers.yaml:1:1: the file is empty: write [] for a list without servers']);
    assert.deepEqual(errors('servers: []\n'), ['servers.yaml:1:1: expected a list of servers, got a mapping']);
    assert.match(errors('- { address: 127.0.0.1:1\n')[0] ?? '', /^servers\.yaml:\d+:\d+: invalid YAML: /);
  });
});

describe('FileSource', () => {
  for (const watch of [true, false]) {
    test(`follows the file through writes, mistakes and renames (${watch ? 'notifications' : 'polling only'})`, async (t) => {
      const dir = tempDir(t);
      const path = join(dir, 'servers.yaml');
      writeFileSync(path, '- { name: a, address: 127.0.0.1:3001 }\n');
      const logger = new MemoryLogger();
      const reports = new Reports();
      const source = new FileSource(fileDiscovery({ path, interval: watch ? '10s' : '100ms' }), { pool: 'api', logger, watch });
      t.after(() => source.stop());
      source.start(reports.listener);
      await source.firstAttempt();
      assert.deepEqual(brief(reports.last ?? []), ['a@127.0.0.1:3001/1']);
      assert.equal(source.status().state, 'ok');

      // Modified in place.
      writeFileSync(path, '- { name: a, address: 127.0.0.1:3001, weight: 2 }\n- { name: b, address: 127.0.0.1:3002 }\n');
      await reports.until(['a@127.0.0.1:3001/2', 'b@127.0.0.1:3002/1'], 5000);

      // Broken: the last good list stays, the problem is logged with its place.
      writeFileSync(path, '- { name: a, address: 127.0.0.1:3001 }\n- { name: b, address: nowhere }\n');
      // (A read between the truncation and the write may first see an empty file: wait for the real content.)
      await waitFor(() => (/servers\.yaml:2:23: invalid address "nowhere"/.test(source.status().lastError ?? '') ? true : undefined), 5000, 'the broken file to be noticed');
      assert.equal(source.status().state, 'failing');
      assert.ok(logger.warnings().some((line) => line.includes('servers.yaml:2:23')));
      assert.equal(source.status().servers, 2);

      // Fixed, by an atomic replace (write elsewhere, rename over).
      writeFileSync(join(dir, 'servers.yaml.tmp'), '- { name: c, address: 127.0.0.1:3003 }\n');
      renameSync(join(dir, 'servers.yaml.tmp'), path);
      await reports.until(['c@127.0.0.1:3003/1'], 5000);
      assert.equal(source.status().state, 'ok');
      assert.equal(source.status().lastError, null);

      // Deleted: kept. Recreated empty (an editor mid-write): kept. Then an explicit empty list.
      rmSync(path);
      await waitFor(() => (/cannot read/.test(source.status().lastError ?? '') ? true : undefined), 5000, 'the missing file to be noticed');
      writeFileSync(path, '');
      await waitFor(() => (/the file is empty/.test(source.status().lastError ?? '') ? true : undefined), 5000, 'the empty file to be noticed');
      assert.deepEqual(brief(reports.last ?? []), ['c@127.0.0.1:3003/1']);
      writeFileSync(path, '[]\n');
      await reports.until([], 5000);
      assert.equal(reports.lists.length, 4, 'one report per usable change');
    });
  }

  test('a file that does not exist yet is picked up when it appears', async (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'later.json');
    const reports = new Reports();
    const source = new FileSource(fileDiscovery({ path, interval: '200ms' }), { pool: 'api' });
    t.after(() => source.stop());
    source.start(reports.listener);
    await source.firstAttempt();
    assert.equal(source.status().state, 'failing');
    assert.equal(reports.lists.length, 0);
    writeFileSync(path, '[{"address": "127.0.0.1:4001"}]');
    await reports.until(['127.0.0.1_4001@127.0.0.1:4001/1'], 5000);
  });
});
