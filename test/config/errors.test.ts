import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { errorLines, FILE, MINIMAL, parse, warningLines, yaml } from './helpers.js';

describe('schema errors point at the offending YAML', () => {
  test('an unknown key is reported at the key itself', () => {
    const text = yaml(
      ...MINIMAL,
      '    balancing: fast', // line 10
    );
    assert.deepEqual(errorLines(text), [`${FILE}:10:5: unknown key "balancing"`]);
  });

  test('an unknown top-level key', () => {
    assert.deepEqual(errorLines(yaml(...MINIMAL, 'listenerz: []')), [`${FILE}:10:1: unknown key "listenerz"`]);
  });

  test('a wrong type is reported at the value', () => {
    const text = yaml(
      ...MINIMAL.slice(0, 8),
      '    servers:',
      '      - name: a',
      '        address: 127.0.0.1:3001',
      '        weight: heavy', // line 12
      '        backup: maybe', // line 13
    );
    assert.deepEqual(errorLines(text), [
      `${FILE}:12:17: expected a number, got "heavy"`,
      `${FILE}:13:17: expected true or false, got "maybe"`,
    ]);
  });

  test('a missing key is reported at the mapping that should hold it', () => {
    const text = yaml(
      'listeners:',
      '  - name: web', // line 2: the listener mapping starts here
      '    protocol: http',
      '    routes: [{ pool: web }]',
      ...MINIMAL.slice(6),
    );
    assert.deepEqual(errorLines(text), [`${FILE}:2:5: missing required key "listen"`]);
  });

  test('a key without a value is reported at the key', () => {
    const text = yaml(...MINIMAL.slice(0, 3), '    listen:', ...MINIMAL.slice(4));
    assert.deepEqual(errorLines(text), [`${FILE}:4:5: expected a string, got nothing`]);
  });

  test('an unknown or missing protocol names the choices', () => {
    const text = yaml(
      ...MINIMAL,
      'admin: { listen: 127.0.0.1:9901 }',
      'gslb:',
      '  site: eu',
      '  heartbeat: { listen: 127.0.0.1:7946, secret: s3cret }',
      '  dns:',
      '    listen: 127.0.0.1:8053',
      '    zone: example.com',
      '    records:',
      '      - name: www',
      '        type: MX', // line 19
      '        targets: [{ site: eu, address: 127.0.0.1 }]',
    );
    assert.deepEqual(errorLines(text), [`${FILE}:19:15: invalid value "MX": expected one of A, AAAA, CNAME`]);
    const listeners = yaml(
      'listeners:',
      '  - name: web',
      '    protocol: udp', // line 3
      '    listen: 127.0.0.1:8080',
      '  - name: other', // line 5
      '    listen: 127.0.0.1:8081',
    );
    assert.deepEqual(errorLines(listeners), [
      `${FILE}:3:15: invalid protocol "udp": expected one of http, https, tcp`,
      `${FILE}:5:5: missing required key "protocol" (one of http, https, tcp)`,
    ]);
  });

  test('a bad duration', () => {
    const text = yaml(
      ...MINIMAL,
      '    timeouts: { connect: 5 sec, response: 0 }', // line 10
      '    queue: { timeout: 5 }', // line 11
    );
    assert.deepEqual(errorLines(text), [
      `${FILE}:10:26: invalid duration "5 sec": write a number followed by a unit (ms, s, m, h, d), e.g. "250ms", "2s" or "1m30s"`,
      `${FILE}:10:43: must be longer than 0`,
      `${FILE}:11:23: invalid duration 5: add a unit (ms, s, m, h, d), e.g. "5s"`,
    ]);
  });

  test('bad addresses: no port, port out of range, unbracketed IPv6, port 0 for a server', () => {
    const text = yaml(
      'listeners:',
      '  - name: web',
      '    protocol: http',
      '    listen: localhost', // line 4
      '    routes: [{ pool: web }]',
      'pools:',
      '  - name: web',
      '    servers:',
      '      - { name: a, address: 127.0.0.1:70000 }', // line 9
      '      - { name: b, address: "::1:3000" }', // line 10
      '      - { name: c, address: 127.0.0.1:0 }', // line 11
    );
    assert.deepEqual(errorLines(text), [
      `${FILE}:4:13: invalid address "localhost": expected host:port, e.g. 127.0.0.1:8080 or [::1]:8080`,
      `${FILE}:9:29: invalid address "127.0.0.1:70000": the port must be a number from 0 to 65535`,
      `${FILE}:10:29: invalid address "::1:3000": write IPv6 addresses in brackets, e.g. [::1]:8080`,
      `${FILE}:11:29: invalid address "127.0.0.1:0": the port must be from 1 to 65535`,
    ]);
  });

  test('an invalid pathRegex', () => {
    const text = yaml(
      ...MINIMAL.slice(0, 5),
      '      - match: { pathRegex: "^/(api" }', // line 6
      '        pool: web',
      ...MINIMAL.slice(6),
    );
    assert.deepEqual(errorLines(text), [
      `${FILE}:6:29: invalid pathRegex: Invalid regular expression: /^/(api/: Unterminated group`,
    ]);
  });

  test('a pool with no servers, and weights that are not integers >= 0', () => {
    const pools = yaml(
      ...MINIMAL.slice(0, 7),
      '  - name: web',
      '    servers:',
      '      - { name: a, address: 127.0.0.1:3001, weight: 1.5 }', // line 10
      '      - { name: b, address: 127.0.0.1:3002, weight: -1 }', // line 11
      '  - name: empty', // line 12
      '    servers: []', // line 13
    );
    assert.deepEqual(errorLines(pools), [
      `${FILE}:10:53: expected an integer, got 1.5`,
      `${FILE}:11:53: must be at least 0, got -1`,
      `${FILE}:13:14: a pool needs at least one server or a discovery source`,
    ]);
  });

  test('an https listener without certificates', () => {
    const text = yaml(
      'listeners:',
      '  - name: secure', // line 2
      '    protocol: https',
      '    listen: 127.0.0.1:8443',
      '    routes: [{ pool: web }]',
      '  - name: secure2',
      '    protocol: https',
      '    listen: 127.0.0.1:8444',
      '    routes: [{ pool: web }]',
      '    tls: { certificates: [] }', // line 10
      ...MINIMAL.slice(6),
    );
    assert.deepEqual(errorLines(text), [
      `${FILE}:2:5: missing required key "tls"`,
      `${FILE}:10:26: an https listener needs at least one certificate`,
    ]);
  });

  test('bad names, header names, methods and trusted proxies', () => {
    const text = yaml(
      'listeners:',
      '  - name: web site', // line 2
      '    protocol: http',
      '    listen: 127.0.0.1:8080',
      '    trustedProxies: [10.0.0.0/33, 10.1.2.3]', // line 5
      '    routes:',
      '      - match: { headers: { "bad header": x }, methods: ["GE T"] }', // line 7
      '        pool: web',
      ...MINIMAL.slice(6),
    );
    assert.deepEqual(errorLines(text), [
      `${FILE}:2:11: invalid listener name "web site": use letters, digits, ".", "_" and "-", starting with a letter or digit`,
      `${FILE}:5:22: invalid trusted proxy "10.0.0.0/33": expected an IP address or CIDR block`,
      `${FILE}:7:29: invalid header name "bad header": letters, digits and !#$%&'*+.^_\`|~- only`,
      `${FILE}:7:58: invalid method "GE T": letters, digits and !#$%&'*+.^_\`|~- only`,
    ]);
  });

  test('a cookie secret shorter than 16 characters', () => {
    const text = yaml(...MINIMAL, '    stickySession: { type: cookie, secret: too-short }');
    assert.deepEqual(errorLines(text), [`${FILE}:10:44: the cookie secret must be at least 16 characters long`]);
  });

  test('retry conditions, sizes and statuses', () => {
    const text = yaml(
      ...MINIMAL,
      '    retries: { on: [reset, 500], bufferBytes: 64KB }', // line 10
      '    healthCheck: { type: http, expectStatus: [200, 2xx, "600"] }', // line 11
    );
    assert.deepEqual(errorLines(text), [
      `${FILE}:10:28: invalid retry condition 500: expected one of connect-failure, reset, timeout, 502, 503, 504`,
      `${FILE}:10:47: invalid size "64KB": write a number of bytes, optionally with KiB, MiB or GiB, e.g. "64KiB"`,
      `${FILE}:11:57: invalid status "600": write a code from 100 to 599, a range like "200-399" or a class like "2xx"`,
    ]);
  });
});

describe('semantic errors', () => {
  test('a route or a tcp listener naming an unknown pool', () => {
    const text = yaml(
      ...MINIMAL.slice(0, 5),
      '      - pool: wbe', // line 6
      '  - name: db',
      '    protocol: tcp',
      '    listen: 127.0.0.1:6432',
      '    pool: postgres', // line 10
      ...MINIMAL.slice(6),
    );
    assert.deepEqual(errorLines(text), [
      `${FILE}:6:15: unknown pool "wbe"`,
      `${FILE}:10:11: unknown pool "postgres"`,
    ]);
  });

  test('duplicate listener, pool and server names', () => {
    const text = yaml(
      ...MINIMAL.slice(0, 6),
      '  - name: web', // line 7
      '    protocol: http',
      '    listen: 127.0.0.1:8081',
      '    routes: [{ pool: web }]',
      'pools:',
      '  - name: web',
      '    servers: [{ name: a, address: 127.0.0.1:3001 }, { name: a, address: 127.0.0.1:3002 }]', // line 13
      '  - name: web', // line 14
      '    servers: [{ name: a, address: 127.0.0.1:3001 }]',
    );
    assert.deepEqual(errorLines(text), [
      `${FILE}:7:11: duplicate listener name "web" (first defined at line 2)`,
      `${FILE}:13:61: duplicate server name "a" (first defined at line 13)`,
      `${FILE}:14:11: duplicate pool name "web" (first defined at line 12)`,
    ]);
  });

  test('two listeners on one address, also against admin and gslb addresses', () => {
    const text = yaml(
      ...MINIMAL.slice(0, 6),
      '  - name: other',
      '    protocol: tcp',
      '    listen: 0.0.0.0:8080', // line 9: overlaps 127.0.0.1:8080
      '    pool: web',
      '  - name: any-port',
      '    protocol: tcp',
      '    listen: 127.0.0.1:0', // port 0 never clashes
      '    pool: web',
      ...MINIMAL.slice(6),
      'admin: { listen: "127.0.0.1:0" }',
      'gslb:',
      '  site: eu',
      '  heartbeat: { listen: "127.0.0.1:0", secret: s3cret }',
      '  dns: { listen: "[::1]:8053", zone: example.com }',
      'other:', // line 23: unknown, reported too
    );
    assert.deepEqual(errorLines(text), [
      `${FILE}:9:13: address 0.0.0.0:8080 overlaps 127.0.0.1:8080 used by listener "web" (first defined at line 4)`,
      `${FILE}:23:1: unknown key "other"`,
    ]);
    const admin = yaml(...MINIMAL, 'admin:', '  listen: 127.0.0.1:8080'); // line 11
    assert.deepEqual(errorLines(admin), [
      `${FILE}:11:11: address 127.0.0.1:8080 is already used by listener "web" (first defined at line 4)`,
    ]);
    const gslb = yaml(
      ...MINIMAL,
      'gslb:',
      '  site: eu',
      '  heartbeat: { listen: "[::1]:7946", secret: s3cret }',
      '  dns: { listen: "[::1]:7946", zone: example.com }', // line 13
    );
    assert.deepEqual(errorLines(gslb), [
      `${FILE}:13:18: address [::1]:7946 is already used by gslb.heartbeat (first defined at line 12)`,
    ]);
  });

  test('gslb DNS targets naming unknown sites, and peers repeating sites', () => {
    const text = yaml(
      ...MINIMAL,
      'gslb:',
      '  site: eu-west',
      '  heartbeat: { listen: 127.0.0.1:7946, secret: s3cret }',
      '  peers:',
      '    - { site: us-east, address: 127.0.0.2:7946 }',
      '    - { site: eu-west, address: 127.0.0.3:7946 }', // line 15
      '  dns:',
      '    listen: 127.0.0.1:8053',
      '    zone: example.com',
      '    records:',
      '      - name: www',
      '        targets:',
      '          - { site: eu-west, address: 127.0.0.10 }',
      '          - { site: us-east, address: 127.0.0.20 }',
      '          - { site: ap-south, address: 127.0.0.30 }', // line 24
      '          - { site: us-east, address: "::1" }', // line 25: not IPv4
    );
    assert.deepEqual(errorLines(text), [
      `${FILE}:15:15: peer site "eu-west" is this instance's own site`,
      `${FILE}:24:21: unknown site "ap-south": not gslb.site nor a peer's site`,
      `${FILE}:25:39: an A record needs an IPv4 address, got "::1"`,
    ]);
  });

  test('a DNS record defined twice and a peer site listed twice', () => {
    const text = yaml(
      ...MINIMAL,
      'gslb:',
      '  site: eu',
      '  heartbeat: { listen: 127.0.0.1:7946, secret: s3cret }',
      '  peers:',
      '    - { site: us, address: 127.0.0.2:7946 }',
      '    - { site: us, address: 127.0.0.3:7946 }', // line 15
      '  dns:',
      '    listen: 127.0.0.1:8053',
      '    zone: example.com',
      '    records:',
      '      - { name: www, targets: [{ site: eu, address: 127.0.0.10 }] }',
      '      - { name: WWW, type: A, targets: [{ site: us, address: 127.0.0.20 }] }', // line 21
      '      - { name: www, type: AAAA, targets: [{ site: us, address: "::1" }] }',
    );
    assert.deepEqual(errorLines(text), [
      `${FILE}:15:15: duplicate peer site "us" (first defined at line 14)`,
      `${FILE}:21:17: duplicate DNS record "www A" (first defined at line 20)`,
    ]);
  });

  test('acceptProxyProtocol without trusted proxies', () => {
    const tcp = yaml(
      'listeners:',
      '  - name: db',
      '    protocol: tcp',
      '    listen: 127.0.0.1:6432',
      '    pool: web',
      '    acceptProxyProtocol: true', // line 6
      ...MINIMAL.slice(6),
    );
    assert.deepEqual(errorLines(tcp), [
      `${FILE}:6:26: acceptProxyProtocol needs trustedProxies: the peers allowed to send a PROXY header`,
    ]);
  });
});

describe('warnings', () => {
  test('hashKey on a pool that does not hash, and unused pools', () => {
    const text = yaml(
      ...MINIMAL,
      '    hashKey: header:x-user', // line 10
      '  - name: spare', // line 11
      '    servers: [{ name: s, address: 127.0.0.1:3009 }]',
    );
    assert.deepEqual(warningLines(text), [
      `${FILE}:10:5: hashKey is ignored: only algorithm consistent-hash uses it (this pool uses round-robin)`,
      `${FILE}:11:11: pool "spare" is not used by any listener`,
    ]);
  });
});

describe('TLS files', () => {
  const https = (cert: string, key: string): string =>
    yaml(
      'listeners:',
      '  - name: secure',
      '    protocol: https',
      '    listen: 127.0.0.1:8443',
      '    routes: [{ pool: web }]',
      '    tls:',
      '      certificates:',
      `        - cert: ${cert}`, // line 8
      `          key: ${key}`, // line 9
      ...MINIMAL.slice(6),
    );
  const certs = resolve('test/fixtures/certs');

  test('a missing certificate is reported at its key with the resolved path', () => {
    assert.deepEqual(errorLines(https('../certs/missing.pem', '../certs/localhost-key.pem')), [
      `${FILE}:8:17: certificate file "${certs}/missing.pem" does not exist`,
    ]);
  });

  test('a key that does not belong to the certificate', () => {
    assert.deepEqual(errorLines(https('../certs/localhost.pem', '../certs/other-test-key.pem')), [
      `${FILE}:9:16: key file "${certs}/other-test-key.pem" does not match certificate "${certs}/localhost.pem"`,
    ]);
  });

  test('files that are not PEM of the right kind, or are directories', () => {
    assert.deepEqual(errorLines(https('../certs/localhost-key.pem', '../certs')), [
      `${FILE}:8:17: certificate file "${certs}/localhost-key.pem" does not hold a PEM certificate`,
      `${FILE}:9:16: key file "${certs}" is a directory`,
    ]);
  });
});

describe('YAML problems', () => {
  test('a syntax error is reported with its position', () => {
    const text = yaml('listeners:', '  - name: web', '    routes: [{ pool: web }', 'pools: []');
    assert.deepEqual(errorLines(text), [
      `${FILE}:4:1: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]`,
    ]);
  });

  test('a repeated key', () => {
    const text = yaml(...MINIMAL, 'pools: []'); // line 10
    assert.deepEqual(errorLines(text), [`${FILE}:10:1: invalid YAML: Map keys must be unique`]);
  });

  test('an empty file or a top level that is not a mapping', () => {
    assert.deepEqual(errorLines(''), [`${FILE}:1:1: the config is empty`]);
    assert.deepEqual(errorLines('# only a comment\n'), [`${FILE}:1:1: the config is empty`]);
    assert.deepEqual(errorLines('- a\n- b\n'), [`${FILE}:1:1: expected a mapping, got a list`]);
  });
});

describe('YAML anchors and merge keys', () => {
  test('x- keys hold shared settings; a problem inside them is shown once, where it is written', () => {
    const text = yaml(
      'x-pool-defaults: &defaults',
      '  algorithm: least-connections',
      '  timeouts: { connect: 1 sec }', // line 3
      ...MINIMAL.slice(0, 6),
      'pools:',
      '  - name: web',
      '    <<: *defaults',
      '    servers: [{ name: a, address: 127.0.0.1:3001 }]',
      '  - name: other',
      '    <<: *defaults',
      '    servers: [{ name: a, address: 127.0.0.1:3002 }]',
    );
    assert.deepEqual(errorLines(text), [
      `${FILE}:3:24: invalid duration "1 sec": write a number followed by a unit (ms, s, m, h, d), e.g. "250ms", "2s" or "1m30s"`,
    ]);
    const fixed = parse(text.replace('1 sec', '1s'));
    assert.deepEqual(
      fixed.pools.map((pool) => [pool.algorithm, pool.timeouts.connect]),
      [
        ['least-connections', 1000],
        ['least-connections', 1000],
      ],
    );
  });
});

describe('every problem is reported in one pass', () => {
  test('schema, semantic and environment problems together, in file order', () => {
    const text = yaml(
      'admin:',
      '  listen: 127.0.0.1:9901',
      '  token: ${env:ADMIN_TOKEN}', // line 3
      'listeners:',
      '  - name: web',
      '    protocol: http',
      '    listen: 127.0.0.1:8080',
      '    routes:',
      '      - pool: api', // line 9
      '  - name: web', // line 10
      '    protocol: http',
      '    listen: 127.0.0.1:8081',
      '    idle: 5s', // line 13
      '    routes: [{ pool: web }]',
      'pools:',
      '  - name: web',
      '    algorithm: fastest', // line 17
      '    servers:',
      '      - { name: a, address: localhost }', // line 19
      '    healthCheck: { type: http, interval: 5 sec }', // line 20
    );
    assert.deepEqual(errorLines(text), [
      `${FILE}:3:10: environment variable ADMIN_TOKEN is not set`,
      `${FILE}:9:15: unknown pool "api"`,
      `${FILE}:10:11: duplicate listener name "web" (first defined at line 5)`,
      `${FILE}:13:5: unknown key "idle"`,
      `${FILE}:17:16: invalid value "fastest": expected one of round-robin, weighted-round-robin, least-connections, response-time, power-of-two, random, source-ip, consistent-hash`,
      `${FILE}:19:29: invalid address "localhost": expected host:port, e.g. 127.0.0.1:8080 or [::1]:8080`,
      `${FILE}:20:42: invalid duration "5 sec": write a number followed by a unit (ms, s, m, h, d), e.g. "250ms", "2s" or "1m30s"`,
    ]);
  });
});
