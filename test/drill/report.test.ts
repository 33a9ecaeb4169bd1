import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TimeBuckets } from '../../src/drill/buckets.js';
import type { DnsObservation } from '../../src/drill/dns.js';
import type { ObservedEvent } from '../../src/drill/events.js';
import { buildReport, formatText, REPORT_FORMAT, type DrillRecording } from '../../src/drill/report.js';
import { buildScenario } from '../../src/drill/scenario.js';
import type { BallastEvent } from '../../src/core/events.js';

const START = Date.UTC(2026, 0, 1, 12, 0, 0);

function scenario(extra: Record<string, unknown> = {}) {
  return buildScenario(
    {
      name: 'synthetic',
      target: { url: 'http://127.0.0.1:8080/' },
      load: { rate: 100, duration: '4s', slow: '40ms' },
      faults: [{ at: '1s', action: 'kill', process: 'b2', affects: { pool: 'web', server: 'b2' }, restore: { at: '2500ms' } }],
      processes: [{ name: 'b2', command: ['true'] }],
      thresholds: { maxFailed: 0, maxRecovery: '500ms', maxDetection: '100ms', maxP99: '1s' },
      ...extra,
    },
    'test',
  );
}

/**
 * 100 requests/s for 4 s; from 1.0 s to 1.3 s every third request fails
 * (502 after 1 ms); from 1.0 s to 1.5 s successful requests take 50 ms,
 * otherwise 2 ms.
 */
function recordLoad(): { buckets: TimeBuckets; totals: { sent: number; succeeded: number; failed: number; slow: number } } {
  const buckets = new TimeBuckets(100);
  const totals = { sent: 0, succeeded: 0, failed: 0, slow: 0 };
  for (let i = 0; i < 400; i++) {
    const at = i * 10;
    buckets.sent(at);
    totals.sent++;
    const failing = at >= 1000 && at < 1300 && i % 3 === 0;
    const latency = failing ? 1 : at >= 1000 && at < 1500 ? 50 : 2;
    const slow = latency > 40;
    if (failing) totals.failed++;
    else totals.succeeded++;
    if (slow) totals.slow++;
    buckets.record({ scheduledMs: at, latencyMs: latency, status: failing ? 502 : 200, error: undefined, failed: failing, slow });
  }
  return { buckets, totals };
}

function event(atMs: number, type: BallastEvent['type'], fields: Partial<BallastEvent> = {}): ObservedEvent {
  return { event: { type, time: START + atMs, ...fields }, wallTime: START + atMs };
}

function recording(overrides: Partial<DrillRecording> = {}): DrillRecording {
  const { buckets, totals } = recordLoad();
  return {
    scenario: scenario(),
    startWall: START,
    buckets,
    totals,
    faults: [{ injectedAtMs: 1000, restoredAtMs: 2500, errors: [] }],
    eventSource: 'sse',
    events: [
      event(-500, 'server-up', { pool: 'web', server: 'b1', reason: 'startup, before the load' }),
      event(1100, 'server-down', { pool: 'web', server: 'b1', reason: 'another server' }),
      event(1150, 'server-ejected', { pool: 'web', server: 'b2', reason: '3 consecutive failures' }),
      event(3000, 'server-up', { pool: 'web', server: 'b2', reason: '200' }),
    ],
    dns: undefined,
    retries: { count: 7, source: 'metrics' },
    warnings: [],
    errors: [],
    ...overrides,
  };
}

describe('buildReport', () => {
  test('detection, recovery, counts, phases, latency, throughput and thresholds', () => {
    const report = buildReport(recording());
    assert.equal(report.format, REPORT_FORMAT);
    assert.equal(report.startedAt, '2026-01-01T12:00:00.000Z');
    assert.deepEqual(report.requests.statusClasses, { '1xx': 0, '2xx': 390, '3xx': 0, '4xx': 0, '5xx': 10 });
    assert.deepEqual(report.requests.errors, { 'http-502': 10 });
    assert.equal(report.requests.sent, 400);
    assert.equal(report.requests.failed, 10);
    assert.equal(report.requests.failedPercent, 2.5);
    assert.equal(report.requests.slow, 40);

    const [fault] = report.faults;
    assert.ok(fault);
    assert.equal(fault.injectedAtMs, 1000);
    assert.deepEqual(fault.detection, { afterMs: 150, event: { atMs: 1150, type: 'server-ejected', pool: 'web', server: 'b2', reason: '3 consecutive failures' } });
    assert.deepEqual(fault.recovery, { afterMs: 290, lastFailedAtMs: 1290 });
    assert.equal(fault.restoreDetection?.afterMs, 500);
    assert.equal(fault.failed, 10);
    assert.equal(fault.slow, 40);
    assert.equal(fault.dnsSwitch, null);

    assert.deepEqual(report.phases, { before: { startMs: 0, endMs: 1000 }, during: { startMs: 1000, endMs: 2500 }, after: { startMs: 2500, endMs: 4000 } });
    assert.equal(report.latency.before?.count, 100);
    assert.ok(Math.abs((report.latency.before?.p50Ms ?? 0) - 2) < 0.1);
    assert.ok(Math.abs((report.latency.during?.p99Ms ?? 0) - 50) < 2);
    assert.equal(report.latency.during?.maxMs, 50);
    assert.equal(report.latency.after?.maxMs, 2);
    assert.equal(report.latency.overall.count, 400);

    assert.equal(report.throughput.baselinePerSecond, 100);
    assert.ok(report.throughput.minPerSecond >= 85 && report.throughput.minPerSecond <= 92, `min ${report.throughput.minPerSecond}`);
    assert.ok(report.throughput.dipPercent >= 8 && report.throughput.dipPercent <= 15, `dip ${report.throughput.dipPercent}`);
    assert.ok((report.throughput.minAtMs ?? -1) >= 900 && (report.throughput.minAtMs ?? 0) <= 1300);

    assert.deepEqual(report.events.map((e) => e.atMs), [1100, 1150, 3000], 'events before the load are left out');
    assert.deepEqual(report.thresholds.map((t) => [t.name, t.actual, t.passed]), [
      ['max-failed', 10, false],
      ['max-recovery', 290, true],
      ['max-detection', 150, false],
      ['max-p99', report.latency.overall.p99Ms, true],
    ]);
    assert.equal(report.passed, false);
    assert.equal(report.timeline.length, 40);
    assert.deepEqual(report.timeline[11], {
      tMs: 1100, sent: 10, succeeded: 7, failed: 3, slow: 7, throughputPerSecond: report.timeline[11]?.throughputPerSecond, p50Ms: report.timeline[11]?.p50Ms, p99Ms: report.timeline[11]?.p99Ms, maxMs: 50,
    });

    const text = formatText(report);
    assert.match(text, /detected after 150ms \(server-ejected web\/b2 \(3 consecutive failures\)\)/);
    assert.match(text, /recovered after 290ms; 10 failed/);
    assert.match(text, /FAIL max-failed 0: actual 10/);
    assert.match(text, /Result: FAILED/);
  });

  test('without a filter, detection takes the first state change in the window; none means not detected', () => {
    const base = recording();
    const unfiltered = buildReport({
      ...base,
      scenario: scenario({ faults: [{ at: '1s', action: 'kill', process: 'b2' }], thresholds: { maxDetection: '1s', maxRecovery: '1s' } }),
      faults: [{ injectedAtMs: 1000, restoredAtMs: undefined, errors: [] }],
    });
    assert.equal(unfiltered.faults[0]?.detection?.event.server, 'b1');
    assert.equal(unfiltered.faults[0]?.detection?.afterMs, 100);
    assert.equal(unfiltered.passed, true);

    const unseen = buildReport({ ...base, events: [], eventSource: 'none' });
    assert.equal(unseen.faults[0]?.detection, null);
    const detection = unseen.thresholds.find((t) => t.name === 'max-detection');
    assert.deepEqual(detection, { name: 'max-detection', limit: 100, unit: 'ms', actual: null, passed: false }, 'an unmeasured threshold fails');
  });

  test('no failures: recovery is 0 at the fault time; errors make the drill fail', () => {
    const buckets = new TimeBuckets(100);
    for (let at = 0; at < 4000; at += 10) {
      buckets.sent(at);
      buckets.record({ scheduledMs: at, latencyMs: 1, status: 200, error: undefined, failed: false, slow: false });
    }
    const report = buildReport({
      ...recording(),
      scenario: scenario({ thresholds: { maxFailed: '0%', maxRecovery: 0 } }),
      buckets,
      totals: { sent: 400, succeeded: 400, failed: 0, slow: 0 },
      errors: ['process b2: did not start'],
    });
    assert.deepEqual(report.faults[0]?.recovery, { afterMs: 0, lastFailedAtMs: null });
    assert.ok(report.thresholds.every((t) => t.passed));
    assert.equal(report.passed, false, 'an error fails the drill even when every threshold passes');
    assert.deepEqual(report.errors, ['process b2: did not start']);
  });

  test('DNS switch: the time every server still answering gave the new answer', () => {
    const dns = (atMs: number, server: string, answer: string[] | null): DnsObservation => ({ atMs, server, answer });
    const observations = [
      dns(5, 'eu', ['127.0.0.10']),
      dns(6, 'us', ['127.0.0.10']),
      dns(1100, 'eu', null),
      dns(1800, 'us', ['127.0.0.20']),
    ];
    const siteScenario = scenario({
      target: { url: 'http://www.example.com:8080/', dnsServers: ['127.0.0.1:5301', '127.0.0.1:5302'] },
      faults: [{ at: '1s', action: 'site', site: 'eu', command: ['true'] }],
      thresholds: { maxDnsSwitch: '1s' },
    });
    const report = buildReport({ ...recording(), scenario: siteScenario, dns: observations, faults: [{ injectedAtMs: 1000, restoredAtMs: undefined, errors: [] }] });
    assert.deepEqual(report.faults[0]?.dnsSwitch, { afterMs: 800, from: ['127.0.0.10'], to: ['127.0.0.20'] });
    assert.deepEqual(report.thresholds.map((t) => [t.name, t.actual, t.passed]), [['max-dns-switch', 800, true]]);
    assert.equal(report.dns?.name, 'www.example.com');
    assert.equal(report.dns?.observations.length, 4);

    const stuck = buildReport({ ...recording(), scenario: siteScenario, dns: observations.slice(0, 3), faults: [{ injectedAtMs: 1000, restoredAtMs: undefined, errors: [] }] });
    assert.deepEqual(stuck.faults[0]?.dnsSwitch, { afterMs: null, from: ['127.0.0.10'], to: null }, 'us never switched');
    assert.equal(stuck.passed, false);
  });
});
