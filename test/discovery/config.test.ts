/** `discovery` inside a config file: normalized values and positioned errors. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { checkConfigText, parseConfig } from '../../src/config/index.js';
import { formatConfigIssue } from '../../src/core/errors.js';

const FILE = 'test/fixtures/config/test.yaml';

test('a pool may have discovery instead of servers; file paths are relative to the config file', () => {
  const config = parseConfig(
    [
      'pools:',
      '  - name: api',
      '    discovery:',
      '      - { type: dns, name: _api._tcp.example.com, recordType: SRV, resolver: 127.0.0.1:8053 }',
      '      - { type: file, path: servers.yaml }',
      '',
    ].join('\n'),
    FILE,
  );
  const pool = config.pools[0];
  assert.deepEqual(pool?.servers, []);
  assert.equal(pool?.discovery.length, 2);
  assert.deepEqual(pool?.discovery[1], { type: 'file', path: resolve('test/fixtures/config/servers.yaml'), interval: 5000 });
});

test('discovery mistakes are reported as FILE:LINE:COL', () => {
  const result = checkConfigText(
    [
      'pools:',
      '  - name: api', // 2
      '    discovery:', // 3
      '      - type: dns', // 4
      '        name: _api._tcp.example.com', // 5
      '        recordType: SRV', // 6
      '        port: 80', // 7
      '        resolver: dns.example.com', // 8
      '      - type: file', // 9
      '  - name: empty', // 10
      '    servers: []', // 11
      '',
    ].join('\n'),
    FILE,
    {},
  );
  assert.deepEqual(result.errors.map(formatConfigIssue), [
    `${FILE}:7:15: SRV records carry their own port: remove "port" (it applies to A and AAAA)`,
    `${FILE}:8:19: invalid resolver "dns.example.com": a resolver must be an IP address, not a host name`,
    `${FILE}:9:9: missing required key "path"`,
    `${FILE}:11:14: a pool needs at least one server or a discovery source`,
  ]);
});
