/**
 * Acceptance: a backend whose health endpoint starts failing is marked down
 * within unhealthyThreshold × interval × (1 + jitter) + timeout, whether it
 * answers with an error status or stops answering; and it comes back after
 * healthyThreshold good checks. Real servers, real sockets, real timers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ActiveHealthChecker } from '../../src/health/checker.js';
import type { HostPort } from '../../src/core/server.js';
import type { HealthStatus } from '../../src/health/types.js';
import { startBackend, type TestBackend } from '../helpers/http-backend.js';
import { eventually } from '../helpers/net.js';
import { httpConfig } from './configs.js';

type Mode = 'ok' | 'fail' | 'hang';

interface Server {
  readonly name: string;
  readonly address: HostPort;
}

/** Scheduling slack for a loaded CI machine; the bound itself is computed from the config. */
const SLACK_MS = 1_500;

test('a failing health endpoint is marked down within fall × interval × (1 + jitter) + timeout', async (t) => {
  const config = httpConfig({ path: '/healthz', interval: 400, timeout: 250, healthyThreshold: 2, unhealthyThreshold: 3, jitter: 0.1 });
  const bound = config.unhealthyThreshold * config.interval * (1 + config.jitter) + config.timeout;

  const modes = new Map<string, Mode>();
  const servers: Server[] = [];
  const backends: TestBackend[] = [];
  t.after(async () => {
    for (const backend of backends) await backend.close();
  });
  for (const name of ['erroring', 'hanging', 'steady']) {
    modes.set(name, 'ok');
    const backend = await startBackend(name, (req, res) => {
      req.resume();
      const mode = modes.get(name);
      if (mode === 'hang') return; // keeps the request open; the check's timeout must end it
      res.writeHead(mode === 'ok' ? 200 : 503, { 'content-type': 'text/plain' });
      res.end(mode);
    });
    backends.push(backend);
    servers.push({ name, address: { host: '127.0.0.1', port: backend.port } });
  }
  const steady = servers[2]!;

  const state = new Map<string, HealthStatus>();
  const changes: { server: string; to: HealthStatus; reason: string; at: number }[] = [];
  const checker = new ActiveHealthChecker<Server>({
    config,
    onChange: (server, _from, to, reason) => {
      state.set(server.name, to);
      changes.push({ server: server.name, to, reason, at: performance.now() });
    },
  });
  t.after(() => checker.stop());
  for (const server of servers) checker.add(server);
  checker.start();

  await eventually(() => servers.every((s) => state.get(s.name) === 'healthy'), 'all servers healthy', 5_000);

  const failedAt = performance.now();
  modes.set('erroring', 'fail');
  modes.set('hanging', 'hang');
  await eventually(() => state.get('erroring') === 'unhealthy' && state.get('hanging') === 'unhealthy', 'failing servers down', bound + SLACK_MS + 2_000, 10);

  const down = (name: string) => changes.find((c) => c.server === name && c.to === 'unhealthy');
  const erroringDown = down('erroring');
  const hangingDown = down('hanging');
  assert.equal(erroringDown?.reason, 'status 503');
  assert.equal(hangingDown?.reason, 'timeout');
  for (const change of [erroringDown, hangingDown]) {
    const took = (change?.at ?? Infinity) - failedAt;
    assert.ok(took <= bound + SLACK_MS, `${change?.server} marked down after ${Math.round(took)} ms; bound ${bound} ms + ${SLACK_MS} ms slack`);
  }
  // Falling takes unhealthyThreshold failed checks, so it cannot be faster than (fall - 1) intervals.
  assert.ok((erroringDown?.at ?? 0) - failedAt >= (config.unhealthyThreshold - 1) * config.interval - 50);
  assert.equal(state.get('steady'), 'healthy');
  assert.equal(changes.filter((c) => c.server === 'steady').length, 1, 'the steady server never flapped');

  modes.set('erroring', 'ok');
  modes.set('hanging', 'ok');
  await eventually(() => state.get('erroring') === 'healthy' && state.get('hanging') === 'healthy', 'servers back', 10_000);
  const back = changes.filter((c) => c.to === 'healthy' && c.server !== 'steady').slice(-2);
  assert.ok(back.every((c) => c.reason === '200'));
  assert.ok(checker.checksRun > 0);
  assert.equal(checker.lastCheck(steady)?.reason, '200');

  await checker.stop();
  await eventually(async () => {
    for (const backend of backends) if ((await backend.connections()) !== 0) return false;
    return true;
  }, 'no probe connection left open after stop');
});
