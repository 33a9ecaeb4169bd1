import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ActiveHealthChecker } from '../../src/health/checker.js';
import { postgresCheck } from '../../src/health/active/postgres.js';
import { runCheck } from '../../src/health/active/index.js';
import type { HostPort } from '../../src/core/server.js';
import type { HealthStatus } from '../../src/health/types.js';
import { eventually } from '../helpers/net.js';
import { startPostgres, type PostgresServer } from '../helpers/postgres.js';
import { postgresConfig } from './configs.js';

const users = [
  { name: 'alice', password: 'md5-s3cret', method: 'md5' },
  { name: 'bob', password: "scram 'pässword'", method: 'scram-sha-256' },
  { name: 'carol', password: 'plain-text', method: 'password' },
] as const;

function at(server: PostgresServer): HostPort {
  return { host: server.host, port: server.port };
}

function signal(): AbortSignal {
  return new AbortController().signal;
}

describe('postgres check against real PostgreSQL servers', () => {
  let primary: PostgresServer | undefined;
  let standby: PostgresServer | undefined;

  before(async () => {
    primary = await startPostgres({ users });
    standby = await startPostgres({ standbyOf: primary });
  });

  after(async () => {
    await standby?.stop();
    await primary?.stop();
  });

  function servers(): { primary: PostgresServer; standby: PostgresServer } {
    assert.ok(primary && standby, 'servers started');
    return { primary, standby };
  }

  test('role any: both log in; the reason tells primary from standby', async () => {
    const s = servers();
    assert.deepEqual(await postgresCheck(at(s.primary), postgresConfig(), signal()), { ok: true, reason: 'primary' });
    assert.deepEqual(await postgresCheck(at(s.standby), postgresConfig(), signal()), { ok: true, reason: 'standby' });
  });

  test('role primary counts only the server that is not in recovery', async () => {
    const s = servers();
    const config = postgresConfig({ role: 'primary' });
    assert.deepEqual(await runCheck(at(s.primary), config, signal()), { ok: true, reason: 'primary' });
    assert.deepEqual(await runCheck(at(s.standby), config, signal()), { ok: false, reason: 'in recovery' });
  });

  for (const user of users) {
    test(`${user.method} login works with the right password and fails clearly with a wrong one`, async () => {
      const s = servers();
      const good = postgresConfig({ user: user.name, password: user.password, role: 'primary' });
      assert.deepEqual(await postgresCheck(at(s.primary), good, signal()), { ok: true, reason: 'primary' });
      assert.deepEqual(await postgresCheck(at(s.standby), { ...good, role: 'any' }, signal()), { ok: true, reason: 'standby' });
      const bad = await postgresCheck(at(s.primary), { ...good, password: 'wrong' }, signal());
      assert.equal(bad.ok, false);
      assert.match(bad.reason, /^auth failed: password authentication failed for user "/);
      const missing = await postgresCheck(at(s.primary), { ...good, password: undefined }, signal());
      assert.deepEqual(missing, { ok: false, reason: 'auth failed: password required' });
    });
  }

  test('a missing database and an aborted check give their reasons', async () => {
    const s = servers();
    const noDb = await postgresCheck(at(s.primary), postgresConfig({ database: 'nope' }), signal());
    assert.deepEqual(noDb, { ok: false, reason: 'error 3D000: database "nope" does not exist' });
    const controller = new AbortController();
    controller.abort();
    assert.deepEqual(await postgresCheck(at(s.primary), postgresConfig(), controller.signal), { ok: false, reason: 'aborted' });
  });

  test('a checker with role primary follows a promotion', async () => {
    const s = servers();
    const states = new Map<number, HealthStatus>();
    const reasons = new Map<number, string>();
    const checker = new ActiveHealthChecker<{ address: HostPort }>({
      config: postgresConfig({ role: 'primary', user: 'bob', password: users[1].password, interval: 200, timeout: 1_000, unhealthyThreshold: 1, healthyThreshold: 1 }),
      onChange: (server, _from, to, reason) => {
        states.set(server.address.port, to);
        reasons.set(server.address.port, reason);
      },
    });
    const p = { address: at(s.primary) };
    const sb = { address: at(s.standby) };
    checker.add(p);
    checker.add(sb);
    checker.start();
    try {
      await eventually(() => states.get(p.address.port) === 'healthy' && states.get(sb.address.port) === 'unhealthy', 'primary healthy, standby not');
      assert.equal(reasons.get(sb.address.port), 'in recovery');
      await s.primary.stop();
      await s.standby.promote();
      await eventually(() => states.get(sb.address.port) === 'healthy' && states.get(p.address.port) === 'unhealthy', 'promoted standby healthy, old primary down', 20_000);
      assert.equal(reasons.get(sb.address.port), 'primary');
      // The check that saw the primary go may have caught it shutting down; once gone, it refuses.
      await eventually(() => checker.lastCheck(p)?.reason === 'refused', 'old primary refuses connections');
    } finally {
      await checker.stop();
    }
  });
});
