import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ActiveHealthChecker } from '../../src/health/checker.js';
import { redisCheck } from '../../src/health/active/redis.js';
import { runCheck } from '../../src/health/active/index.js';
import type { HostPort } from '../../src/core/server.js';
import type { HealthStatus } from '../../src/health/types.js';
import { eventually } from '../helpers/net.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { redisConfig } from './configs.js';

const PASSWORD = 'redis-s3cret';

function at(server: RedisServer): HostPort {
  return { host: server.host, port: server.port };
}

function signal(): AbortSignal {
  return new AbortController().signal;
}

describe('redis check against real Redis servers', () => {
  let open: RedisServer | undefined;
  let master: RedisServer | undefined;
  let replica: RedisServer | undefined;

  before(async () => {
    open = await startRedis();
    master = await startRedis({ password: PASSWORD });
    replica = await startRedis({ password: PASSWORD, replicaOf: at(master) });
  });

  after(async () => {
    await replica?.stop();
    await master?.stop();
    await open?.stop();
  });

  function servers(): { open: RedisServer; master: RedisServer; replica: RedisServer } {
    assert.ok(open && master && replica, 'servers started');
    return { open, master, replica };
  }

  test('PING → PONG without and with AUTH', async () => {
    const s = servers();
    assert.deepEqual(await redisCheck(at(s.open), redisConfig(), signal()), { ok: true, reason: 'PONG' });
    assert.deepEqual(await redisCheck(at(s.master), redisConfig({ password: PASSWORD }), signal()), { ok: true, reason: 'PONG' });
    assert.deepEqual(await runCheck(at(s.replica), redisConfig({ password: PASSWORD }), signal()), { ok: true, reason: 'PONG' });
  });

  test('a wrong or missing password fails with the server’s words', async () => {
    const s = servers();
    const wrong = await redisCheck(at(s.master), redisConfig({ password: 'nope' }), signal());
    assert.equal(wrong.ok, false);
    assert.match(wrong.reason, /^auth failed: WRONGPASS/);
    const missing = await redisCheck(at(s.master), redisConfig(), signal());
    assert.equal(missing.ok, false);
    assert.match(missing.reason, /^auth failed: NOAUTH/);
  });

  test('role master counts only the master', async () => {
    const s = servers();
    const config = redisConfig({ password: PASSWORD, role: 'master' });
    assert.deepEqual(await redisCheck(at(s.master), config, signal()), { ok: true, reason: 'role:master' });
    assert.deepEqual(await redisCheck(at(s.replica), config, signal()), { ok: false, reason: 'role:slave' });
    assert.deepEqual(await redisCheck(at(s.open), { ...config, password: undefined }, signal()), { ok: true, reason: 'role:master' });
  });

  test('a checker with role master follows a promotion (REPLICAOF NO ONE, master stopped)', async () => {
    const s = servers();
    const states = new Map<number, HealthStatus>();
    const reasons = new Map<number, string>();
    const checker = new ActiveHealthChecker<{ address: HostPort }>({
      config: redisConfig({ password: PASSWORD, role: 'master', interval: 200, timeout: 1_000, healthyThreshold: 2, unhealthyThreshold: 2 }),
      onChange: (server, _from, to, reason) => {
        states.set(server.address.port, to);
        reasons.set(server.address.port, reason);
      },
    });
    const m = { address: at(s.master) };
    const r = { address: at(s.replica) };
    checker.add(m);
    checker.add(r);
    checker.start();
    try {
      await eventually(() => states.get(m.address.port) === 'healthy' && states.get(r.address.port) === 'unhealthy', 'master healthy, replica not');
      assert.equal(reasons.get(r.address.port), 'role:slave');
      assert.equal(await s.replica.command('REPLICAOF', 'NO', 'ONE'), 'OK');
      await s.master.stop();
      await eventually(() => states.get(r.address.port) === 'healthy' && states.get(m.address.port) === 'unhealthy', 'promoted replica healthy, old master down');
      assert.equal(reasons.get(r.address.port), 'role:master');
      await eventually(() => checker.lastCheck(m)?.reason === 'refused', 'old master refuses connections');
      assert.equal(await s.replica.role(), 'master');
    } finally {
      await checker.stop();
    }
  });
});
