import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TimeBuckets } from '../../src/drill/buckets.js';
import { LatencyHistogram, MAX_BUCKETS, RELATIVE_ERROR } from '../../src/drill/histogram.js';
import { seededRandom } from '../../src/core/random.js';

/** The exact percentile of sorted values, by the same rank rule as the histogram. */
function exact(sorted: readonly number[], p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] as number;
}

describe('LatencyHistogram', () => {
  test('percentiles stay within the stated relative error over six decades', () => {
    const random = seededRandom(7);
    const histogram = new LatencyHistogram();
    const values: number[] = [];
    for (let i = 0; i < 20_000; i++) {
      // Log-uniform from 1 µs to 1000 s, in ms.
      const ms = 10 ** (random() * 9 - 3);
      values.push(ms);
      histogram.record(ms);
    }
    values.sort((a, b) => a - b);
    assert.equal(histogram.count, 20_000);
    for (const p of [1, 10, 50, 90, 99, 99.9]) {
      const want = exact(values, p);
      const got = histogram.percentile(p);
      // Values below 64 µs are kept to the microsecond.
      const tolerance = Math.max(want * RELATIVE_ERROR * 1.01, 0.0006);
      assert.ok(Math.abs(got - want) <= tolerance, `p${p}: ${got} vs exact ${want}`);
    }
    assert.equal(histogram.maxMs, Math.round((values[values.length - 1] as number) * 1000) / 1000);
  });

  test('empty, single value, negative values and merging', () => {
    const empty = new LatencyHistogram();
    assert.equal(empty.percentile(99), 0);
    assert.equal(empty.maxMs, 0);

    const one = new LatencyHistogram();
    one.record(12.5);
    assert.ok(Math.abs(one.percentile(50) - 12.5) <= 12.5 * RELATIVE_ERROR);
    assert.equal(one.percentile(100), 12.5, 'never above the exact maximum');
    one.record(-3);
    assert.equal(one.percentile(1), 0, 'negative latencies count as 0');

    const a = new LatencyHistogram();
    const b = new LatencyHistogram();
    for (let i = 1; i <= 100; i++) (i <= 50 ? a : b).record(i);
    a.add(b);
    assert.equal(a.count, 100);
    assert.equal(a.maxMs, 100);
    assert.ok(Math.abs(a.percentile(50) - 50) <= 50 * RELATIVE_ERROR);
    assert.ok(Math.abs(a.percentile(90) - 90) <= 90 * RELATIVE_ERROR);
  });

  test('memory is bounded by the bucket count, not the number of values', () => {
    const histogram = new LatencyHistogram();
    for (let i = 0; i < 200_000; i++) histogram.record((i % 5000) / 10);
    assert.equal(histogram.count, 200_000);
    assert.ok(MAX_BUCKETS < 2000);
    // Huge values are clamped rather than growing the table.
    histogram.record(1e15);
    assert.ok(histogram.percentile(100) > 1e8);
  });
});

describe('TimeBuckets', () => {
  test('outcomes land in the bucket of their scheduled time, throughput in the bucket of completion', () => {
    const buckets = new TimeBuckets(100);
    buckets.sent(10);
    buckets.record({ scheduledMs: 10, latencyMs: 250, status: 200, error: undefined, failed: false, slow: false });
    buckets.sent(120);
    buckets.record({ scheduledMs: 120, latencyMs: 5, status: 502, error: undefined, failed: true, slow: false });
    buckets.sent(150);
    buckets.record({ scheduledMs: 150, latencyMs: 2000, status: 0, error: 'timeout', failed: true, slow: true });
    buckets.sent(199);
    buckets.record({ scheduledMs: 199, latencyMs: 1, status: 200, error: undefined, failed: false, slow: false });

    const list = buckets.buckets;
    assert.equal(list[0]?.sent, 1);
    assert.equal(list[0]?.succeeded, 1);
    assert.equal(list[0]?.throughput, 0, 'completed at 260 ms');
    assert.equal(list[2]?.throughput, 2, 'the slow success of bucket 0 and the quick one of bucket 1 (at 200 ms)');
    assert.equal(list[1]?.failed, 2);
    assert.equal(list[1]?.slow, 1);
    assert.deepEqual(list[1]?.statusClasses, [0, 1, 0, 0, 1]);
    assert.deepEqual([...(list[1]?.errors ?? [])], [['http-502', 1], ['timeout', 1]]);
    assert.equal(list[1]?.latency.count, 3);

    assert.equal(buckets.sum(0, 200, (b) => b.sent), 4);
    assert.equal(buckets.lastFailure(0, 1000), 150);
    assert.equal(buckets.lastFailure(0, 151), 150);
    assert.equal(buckets.lastFailure(0, 100), undefined);
    assert.equal(buckets.lastFailure(151, 1000), undefined);
    assert.equal(buckets.latency(100, 200).count, 3);
    assert.equal(buckets.latency(0, 100).maxMs, 250);
  });
});
