import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { fromZodIssues, formatPath, zodMessage } from '../../src/config/issues.js';
import { discoveryListSchema, isDnsName, parseResolver } from '../../src/discovery/schema.js';

const BASE = resolve('test/fixtures');

function parse(list: unknown): ReturnType<ReturnType<typeof discoveryListSchema>['parse']> {
  return discoveryListSchema({ baseDir: BASE }).parse(list, { error: zodMessage });
}

/** `path: message` per problem. */
function problems(list: unknown): string[] {
  const result = discoveryListSchema({ baseDir: BASE }).safeParse(list, { error: zodMessage, reportInput: true });
  assert.ok(!result.success, 'expected the list to be rejected');
  return fromZodIssues(result.error.issues).map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
}

describe('discovery schema', () => {
  test('SRV with defaults', () => {
    assert.deepEqual(parse([{ type: 'dns', name: '_API._tcp.Example.com.', recordType: 'SRV' }]), [
      {
        type: 'dns',
        name: '_api._tcp.example.com',
        recordType: 'SRV',
        family: 'ipv4',
        resolvers: [],
        interval: 5000,
        minInterval: 1000,
        timeout: 2000,
        backup: false,
      },
    ]);
  });

  test('A and AAAA with a port, resolvers in every form', () => {
    const [a, aaaa] = parse([
      { type: 'dns', name: 'api.example.com', recordType: 'A', port: 8080, resolver: '127.0.0.1:8053', interval: '30s', minInterval: '2s', timeout: '500ms', weight: 3 },
      { type: 'dns', name: 'api.example.com', recordType: 'AAAA', port: 8443, resolver: ['10.0.0.2', '::1', '[::1]:5353'], backup: true },
    ]);
    assert.deepEqual(a, {
      type: 'dns',
      name: 'api.example.com',
      recordType: 'A',
      port: 8080,
      weight: 3,
      resolvers: [{ host: '127.0.0.1', port: 8053 }],
      interval: 30_000,
      minInterval: 2000,
      timeout: 500,
      backup: false,
    });
    assert.deepEqual(aaaa?.type === 'dns' ? aaaa.resolvers : undefined, [
      { host: '10.0.0.2', port: 53 },
      { host: '::1', port: 53 },
      { host: '::1', port: 5353 },
    ]);
  });

  test('a file path is relative to the config file', () => {
    assert.deepEqual(parse([{ type: 'file', path: 'servers.yaml' }, { type: 'file', path: '/etc/ballast/api.json', interval: '1s' }]), [
      { type: 'file', path: resolve(BASE, 'servers.yaml'), interval: 5000 },
      { type: 'file', path: '/etc/ballast/api.json', interval: 1000 },
    ]);
  });

  test('mistakes are explained where they are', () => {
    assert.deepEqual(problems([{ type: 'dns', name: 'api.example.com' }]), ['[0].recordType: missing required key "recordType" (one of SRV, A, AAAA)']);
    assert.deepEqual(problems([{ type: 'dns', name: 'x.example.com', recordType: 'A' }]), ['[0].port: missing required key "port"']);
    assert.deepEqual(problems([{ type: 'dns', name: '_x._tcp.example.com', recordType: 'SRV', port: 80, weight: 2 }]), [
      '[0].port: SRV records carry their own port: remove "port" (it applies to A and AAAA)',
      '[0].weight: SRV records carry their own weight: remove "weight" (it applies to A and AAAA)',
    ]);
    assert.deepEqual(problems([{ type: 'dns', name: 'x.example.com', recordType: 'A', port: 80, family: 'ipv6' }]), [
      '[0].family: "family" applies to SRV records only: A means IPv4, AAAA means IPv6',
    ]);
    assert.deepEqual(problems([{ type: 'dns', name: 'bad name!', recordType: 'SRV', resolver: 'dns.example.com:53' }]), [
      '[0].name: invalid DNS name "bad name!": expected a name such as _api._tcp.example.com',
      '[0].resolver: invalid resolver "dns.example.com:53": a resolver must be an IP address, not a host name',
    ]);
    assert.deepEqual(problems([{ type: 'dns', name: 'x.example.com', recordType: 'SRV', interval: '1s', minInterval: '2s' }]), [
      '[0].minInterval: minInterval must not be longer than interval',
    ]);
    assert.deepEqual(problems([{ type: 'dns', name: 'x.example.com', recordType: 'SRV', interval: 5 }]), [
      '[0].interval: expected a duration such as "2s", got 5',
    ]);
    assert.deepEqual(problems([{ type: 'consul', name: 'x' }]), ['[0].type: invalid type "consul": expected one of dns, file']);
    assert.deepEqual(problems([{ type: 'file', path: 'a.yaml', watch: true }]), ['[0].watch: unknown key "watch"']);
  });

  test('DNS names and resolver addresses', () => {
    for (const name of ['_api._tcp.example.com', 'example.com.', 'a', 'svc-1.internal']) assert.ok(isDnsName(name), name);
    for (const name of ['', '-a.example.com', 'a..b', '10.0.0.1', 'a b', `${'a'.repeat(64)}.com`]) assert.ok(!isDnsName(name), name);
    assert.deepEqual(parseResolver('[::1]:8053'), { host: '::1', port: 8053 });
    assert.throws(() => parseResolver('127.0.0.1:0'), /port must be from 1 to 65535/);
    assert.throws(() => parseResolver('nonsense!'), /expected an IP address with an optional port/);
    assert.throws(() => parseResolver('dns.example.com'), /a resolver must be an IP address, not a host name/);
  });
});
