import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/core/clock.js';
import { seededRandom } from '../../src/core/random.js';
import type { HostPort } from '../../src/core/server.js';
import { ActiveHealthChecker } from '../../src/health/checker.js';
import type { CheckFunction, CheckResult, HealthStatus } from '../../src/health/types.js';
import { tcpConfig } from './configs.js';
import { ManualTimers, settle } from './manual-timers.js';

interface Server {
  readonly name: string;
  readonly address: HostPort;
}

function server(name: string, port: number): Server {
  return { name, address: { host: '127.0.0.1', port } };
}

interface Change {
  readonly server: string;
  readonly from: HealthStatus;
  readonly to: HealthStatus;
  readonly reason: string;
  readonly at: number;
}

function harness(options: { config?: Parameters<typeof tcpConfig>[0]; check: CheckFunction; seed?: number }) {
  const clock = new ManualClock(0);
  const timers = new ManualTimers(clock);
  const changes: Change[] = [];
  const checker = new ActiveHealthChecker<Server>({
    config: tcpConfig(options.config),
    check: options.check,
    clock,
    timers,
    random: seededRandom(options.seed ?? 7),
    onChange: (s, from, to, reason) => changes.push({ server: s.name, from, to, reason, at: clock.now() }),
  });
  return { clock, timers, checker, changes };
}

/** A check whose results come from a script per port; records start times. */
function scripted(script: Map<number, (n: number) => CheckResult>, starts: Map<number, number[]>, clock: ManualClock): CheckFunction {
  return async (target) => {
    const list = starts.get(target.port) ?? [];
    starts.set(target.port, list);
    list.push(clock.now());
    const next = script.get(target.port);
    return next === undefined ? { ok: true, reason: 'connected' } : next(list.length);
  };
}

describe('ActiveHealthChecker (simulated time)', () => {
  test('first check within jitter × interval, then every interval × (1 + random × jitter)', async () => {
    const starts = new Map<number, number[]>();
    const clock = new ManualClock(0);
    const timers = new ManualTimers(clock);
    const checker = new ActiveHealthChecker<Server>({
      config: tcpConfig({ interval: 1_000, jitter: 0.2, timeout: 300 }),
      check: scripted(new Map(), starts, clock),
      clock,
      timers,
      random: seededRandom(42),
      onChange: () => {},
    });
    const servers = [server('a', 1), server('b', 2), server('c', 3)];
    for (const s of servers) checker.add(s);
    checker.start();
    await timers.advance(300_000);
    const firsts: number[] = [];
    const gaps: number[] = [];
    for (const s of servers) {
      const times = starts.get(s.address.port) ?? [];
      assert.ok(times.length >= 250, `enough checks of ${s.name}: ${times.length}`);
      firsts.push(times[0] ?? -1);
      for (let i = 1; i < times.length; i++) gaps.push((times[i] ?? 0) - (times[i - 1] ?? 0));
    }
    for (const first of firsts) assert.ok(first >= 0 && first < 200, `first check at ${first}`);
    assert.equal(new Set(firsts).size, 3, 'servers are not probed in lockstep');
    for (const gap of gaps) assert.ok(gap >= 1_000 && gap < 1_200, `gap ${gap}`);
    assert.ok(Math.min(...gaps) < 1_020 && Math.max(...gaps) > 1_180, 'jitter spreads over its whole range');
    assert.equal(checker.checksRun, starts.get(1)!.length + starts.get(2)!.length + starts.get(3)!.length);
    await checker.stop();
    assert.equal(timers.count, 0, 'no timer left behind');
  });

  test('onChange fires only on transitions, with the reason of the deciding check', async () => {
    const starts = new Map<number, number[]>();
    const clock = new ManualClock(0);
    const timers = new ManualTimers(clock);
    const changes: Change[] = [];
    // Checks 1-3 pass, 4-6 fail, 7+ pass.
    const script = new Map([[1, (n: number) => (n >= 4 && n <= 6 ? { ok: false, reason: 'refused' } : { ok: true, reason: 'connected' })]]);
    const checker = new ActiveHealthChecker<Server>({
      config: tcpConfig({ interval: 1_000, jitter: 0, healthyThreshold: 2, unhealthyThreshold: 3 }),
      check: scripted(script, starts, clock),
      clock,
      timers,
      onChange: (s, from, to, reason) => changes.push({ server: s.name, from, to, reason, at: clock.now() }),
    });
    const a = server('a', 1);
    checker.add(a);
    assert.equal(checker.state(a), 'unknown');
    checker.start();
    await timers.advance(10_500);
    assert.deepEqual(changes, [
      { server: 'a', from: 'unknown', to: 'healthy', reason: 'connected', at: 0 },
      { server: 'a', from: 'healthy', to: 'unhealthy', reason: 'refused', at: 5_000 },
      { server: 'a', from: 'unhealthy', to: 'healthy', reason: 'connected', at: 7_000 },
    ]);
    assert.equal(checker.state(a), 'healthy');
    const last = checker.lastCheck(a);
    assert.equal(last?.ok, true);
    assert.equal(last?.reason, 'connected');
    assert.equal(last?.at, clock.wallNow() - 500);
    assert.equal(checker.checksRun, 11);
    await checker.stop();
  });

  test('initialState healthy: no event until the server fails', async () => {
    const { checker, timers, changes } = harness({
      config: { initialState: 'healthy', jitter: 0, unhealthyThreshold: 1 },
      check: async () => ({ ok: true, reason: 'connected' }),
    });
    const a = server('a', 1);
    checker.add(a);
    checker.start();
    await timers.advance(5_000);
    assert.equal(checker.state(a), 'healthy');
    assert.deepEqual(changes, []);
    await checker.stop();
  });

  test('a slow check is aborted at timeout and counts as a failure named "timeout"', async () => {
    let aborts = 0;
    const { checker, timers, changes } = harness({
      config: { interval: 1_000, timeout: 400, jitter: 0, unhealthyThreshold: 1 },
      check: (_target, _config, signal) =>
        new Promise<CheckResult>((resolve) => {
          signal.addEventListener('abort', () => {
            aborts++;
            const reason: unknown = signal.reason;
            resolve({ ok: false, reason: reason instanceof DOMException && reason.name === 'TimeoutError' ? 'timeout' : 'aborted' });
          });
        }),
    });
    const a = server('a', 1);
    checker.add(a);
    checker.start();
    await timers.advance(399);
    assert.equal(changes.length, 0);
    await timers.advance(1);
    assert.deepEqual(changes.map((c) => [c.to, c.reason, c.at]), [['unhealthy', 'timeout', 400]]);
    assert.equal(checker.lastCheck(a)?.durationMs, 400);
    await timers.advance(2_000);
    assert.equal(aborts, 3, 'checks at 0, 1000 and 2000 were each aborted once');
    await checker.stop();
  });

  test('checks of one server never overlap, even when a check outlasts the interval', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const starts: number[] = [];
    const clock = new ManualClock(0);
    const timers = new ManualTimers(clock);
    const checker = new ActiveHealthChecker<Server>({
      config: tcpConfig({ interval: 1_000, timeout: 10_000, jitter: 0 }),
      clock,
      timers,
      onChange: () => {},
      check: () => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        starts.push(clock.now());
        return new Promise((resolve) => {
          timers.setTimeout(() => {
            inFlight--;
            resolve({ ok: true, reason: 'slow' });
          }, 2_500);
        });
      },
    });
    checker.add(server('a', 1));
    checker.start();
    await timers.advance(10_001);
    assert.equal(maxInFlight, 1);
    assert.deepEqual(starts, [0, 2_500, 5_000, 7_500, 10_000]);
    await checker.stop();
  });

  test('stop aborts checks in flight, drops their verdicts and leaves no timers', async () => {
    const signals: AbortSignal[] = [];
    const { checker, timers, changes } = harness({
      config: { interval: 1_000, timeout: 5_000, jitter: 0 },
      check: (_target, _config, signal) =>
        new Promise((resolve) => {
          signals.push(signal);
          signal.addEventListener('abort', () => resolve({ ok: true, reason: 'late' }));
        }),
    });
    checker.add(server('a', 1));
    checker.add(server('b', 2));
    checker.start();
    await timers.advance(10);
    assert.equal(signals.length, 2);
    await checker.stop();
    assert.ok(signals.every((s) => s.aborted));
    assert.equal(timers.count, 0);
    assert.deepEqual(changes, []);
    assert.equal(checker.checksRun, 0);
    assert.equal(checker.isRunning, false);
    await timers.advance(10_000);
    assert.equal(signals.length, 2, 'nothing runs after stop');
  });

  test('start after stop resumes with the states kept', async () => {
    const { checker, timers, changes } = harness({ config: { jitter: 0 }, check: async () => ({ ok: true, reason: 'up' }) });
    const a = server('a', 1);
    checker.add(a);
    checker.start();
    await timers.advance(1);
    await checker.stop();
    checker.start();
    await timers.advance(3_000);
    assert.equal(checker.state(a), 'healthy');
    assert.equal(changes.length, 1);
    await checker.stop();
  });

  test('remove aborts the check in flight and forgets the server; add while running schedules it', async () => {
    let started = 0;
    const { checker, timers, changes } = harness({
      config: { interval: 1_000, jitter: 0.5, unhealthyThreshold: 1 },
      check: (target, _config, signal) =>
        new Promise((resolve) => {
          started++;
          if (target.port === 2) resolve({ ok: false, reason: 'refused' });
          else signal.addEventListener('abort', () => resolve({ ok: true, reason: 'aborted' }));
        }),
    });
    const a = server('a', 1);
    checker.start();
    checker.add(a);
    await timers.advance(500);
    assert.equal(started, 1);
    checker.remove(a);
    assert.equal(checker.has(a), false);
    assert.equal(checker.state(a), undefined);
    assert.equal(timers.count, 0);
    const b = server('b', 2);
    checker.add(b);
    await timers.advance(500);
    assert.deepEqual(changes.map((c) => [c.server, c.to, c.reason]), [['b', 'unhealthy', 'refused']]);
    await checker.stop();
  });

  test('a check that throws counts as a failure', async () => {
    const { checker, timers, changes } = harness({
      config: { jitter: 0, unhealthyThreshold: 1 },
      check: async () => {
        throw new Error('boom');
      },
    });
    checker.add(server('a', 1));
    checker.start();
    await timers.advance(1);
    await settle();
    assert.deepEqual(changes.map((c) => c.reason), ['error: boom']);
    await checker.stop();
  });
});
