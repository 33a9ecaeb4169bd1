import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  checkConfigFile,
  checkConfigObject,
  configFromObject,
  configJsonSchema,
  describeConfig,
  loadConfigFile,
} from '../../src/config/index.js';
import { BallastError, ConfigError, formatConfigIssue } from '../../src/core/errors.js';

const EXAMPLE = 'test/fixtures/config/interface-example.yaml';
const EXAMPLE_ENV = {
  BALLAST_ADMIN_TOKEN: 'admin-token-for-tests',
  BALLAST_COOKIE_SECRET: 'cookie-secret-of-at-least-16-chars',
  BALLAST_GSLB_SECRET: 'gslb-heartbeat-secret',
  BALLAST_TSIG_SECRET: 'dHNpZy1zZWNyZXQtZm9yLXRlc3Rz',
};

const MINIMAL_OBJECT = {
  listeners: [{ name: 'web', protocol: 'http', listen: '127.0.0.1:8080', routes: [{ pool: 'web' }] }],
  pools: [{ name: 'web', servers: [{ name: 'a', address: '127.0.0.1:3001' }] }],
};

describe('the interface example config', () => {
  test('loads without errors, with its env vars and certificates', async () => {
    const config = await loadConfigFile(EXAMPLE, EXAMPLE_ENV);
    assert.equal(config.source, EXAMPLE);
    assert.deepEqual(
      config.listeners.map((listener) => [listener.name, listener.protocol]),
      [
        ['web', 'http'],
        ['secure', 'https'],
        ['db', 'tcp'],
      ],
    );
    assert.equal(config.admin?.token, EXAMPLE_ENV.BALLAST_ADMIN_TOKEN);
    const secure = config.listeners[1];
    assert.equal(secure?.protocol, 'https');
    assert.deepEqual(secure.tls.certificates[0], {
      cert: resolve('test/fixtures/certs/localhost.pem'),
      key: resolve('test/fixtures/certs/localhost-key.pem'),
    });
    assert.equal(secure.tls.http2, true);
    const web = config.pools[0];
    assert.equal(web?.healthCheck?.type, 'http');
    assert.equal(web.healthCheck.timeout, 500);
    assert.deepEqual(web.stickySession, {
      type: 'cookie',
      cookie: 'BALLAST_ROUTE',
      secret: EXAMPLE_ENV.BALLAST_COOKIE_SECRET,
      ttl: 3_600_000,
    });
    assert.equal(config.gslb?.heartbeat.interval, 250);
    assert.equal(config.gslb?.dns?.dynamicUpdate?.tsig.secret, EXAMPLE_ENV.BALLAST_TSIG_SECRET);
    assert.equal(describeConfig(config), `${EXAMPLE}: OK (3 listeners, 3 pools, 7 servers, gslb site eu-west)`);
  });

  test('validation reports its one warning: hashKey with round-robin', async () => {
    const result = await checkConfigFile(EXAMPLE, EXAMPLE_ENV);
    assert.deepEqual(result.errors, []);
    assert.deepEqual(result.warnings.map(formatConfigIssue), [
      `${EXAMPLE}:40:5: hashKey is ignored: only algorithm consistent-hash uses it (this pool uses round-robin)`,
    ]);
  });

  test('without its env vars, each unset variable is reported', async () => {
    await assert.rejects(loadConfigFile(EXAMPLE, {}), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.deepEqual(error.issues.map(formatConfigIssue), [
        `${EXAMPLE}:6:10: environment variable BALLAST_ADMIN_TOKEN is not set`,
        `${EXAMPLE}:64:15: environment variable BALLAST_COOKIE_SECRET is not set`,
        `${EXAMPLE}:90:13: environment variable BALLAST_GSLB_SECRET is not set`,
        `${EXAMPLE}:107:67: environment variable BALLAST_TSIG_SECRET is not set`,
      ]);
      return true;
    });
  });
});

describe('loadConfigFile', () => {
  test('a file that cannot be read is a CONFIG_READ error', async () => {
    await assert.rejects(loadConfigFile('test/fixtures/config/does-not-exist.yaml', {}), (error: unknown) => {
      assert.ok(error instanceof BallastError);
      assert.ok(!(error instanceof ConfigError));
      assert.equal(error.code, 'BALLAST_ERR_CONFIG_READ');
      assert.match(error.message, /cannot read config file test\/fixtures\/config\/does-not-exist\.yaml: ENOENT/);
      return true;
    });
    await assert.rejects(checkConfigFile('test/fixtures/config', {}), { code: 'BALLAST_ERR_CONFIG_READ' });
  });
});

describe('configFromObject', () => {
  test('takes the YAML structure as an object, source "<inline>" by default', () => {
    const config = configFromObject(MINIMAL_OBJECT, undefined, {});
    assert.equal(config.source, '<inline>');
    assert.deepEqual(config.pools[0]?.servers[0]?.address, { host: '127.0.0.1', port: 3001 });
    assert.ok(Object.isFrozen(config.pools[0]));
  });

  test('problems carry the key path in the message, at line 0 column 0', () => {
    const input = {
      listeners: [
        { name: 'web', protocol: 'http', listen: '127.0.0.1:8080', routes: [{ pool: 'api' }], extra: 1 },
        { name: 'web', protocol: 'tcp', pool: 'web' },
      ],
      pools: [{ name: 'web', servers: [{ name: 'a', address: '127.0.0.1:3001', weight: 'x' }] }],
    };
    assert.throws(
      () => configFromObject(input, 'app-config', {}),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.deepEqual(error.issues.map(formatConfigIssue), [
          'app-config:0:0: listeners[0]: unknown key "extra"',
          'app-config:0:0: listeners[1]: missing required key "listen"',
          'app-config:0:0: pools[0].servers[0].weight: expected a number, got "x"',
          'app-config:0:0: listeners[1].name: duplicate listener name "web" (first defined at listeners[0].name)',
          'app-config:0:0: listeners[0].routes[0].pool: unknown pool "api"',
        ]);
        return true;
      },
    );
  });

  test('checkConfigObject returns warnings too', () => {
    const result = checkConfigObject(
      { ...MINIMAL_OBJECT, pools: [...MINIMAL_OBJECT.pools, { name: 'spare', servers: [{ name: 's', address: '127.0.0.1:1' }] }] },
      undefined,
      {},
    );
    assert.deepEqual(result.errors, []);
    assert.ok(result.config);
    assert.deepEqual(result.warnings.map(formatConfigIssue), ['<inline>:0:0: pools[1].name: pool "spare" is not used by any listener']);
  });

  test('the root must be a mapping', () => {
    assert.throws(() => configFromObject([1, 2], undefined, {}), {
      message: '<inline>:0:0: (root): expected a mapping, got a list',
    });
  });
});

describe('JSON Schema', () => {
  test('the committed schema/ballast.schema.json is up to date', () => {
    const committed: unknown = JSON.parse(readFileSync('schema/ballast.schema.json', 'utf8'));
    assert.deepEqual(committed, JSON.parse(JSON.stringify(configJsonSchema())), 'rerun: npm run build && node scripts/write-schema.mjs');
  });

  test('describes the input: strict objects, discriminated listeners, defaults as written', () => {
    const schema = configJsonSchema() as {
      title: string;
      additionalProperties: boolean;
      properties: Record<string, { properties?: Record<string, { default?: unknown }>; items?: { oneOf?: unknown[] } }>;
    };
    assert.equal(schema.title, 'Ballast configuration');
    assert.equal(schema.additionalProperties, false);
    assert.deepEqual(Object.keys(schema.properties).sort(), ['admin', 'dataDir', 'drainTimeout', 'gslb', 'hooks', 'listeners', 'log', 'pools', 'workers']);
    assert.equal(schema.properties['listeners']?.items?.oneOf?.length, 3);
    assert.equal(schema.properties['drainTimeout'] && (schema.properties['drainTimeout'] as { default?: unknown }).default, '30s');
    assert.ok(Object.isFrozen(schema));
  });
});
