import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerConfig } from '../../src/config/types.js';
import { addressKey, canonicalHost, diffServers, mergeServers, sameServerList, serverNameFor } from '../../src/discovery/diff.js';

function server(name: string, address: string, weight = 1, backup = false): ServerConfig {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[|\]$/g, '');
  return { name, address: { host, port: Number(address.slice(colon + 1)) }, weight, backup };
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

describe('serverNameFor', () => {
  test('derives valid, readable names from addresses', () => {
    const cases: [string, number, string][] = [
      ['10.0.0.1', 8080, '10.0.0.1_8080'],
      ['::1', 443, '0--1_443'],
      ['2001:DB8:0:0::1', 80, '2001-db8--1_80'],
      ['Backend.Example.COM', 9000, 'backend.example.com_9000'],
    ];
    for (const [host, port, expected] of cases) {
      const name = serverNameFor({ host, port });
      assert.equal(name, expected);
      assert.match(name, NAME);
    }
  });

  test('one address, one name; different addresses, different names', () => {
    assert.equal(serverNameFor({ host: '0:0:0:0:0:0:0:1', port: 80 }), serverNameFor({ host: '::1', port: 80 }));
    const names = new Set<string>();
    const hosts = ['::1', '::1:0', '1::', '1::1', '10.0.0.1', '10.0.0.10', 'fe80::1', 'fe80::1:0'];
    for (const host of hosts) for (const port of [1, 10, 80, 800]) names.add(serverNameFor({ host, port }));
    assert.equal(names.size, hosts.length * 4);
  });

  test('canonical hosts and address keys', () => {
    assert.equal(canonicalHost('2001:DB8::0:1'), '2001:db8::1');
    assert.equal(canonicalHost('127.0.0.1'), '127.0.0.1');
    assert.equal(addressKey({ host: '::1', port: 53 }), '[::1]:53');
    assert.equal(addressKey({ host: '127.0.0.1', port: 53 }), '127.0.0.1:53');
  });
});

describe('diffServers', () => {
  test('added, removed and changed, by name', () => {
    const current = [server('a', '127.0.0.1:1'), server('b', '127.0.0.1:2'), server('c', '127.0.0.1:3'), server('d', '127.0.0.1:4')];
    const next = [
      server('a', '127.0.0.1:1'),
      server('b', '127.0.0.1:2', 5),
      server('c', '127.0.0.1:33'),
      server('d', '127.0.0.1:4', 1, true),
      server('e', '127.0.0.1:5'),
    ];
    const diff = diffServers(current, next);
    assert.deepEqual(diff.added.map((s) => s.name), ['e']);
    assert.deepEqual(diff.removed, []);
    assert.deepEqual(diff.changed.map((c) => [c.before.name, c.after.weight, c.after.address.port, c.after.backup]), [
      ['b', 5, 2, false],
      ['c', 1, 33, false],
      ['d', 1, 4, true],
    ]);
    const back = diffServers(next, current.slice(0, 2));
    assert.deepEqual(back.removed.map((s) => s.name), ['c', 'd', 'e']);
    assert.deepEqual(back.changed.map((c) => c.after.name), ['b']);
  });

  test('equal lists in another order differ in nothing', () => {
    const a = [server('a', '[::1]:1'), server('b', '127.0.0.1:2')];
    const b = [server('b', '127.0.0.1:2'), server('a', '[0::1]:1')];
    assert.deepEqual(diffServers(a, b), { added: [], removed: [], changed: [] });
    assert.ok(sameServerList(a, b));
    assert.ok(!sameServerList(a, b.slice(1)));
    assert.ok(!sameServerList(a, [b[0] as ServerConfig, server('a', '[::1]:1', 2)]));
  });
});

describe('mergeServers', () => {
  test('static servers first, then each source; the first entry for an address wins', () => {
    const statics = [server('static-1', '127.0.0.1:3001')];
    const dns = [server('127.0.0.1_3001', '127.0.0.1:3001', 7), server('127.0.0.1_3002', '127.0.0.1:3002')];
    const file = [server('static-1', '127.0.0.1:4000'), server('f', '127.0.0.1:3002'), server('g', '127.0.0.1:3003')];
    const { servers, conflicts } = mergeServers(statics, [dns, file]);
    assert.deepEqual(servers.map((s) => s.name), ['static-1', '127.0.0.1_3002', 'g']);
    assert.deepEqual(
      conflicts.map((c) => [c.server.name, c.reason, c.kept.name]),
      [
        ['127.0.0.1_3001', 'same-address', 'static-1'],
        ['static-1', 'same-name', 'static-1'],
        ['f', 'same-address', '127.0.0.1_3002'],
      ],
    );
  });

  test('nothing discovered leaves the static list', () => {
    const statics = [server('a', '127.0.0.1:1')];
    assert.deepEqual(mergeServers(statics, [[], []]), { servers: statics, conflicts: [] });
  });
});
