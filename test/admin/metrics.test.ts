import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import type { Counter, Gauge, Histogram } from 'prom-client';
import { SERVER_STATES } from '../../src/core/server.js';
import {
  CODE_CLASSES,
  METRIC_CATALOGUE,
  METRIC_PREFIX,
  PROCESS_METRIC_PREFIXES,
  bindRequests,
  bindServer,
  catalogueEntries,
  codeClass,
  createMetrics,
  removeSeries,
} from '../../src/admin/metrics.js';
import type { MetricSpec, Metrics } from '../../src/admin/metrics.js';

/** Every handle in catalogue order, paired with its entry. */
function handles(metrics: Metrics): { spec: MetricSpec; handle: Counter | Gauge | Histogram }[] {
  const found: { spec: MetricSpec; handle: Counter | Gauge | Histogram }[] = [];
  const byArea = metrics as unknown as Record<string, Record<string, Counter | Gauge | Histogram>>;
  for (const [area, entries] of Object.entries(METRIC_CATALOGUE)) {
    for (const [key, spec] of Object.entries(entries) as [string, MetricSpec][]) {
      const handle = byArea[area]?.[key];
      assert.ok(handle, `no handle for ${area}.${key}`);
      found.push({ spec, handle });
    }
  }
  return found;
}

/** Label values for a sample series: a closed set's first value, else a plausible name. */
function sampleLabels(spec: MetricSpec, variant: number): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const name of spec.labelNames) {
    const closed = spec.labelValues?.[name];
    labels[name] = closed !== undefined ? (closed[variant % closed.length] ?? '') : `${name}-${variant}`;
  }
  return labels;
}

/** Gives every catalogue metric a few series with values, as a busy balancer would. */
function fillSamples(metrics: Metrics): void {
  for (const { spec, handle } of handles(metrics)) {
    for (let variant = 0; variant < 3; variant += 1) {
      const labels = sampleLabels(spec, variant);
      switch (spec.type) {
        case 'counter':
          (handle as Counter).inc(labels, variant + 1);
          break;
        case 'gauge':
          (handle as Gauge).set(labels, variant * 0.5);
          break;
        case 'histogram':
          (handle as Histogram).observe(labels, 0.003 * (variant + 1));
          break;
      }
    }
  }
}

function requirePromtool(): void {
  const probe = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) {
    assert.fail('promtool is not installed: install the Debian package "prometheus" (or run scripts/install-test-deps.sh)');
  }
}

describe('metric catalogue conventions', () => {
  const entries = catalogueEntries();

  test('names carry the prefix, are snake_case, unique, and stay out of the process namespaces', () => {
    const names = new Set<string>();
    for (const spec of entries) {
      assert.match(spec.name, /^ballast_[a-z][a-z0-9_]*[a-z0-9]$/, spec.name);
      assert.ok(spec.name.startsWith(METRIC_PREFIX));
      for (const prefix of PROCESS_METRIC_PREFIXES) assert.ok(!spec.name.startsWith(prefix), `${spec.name} uses ${prefix}`);
      assert.ok(!names.has(spec.name), `duplicate ${spec.name}`);
      names.add(spec.name);
      assert.ok(spec.help.length > 10, `${spec.name} needs help text`);
    }
  });

  test('counters end in _total; durations are histograms in _seconds; only counters end in _total', () => {
    for (const spec of entries) {
      if (spec.type === 'counter') assert.match(spec.name, /_total$/, spec.name);
      else assert.doesNotMatch(spec.name, /_total$/, spec.name);
      if (spec.type === 'histogram' || /duration|latency|time/.test(spec.name)) {
        assert.equal(spec.type, 'histogram', spec.name);
        assert.match(spec.name, /_seconds$/, spec.name);
      }
      if (/bytes/.test(spec.name)) assert.match(spec.name, /_bytes_total$/, spec.name);
      assert.doesNotMatch(spec.name, /_(count|sum|bucket)$/, `${spec.name} collides with histogram series`);
    }
  });

  test('label names are valid, distinct and never reserved', () => {
    for (const spec of entries) {
      assert.equal(new Set(spec.labelNames).size, spec.labelNames.length, spec.name);
      for (const label of spec.labelNames) {
        assert.match(label, /^[a-z][a-z0-9_]*$/, `${spec.name}{${label}}`);
        assert.notEqual(label, 'le', spec.name);
        assert.ok(!label.startsWith('__'), spec.name);
      }
      for (const label of Object.keys(spec.labelValues ?? {})) assert.ok(spec.labelNames.includes(label), `${spec.name}: ${label}`);
      if (spec.buckets !== undefined) {
        assert.equal(spec.type, 'histogram');
        for (let i = 1; i < spec.buckets.length; i += 1) assert.ok((spec.buckets[i] ?? 0) > (spec.buckets[i - 1] ?? 0), spec.name);
      }
    }
  });

  test('the issue’s required series exist with the agreed labels', () => {
    assert.deepEqual(METRIC_CATALOGUE.http.requests.labelNames, ['listener', 'pool', 'server', 'code_class']);
    assert.deepEqual(METRIC_CATALOGUE.http.requestDuration.labelNames, ['listener', 'pool']);
    assert.deepEqual(METRIC_CATALOGUE.http.upstreamDuration.labelNames, ['pool', 'server']);
    assert.deepEqual(METRIC_CATALOGUE.servers.state.labelNames, ['pool', 'server', 'state']);
    assert.deepEqual(METRIC_CATALOGUE.servers.state.labelValues.state, SERVER_STATES);
    assert.deepEqual(METRIC_CATALOGUE.servers.healthChecks.labelNames, ['pool', 'server', 'result']);
    assert.deepEqual(METRIC_CATALOGUE.tcp.bytes.labelNames, ['listener', 'direction']);
    assert.deepEqual(METRIC_CATALOGUE.gslb.dnsQueries.labelNames, ['rcode']);
    assert.deepEqual(METRIC_CATALOGUE.gslb.heartbeatPhi.labelNames, ['site']);
  });
});

describe('createMetrics', () => {
  test('the registry holds exactly the catalogue names when process metrics are off', async () => {
    const metrics = createMetrics(new Registry(), { processMetrics: false });
    const registered = (await metrics.registry.getMetricsAsJSON()).map((metric) => metric.name).sort();
    assert.deepEqual(registered, catalogueEntries().map((spec) => spec.name).sort());
  });

  test('with process metrics, every extra name is a prefixed process or Node.js metric', async () => {
    const metrics = createMetrics();
    const catalogue = new Set(catalogueEntries().map((spec) => spec.name));
    const registered = (await metrics.registry.getMetricsAsJSON()).map((metric) => metric.name);
    for (const name of catalogue) assert.ok(registered.includes(name), `${name} not registered`);
    const extra = registered.filter((name) => !catalogue.has(name));
    assert.ok(extra.length > 5, 'expected the default process metrics');
    for (const name of extra) {
      assert.ok(PROCESS_METRIC_PREFIXES.some((prefix) => name.startsWith(prefix)), `${name} is declared outside the catalogue`);
    }
    assert.ok(registered.includes('ballast_process_cpu_seconds_total'));
  });

  test('handles are typed by the catalogue', () => {
    const metrics = createMetrics(new Registry(), { processMetrics: false });
    // These assignments fail to compile if the handle types drift from the catalogue.
    const requests: Counter<'listener' | 'pool' | 'server' | 'code_class'> = metrics.http.requests;
    const state: Gauge<'pool' | 'server' | 'state'> = metrics.servers.state;
    const duration: Histogram<'listener' | 'pool'> = metrics.http.requestDuration;
    requests.inc({ listener: 'web', pool: 'web', server: 'web-1', code_class: '2xx' });
    state.set({ pool: 'web', server: 'web-1', state: 'healthy' }, 1);
    duration.observe({ listener: 'web', pool: 'web' }, 0.01);
  });

  test('no metric name is declared anywhere in the sources except the catalogue', () => {
    const offenders: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir)) {
        const full = join(dir, entry);
        if (statSync(full).isDirectory()) walk(full);
        else if (full.endsWith('.ts') && full !== join('src', 'admin', 'metrics.ts')) {
          const text = readFileSync(full, 'utf8');
          const found = text.match(/['"`]ballast_[a-z0-9_]*['"`]/g);
          if (found !== null) offenders.push(`${full}: ${found.join(', ')}`);
        }
      }
    };
    walk('src');
    assert.deepEqual(offenders, []);
  });
});

describe('Prometheus exposition', () => {
  test('promtool check metrics accepts the output with samples in every metric', async (t) => {
    requirePromtool();
    const registry = new Registry();
    t.after(() => registry.clear());
    const metrics = createMetrics(registry);
    fillSamples(metrics);
    bindServer(metrics, 'web', 'web-1').setState('healthy');
    bindRequests(metrics, 'web', 'web', '').count(503);
    const text = await registry.metrics();
    for (const spec of catalogueEntries()) assert.ok(text.includes(`# TYPE ${spec.name} ${spec.type}`), `${spec.name} missing`);
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 60_000 });
    assert.equal(check.error, undefined, String(check.error));
    assert.equal(check.status, 0, `promtool check metrics failed:\n${check.stdout}${check.stderr}`);
  });
});

describe('bound series', () => {
  test('codeClass maps statuses to classes and out-of-range to 5xx', () => {
    assert.equal(codeClass(100), '1xx');
    assert.equal(codeClass(204), '2xx');
    assert.equal(codeClass(301), '3xx');
    assert.equal(codeClass(499), '4xx');
    assert.equal(codeClass(599), '5xx');
    assert.equal(codeClass(0), '5xx');
    assert.equal(codeClass(700), '5xx');
    assert.deepEqual([...CODE_CLASSES], ['1xx', '2xx', '3xx', '4xx', '5xx']);
  });

  test('bindRequests counts by status class and counters move with traffic', async () => {
    const metrics = createMetrics(new Registry(), { processMetrics: false });
    const series = bindRequests(metrics, 'web', 'api', 'api-1');
    for (let i = 0; i < 10; i += 1) series.count(200);
    series.count(404);
    series.count(502);
    series.count(502);
    const { values } = await metrics.http.requests.get();
    const byClass = new Map(values.map((value) => [value.labels.code_class, value.value]));
    assert.equal(byClass.get('2xx'), 10);
    assert.equal(byClass.get('4xx'), 1);
    assert.equal(byClass.get('5xx'), 2);
    for (const value of values) assert.deepEqual([value.labels.listener, value.labels.pool, value.labels.server], ['web', 'api', 'api-1']);
  });

  test('bindServer sets exactly one state to 1 and counts health checks', async () => {
    const metrics = createMetrics(new Registry(), { processMetrics: false });
    const server = bindServer(metrics, 'web', 'web-2');
    server.setState('healthy');
    server.setState('ejected');
    server.healthCheck('success');
    server.healthCheck('timeout');
    server.healthCheck('timeout');
    server.activeConnections.inc();
    server.upstreamDuration.observe(0.02);
    server.ejections.inc();
    const states = (await metrics.servers.state.get()).values;
    assert.equal(states.length, SERVER_STATES.length);
    assert.deepEqual(
      states.filter((value) => value.value === 1).map((value) => value.labels.state),
      ['ejected'],
    );
    const checks = new Map((await metrics.servers.healthChecks.get()).values.map((value) => [value.labels.result, value.value]));
    assert.equal(checks.get('success'), 1);
    assert.equal(checks.get('timeout'), 2);
    assert.equal((await metrics.servers.ejections.get()).values[0]?.value, 1);
  });

  test('removeSeries drops every series of a server and leaves the others', async () => {
    const metrics = createMetrics(new Registry(), { processMetrics: false });
    for (const name of ['web-1', 'web-2']) {
      const server = bindServer(metrics, 'web', name);
      server.setState('healthy');
      server.upstreamDuration.observe(0.2);
      bindRequests(metrics, 'edge', 'web', name).count(200);
    }
    const removed = await removeSeries(metrics, { pool: 'web', server: 'web-1' });
    // 6 state series + 1 upstream histogram + 1 request counter.
    assert.equal(removed, SERVER_STATES.length + 2);
    const text = await metrics.registry.metrics();
    assert.ok(!text.includes('server="web-1"'), text);
    assert.ok(text.includes('server="web-2"'));
    assert.equal(await removeSeries(metrics, {}), 0);
  });
});
