import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { configFromObject } from '../../src/config/index.js';
import { ConfigError, formatConfigIssue } from '../../src/core/errors.js';
import { errorLines, FILE, MINIMAL, parse, yaml } from './helpers.js';

const SECRET = 'a-cookie-secret-of-32-characters';

describe('${env:NAME} substitution in YAML', () => {
  test('a set variable replaces the reference', () => {
    const config = parse(yaml(...MINIMAL, 'admin:', '  listen: 127.0.0.1:9901', '  token: ${env:TOKEN}'), {
      TOKEN: 'tok-123',
    });
    assert.equal(config.admin?.token, 'tok-123');
  });

  test('several references inside one string, and text around them', () => {
    const config = parse(yaml(...MINIMAL, 'dataDir: ${env:BASE}/state-${env:SITE}-${env:SITE}'), {
      BASE: '/var/lib/ballast',
      SITE: 'eu',
    });
    assert.equal(config.dataDir, '/var/lib/ballast/state-eu-eu');
  });

  test('inside a flow map (quoted there, as YAML requires)', () => {
    const config = parse(yaml(...MINIMAL, '    stickySession: { type: cookie, secret: "${env:COOKIE_SECRET}" }'), {
      COOKIE_SECRET: SECRET,
    });
    const sticky = config.pools[0]?.stickySession;
    assert.equal(sticky?.type === 'cookie' ? sticky.secret : undefined, SECRET);
  });

  test('the substituted text is validated like text written in the file', () => {
    const text = yaml(...MINIMAL.slice(0, 3), '    listen: ${env:LISTEN}', ...MINIMAL.slice(4));
    assert.deepEqual(parse(text, { LISTEN: '[::1]:8088' }).listeners[0]?.listen, { host: '::1', port: 8088 });
    assert.deepEqual(errorLines(text, { LISTEN: 'localhost' }), [
      `${FILE}:4:13: invalid address "localhost": expected host:port, e.g. 127.0.0.1:8080 or [::1]:8080`,
    ]);
  });

  test('values stay strings: they are not parsed as YAML again', () => {
    const config = parse(yaml(...MINIMAL, 'admin: { listen: 127.0.0.1:9901, token: "${env:TOKEN}" }'), {
      TOKEN: '[1, 2]',
    });
    assert.equal(config.admin?.token, '[1, 2]');
    const numeric = parse(yaml(...MINIMAL, 'admin: { listen: 127.0.0.1:9901, token: "${env:TOKEN}" }'), {
      TOKEN: '123456',
    });
    assert.equal(numeric.admin?.token, '123456');
  });

  test('an unset variable is an error naming it, at the reference', () => {
    const text = yaml(
      ...MINIMAL,
      '    stickySession: { type: cookie, secret: "${env:COOKIE_SECRET}" }', // line 10
      'admin:',
      '  listen: 127.0.0.1:9901',
      '  token: Bearer-${env:TOKEN_A}-${env:TOKEN_B}', // line 13
    );
    assert.deepEqual(errorLines(text, { TOKEN_A: 'set' }), [
      `${FILE}:10:45: environment variable COOKIE_SECRET is not set`,
      `${FILE}:13:32: environment variable TOKEN_B is not set`,
    ]);
  });

  test('a variable set to the empty string substitutes as empty', () => {
    const text = yaml(...MINIMAL, 'dataDir: data${env:SUFFIX}');
    assert.equal(parse(text, { SUFFIX: '' }).dataDir, 'data');
    assert.deepEqual(errorLines(yaml(...MINIMAL, 'admin: { listen: 127.0.0.1:9901, token: "${env:T}" }'), { T: '' }), [
      `${FILE}:10:41: must not be empty`,
    ]);
  });

  test('a malformed variable name is an error', () => {
    assert.deepEqual(errorLines(yaml(...MINIMAL, 'dataDir: ${env:1-bad}')), [
      `${FILE}:10:10: invalid environment variable name "1-bad" in \${env:1-bad}`,
    ]);
  });

  test('the process environment is the default', () => {
    const name = 'BALLAST_CONFIG_TEST_DATA_DIR';
    process.env[name] = '/srv/ballast';
    try {
      const config = configFromObject({ dataDir: `\${env:${name}}` });
      assert.equal(config.dataDir, '/srv/ballast');
    } finally {
      delete process.env[name];
    }
  });
});

describe('${env:NAME} substitution in programmatic configs', () => {
  test('strings anywhere in the object are substituted; the input is not modified', () => {
    const input = { admin: { listen: '127.0.0.1:9901', token: '${env:TOKEN}' } };
    const config = configFromObject(input, undefined, { TOKEN: 'secret' });
    assert.equal(config.admin?.token, 'secret');
    assert.equal(input.admin.token, '${env:TOKEN}');
  });

  test('an unset variable is reported with the key path', () => {
    try {
      configFromObject({ admin: { listen: '127.0.0.1:9901', token: '${env:TOKEN}' } }, 'app', {});
      assert.fail('expected a ConfigError');
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      assert.deepEqual(error.issues.map(formatConfigIssue), ['app:0:0: admin.token: environment variable TOKEN is not set']);
    }
  });
});
