import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { MINIMAL, parse, yaml } from './helpers.js';
import type { BallastConfig, PoolConfig } from '../../src/config/index.js';

const RETRY_DEFAULTS = {
  attempts: 2,
  on: ['connect-failure', 'reset', 'timeout', '502', '503', '504'],
  budgetPercent: 20,
  bufferBytes: 65_536,
};

function pool(config: BallastConfig, index = 0): PoolConfig {
  const found = config.pools[index];
  assert.ok(found, `pool ${index} exists`);
  return found;
}

describe('defaults', () => {
  test('a minimal config gets every default', () => {
    const config = parse(yaml(...MINIMAL));
    assert.deepEqual(config, {
      source: 'test/fixtures/config/test.yaml',
      admin: undefined,
      listeners: [
        {
          name: 'web',
          protocol: 'http',
          listen: { host: '127.0.0.1', port: 8080 },
          trustedProxies: [],
          routes: [
            {
              match: {
                host: undefined,
                path: undefined,
                pathRegex: undefined,
                methods: undefined,
                headers: undefined,
                cookies: undefined,
              },
              pool: 'web',
            },
          ],
          timeouts: { requestHeaders: 10_000, requestBody: 300_000, requestBodyIdle: 30_000, idle: 60_000 },
          maxConnections: 10_000,
          maxConnectionsPerIp: undefined,
          maxBodySize: undefined,
          maxUrlLength: 8192,
          maxHeaderSize: 16_384,
          maxHeaders: 100,
          underscoreHeaders: 'drop',
        },
      ],
      pools: [
        {
          name: 'web',
          algorithm: 'round-robin',
          hashKey: undefined,
          servers: [{ name: 'a', address: { host: '127.0.0.1', port: 3001 }, weight: 1, backup: false }],
          healthCheck: undefined,
          outlierDetection: undefined,
          retries: RETRY_DEFAULTS,
          stickySession: undefined,
          slowStart: 0,
          maxConnections: undefined,
          queue: { size: 1000, timeout: 5000 },
          timeouts: { connect: 2000, response: 30_000, idle: 60_000 },
          panicThreshold: undefined,
          discovery: [],
        },
      ],
      gslb: undefined,
      hooks: [],
      log: { level: 'info', access: 'stdout' },
      drainTimeout: 30_000,
      workers: 1,
      dataDir: '.ballast-data',
    });
  });

  test('health checks of every type', () => {
    const common = { interval: 2000, timeout: 1000, healthyThreshold: 2, unhealthyThreshold: 2, jitter: 0.1, initialState: 'unknown' };
    const check = (line: string): unknown => pool(parse(yaml(...MINIMAL, line))).healthCheck;
    assert.deepEqual(check('    healthCheck: { type: http }'), {
      ...common,
      type: 'http',
      path: '/',
      expectStatus: [{ min: 200, max: 399 }],
      expectBody: undefined,
      host: undefined,
    });
    assert.deepEqual(check('    healthCheck: { type: tcp, interval: 500ms, initialState: healthy }'), {
      ...common,
      interval: 500,
      initialState: 'healthy',
      type: 'tcp',
    });
    assert.deepEqual(check('    healthCheck: { type: postgres, user: app }'), {
      ...common,
      type: 'postgres',
      user: 'app',
      database: 'app',
      password: undefined,
      role: 'any',
    });
    assert.deepEqual(check('    healthCheck: { type: redis, role: master, password: pw }'), {
      ...common,
      type: 'redis',
      password: 'pw',
      role: 'master',
    });
    assert.deepEqual(check('    healthCheck: { type: http, expectStatus: [200, "301-302", 4xx], host: health.local }'), {
      ...common,
      type: 'http',
      path: '/',
      expectStatus: [
        { min: 200, max: 200 },
        { min: 301, max: 302 },
        { min: 400, max: 499 },
      ],
      expectBody: undefined,
      host: 'health.local',
    });
  });

  test('outlier detection, stickiness, consistent hashing and limits', () => {
    const config = parse(
      yaml(
        ...MINIMAL,
        '    algorithm: consistent-hash',
        '    outlierDetection: {}',
        '    stickySession: { type: cookie, secret: 0123456789abcdef }',
        '    retries: { attempts: 0, on: [503, reset, 503], bufferBytes: 1MiB }',
        '    maxConnections: 100',
        '    panicThreshold: 50',
        '    slowStart: 30s',
        '  - name: ip',
        '    algorithm: consistent-hash',
        '    hashKey: header:X-User',
        '    stickySession: { type: source-ip }',
        '    servers: [{ name: a, address: 127.0.0.1:3001, weight: 0, backup: true }]',
      ),
    );
    const first = pool(config);
    assert.deepEqual(first.hashKey, { kind: 'source-ip' });
    assert.deepEqual(first.outlierDetection, { consecutiveFailures: 5, ejectionTime: 10_000, maxEjectedPercent: 50 });
    assert.deepEqual(first.stickySession, { type: 'cookie', cookie: 'BALLAST_ROUTE', secret: '0123456789abcdef', ttl: 3_600_000 });
    assert.deepEqual(first.retries, { attempts: 0, on: ['503', 'reset'], budgetPercent: 20, bufferBytes: 1_048_576 });
    assert.equal(first.maxConnections, 100);
    assert.equal(first.panicThreshold, 50);
    assert.equal(first.slowStart, 30_000);
    const second = pool(config, 1);
    assert.deepEqual(second.hashKey, { kind: 'header', name: 'x-user' });
    assert.deepEqual(second.stickySession, { type: 'source-ip' });
    assert.deepEqual(second.servers[0], { name: 'a', address: { host: '127.0.0.1', port: 3001 }, weight: 0, backup: true });
  });

  test('tcp listeners', () => {
    const config = parse(
      yaml(
        'listeners:',
        '  - name: db',
        '    protocol: tcp',
        '    listen: 127.0.0.1:6432',
        '    pool: web',
        '    proxyProtocol: v1',
        '    acceptProxyProtocol: true',
        '    trustedProxies: [10.0.0.0/8, "::1", 192.168.1.7]',
        ...MINIMAL.slice(6),
      ),
    );
    assert.deepEqual(config.listeners[0], {
      name: 'db',
      protocol: 'tcp',
      listen: { host: '127.0.0.1', port: 6432 },
      trustedProxies: ['10.0.0.0/8', '::1', '192.168.1.7'],
      pool: 'web',
      proxyProtocol: 'v1',
      acceptProxyProtocol: true,
      timeouts: { idle: 3_600_000 },
    });
  });

  test('route matches are normalized: host and header names lower-cased, methods upper-cased', () => {
    const config = parse(
      yaml(
        ...MINIMAL.slice(0, 5),
        '      - match:',
        '          host: "*.Example.COM"',
        '          path: /api/',
        '          pathRegex: ^/v[0-9]+/',
        '          methods: [get, Post]',
        '          headers: { X-Canary: true, X-Version: 2 }',
        '          cookies: { Beta: "1" }',
        '        pool: web',
        ...MINIMAL.slice(6),
      ),
    );
    assert.deepEqual(config.listeners[0]?.protocol === 'tcp' ? undefined : config.listeners[0]?.routes[0]?.match, {
      host: '*.example.com',
      path: '/api/',
      pathRegex: '^/v[0-9]+/',
      methods: ['GET', 'POST'],
      headers: { 'x-canary': 'true', 'x-version': '2' },
      cookies: { Beta: '1' },
    });
  });

  test('https certificates resolve against the config file directory', () => {
    const config = parse(
      yaml(
        'listeners:',
        '  - name: secure',
        '    protocol: https',
        '    listen: 127.0.0.1:8443',
        '    routes: [{ pool: web }]',
        '    tls:',
        '      certificates:',
        '        - { cert: ../certs/localhost.pem, key: ../certs/localhost-key.pem }',
        `        - { cert: ${resolve('test/fixtures/certs/other-test.pem')}, key: ../certs/other-test-key.pem }`,
        ...MINIMAL.slice(6),
      ),
    );
    const listener = config.listeners[0];
    assert.equal(listener?.protocol, 'https');
    assert.deepEqual(listener.tls, {
      certificates: [
        { cert: resolve('test/fixtures/certs/localhost.pem'), key: resolve('test/fixtures/certs/localhost-key.pem') },
        { cert: resolve('test/fixtures/certs/other-test.pem'), key: resolve('test/fixtures/certs/other-test-key.pem') },
      ],
      http2: false,
    });
  });

  test('gslb defaults', () => {
    const config = parse(
      yaml(
        ...MINIMAL,
        'gslb:',
        '  site: eu',
        '  heartbeat: { listen: 127.0.0.1:7946, secret: s3cret }',
        '  dns:',
        '    listen: 127.0.0.1:8053',
        '    zone: Example.COM.',
        '    records:',
        '      - name: WWW',
        '        targets: [{ site: eu, address: 127.0.0.10 }]',
        '      - name: "@"',
        '        type: CNAME',
        '        policy: weighted',
        '        targets: [{ site: eu, address: www.example.com, weight: 3 }]',
        '    dynamicUpdate:',
        '      server: 127.0.0.1:53',
        '      zone: example.com',
        '      tsig: { name: ballast-key, secret: c2VjcmV0 }',
      ),
    );
    assert.deepEqual(config.gslb, {
      site: 'eu',
      witness: false,
      heartbeat: { listen: { host: '127.0.0.1', port: 7946 }, interval: 1000, phiThreshold: 8, secret: 's3cret' },
      peers: [],
      failbackDelay: 30_000,
      failback: 'auto',
      dns: {
        listen: { host: '127.0.0.1', port: 8053 },
        zone: 'example.com',
        ttl: 30_000,
        records: [
          { name: 'www', type: 'A', policy: 'failover', targets: [{ site: 'eu', address: '127.0.0.10', weight: 1 }] },
          { name: '@', type: 'CNAME', policy: 'weighted', targets: [{ site: 'eu', address: 'www.example.com', weight: 3 }] },
        ],
        dynamicUpdate: {
          server: { host: '127.0.0.1', port: 53 },
          zone: 'example.com',
          tsig: { name: 'ballast-key', algorithm: 'hmac-sha256', secret: 'c2VjcmV0' },
        },
      },
    });
  });
});

describe('IPv6 addresses', () => {
  test('listen, server, admin and peer addresses in brackets', () => {
    const config = parse(
      yaml(
        'listeners:',
        '  - name: web',
        '    protocol: http',
        '    listen: "[::1]:8080"',
        '    routes: [{ pool: web }]',
        'pools:',
        '  - name: web',
        '    servers:',
        '      - { name: a, address: "[::1]:3001" }',
        '      - { name: b, address: "[2001:db8::7]:3002" }',
        'admin: { listen: "[::]:0" }',
        'gslb:',
        '  site: eu',
        '  heartbeat: { listen: "[::1]:7946", secret: s3cret }',
        '  peers: [{ site: us, address: "[fd00::2]:7946" }]',
      ),
    );
    assert.deepEqual(config.listeners[0]?.listen, { host: '::1', port: 8080 });
    assert.deepEqual(
      config.pools[0]?.servers.map((server) => server.address),
      [
        { host: '::1', port: 3001 },
        { host: '2001:db8::7', port: 3002 },
      ],
    );
    assert.deepEqual(config.admin?.listen, { host: '::', port: 0 });
    assert.deepEqual(config.gslb?.peers[0]?.address, { host: 'fd00::2', port: 7946 });
  });
});

describe('the result is deeply frozen', () => {
  test('no part of the config can be changed', () => {
    const config = parse(yaml(...MINIMAL, '    healthCheck: { type: http, expectStatus: [200] }'));
    const first = pool(config);
    for (const part of [config, config.listeners, config.listeners[0], first, first.servers, first.servers[0], first.servers[0]?.address, first.retries.on, first.healthCheck]) {
      assert.ok(Object.isFrozen(part));
    }
    assert.throws(() => {
      (first.servers[0] as { weight: number }).weight = 5;
    }, TypeError);
    assert.throws(() => {
      (config.pools as PoolConfig[]).push(first);
    }, TypeError);
  });
});
