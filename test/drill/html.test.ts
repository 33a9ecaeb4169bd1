/**
 * The HTML report of a real drill (Ballast with its admin API in this
 * process, two backends the drill launches and kills) opened in headless
 * Chromium (Debian package `chromium`, driven by playwright-core). Leaves
 * test-artifacts/drill-report.html and test-artifacts/drill-report.png.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { renderHtml } from '../../src/drill/html.js';
import { runDrill } from '../../src/drill/run.js';
import { buildScenario } from '../../src/drill/scenario.js';
import { freePort } from '../helpers/net.js';
import { requireProgram } from '../helpers/programs.js';
import { ADMIN_TOKEN, startAdminBallast } from './harness.js';

const BACKEND = 'build/src/drill/demo-backend.js';
const XSS_NAME = '<img src=x onerror=alert(1)> drill & "report"';

interface ChartInfo {
  readonly kind: string;
  readonly width: number;
  readonly height: number;
  readonly lines: number;
  readonly points: number;
  readonly bars: number;
  readonly faults: number;
  readonly restores: number;
}

test('the HTML report opens without a network or console errors and shows the three charts with the fault marked', async (t) => {
  const executablePath = requireProgram('chromium', 'chromium');
  const ports = [await freePort(), await freePort()];
  const ballast = await startAdminBallast({
    listeners: [{ name: 'web', protocol: 'http', listen: '127.0.0.1:0', routes: [{ pool: 'web' }] }],
    pools: [
      {
        name: 'web',
        servers: ports.map((port, i) => ({ name: `b${i + 1}`, address: `127.0.0.1:${port}` })),
        healthCheck: { type: 'http', path: '/healthz', interval: '200ms', timeout: '150ms', healthyThreshold: 1, unhealthyThreshold: 1 },
        outlierDetection: { consecutiveFailures: 2, ejectionTime: '5s', maxEjectedPercent: 50 },
        retries: { attempts: 0 },
      },
    ],
  });
  t.after(() => ballast.close());
  const scenario = buildScenario(
    {
      name: XSS_NAME,
      target: { url: `${ballast.url()}/` },
      admin: { url: ballast.adminUrl, token: ADMIN_TOKEN },
      load: { rate: 200, duration: '2500ms', warmup: '500ms', slow: '50ms' },
      processes: ports.map((port, i) => ({ name: `b${i + 1}`, command: [process.execPath, BACKEND, '--name', `b${i + 1}`, '--port', String(port)], ready: { output: 'listening' } })),
      faults: [{ at: '800ms', action: 'kill', process: 'b2', affects: { server: 'b2' }, restore: { at: '1600ms' } }],
      thresholds: { maxFailed: 0 },
    },
    'test',
  );
  const report = await runDrill(scenario, {
    beforeLoad: async () => {
      const deadline = Date.now() + 10_000;
      while (!ballast.runtime.status().pools[0]?.servers.every((s) => s.state === 'healthy')) {
        if (Date.now() > deadline) throw new Error('backends not healthy');
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  });
  assert.equal(report.eventSource, 'sse');
  assert.ok(report.requests.failed >= 1, 'retries are off: the kill shows as errors');
  assert.ok(report.faults[0]?.detection !== null, 'the kill was detected');
  assert.equal(report.passed, false);

  mkdirSync('test-artifacts', { recursive: true });
  const htmlPath = resolve(join('test-artifacts', 'drill-report.html'));
  const html = renderHtml(report);
  writeFileSync(htmlPath, html);
  assert.ok(!html.includes('<img src=x'), 'text from the scenario is escaped');

  const browser = await chromium.launch({
    executablePath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const problems: string[] = [];
  const requests: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') problems.push(`${message.type()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('dialog', (dialog) => {
    problems.push(`dialog: ${dialog.message()}`);
    void dialog.dismiss();
  });
  page.on('request', (req) => requests.push(req.url()));
  await page.goto(pathToFileURL(htmlPath).href, { waitUntil: 'load' });

  const title = await page.title();
  assert.equal(title, `Ballast drill: ${XSS_NAME}`);
  assert.equal(await page.locator('h1 img').count(), 0, 'no element from the scenario name');
  assert.equal(await page.locator('.verdict').textContent(), 'FAILED');

  // Evaluated in the page (a string: this file is compiled without the DOM types).
  const charts = (await page.evaluate(`[...document.querySelectorAll('svg.chart')].map((svg) => {
    const box = svg.getBoundingClientRect();
    return {
      kind: svg.getAttribute('data-chart'),
      width: box.width,
      height: box.height,
      lines: svg.querySelectorAll('polyline').length,
      points: [...svg.querySelectorAll('polyline')].reduce((n, p) => n + (p.getAttribute('points') || '').split(' ').length, 0),
      bars: svg.querySelectorAll('rect.bar.failed').length,
      faults: svg.querySelectorAll('line.fault').length,
      restores: svg.querySelectorAll('line.restore').length,
    };
  })`)) as ChartInfo[];
  assert.deepEqual(charts.map((c) => c.kind), ['throughput', 'errors', 'latency']);
  for (const chart of charts) {
    assert.ok(chart.width > 600 && chart.height > 100, `${chart.kind} chart is drawn (${chart.width}×${chart.height})`);
    assert.equal(chart.faults, 1, `${chart.kind} marks the fault`);
    assert.equal(chart.restores, 1, `${chart.kind} marks the restore`);
  }
  assert.equal(charts[0]?.lines, 1);
  assert.ok((charts[0]?.points ?? 0) >= 25, 'throughput has a point per bucket');
  assert.ok((charts[1]?.bars ?? 0) >= 1, 'the errors chart shows the failed requests');
  assert.equal(charts[2]?.lines, 3, 'p50, p99 and max');

  // The hover read-out works.
  const latency = page.locator('svg.chart[data-chart="latency"]');
  await latency.scrollIntoViewIfNeeded();
  const box = await latency.boundingBox();
  assert.ok(box);
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.5);
  const readout = await page.locator('#readout').textContent();
  assert.match(readout ?? '', /ok [0-9.]+\/s {2}failed [0-9.]+\/s/);
  assert.equal(await page.locator('#readout').isVisible(), true);

  await page.screenshot({ path: join('test-artifacts', 'drill-report.png'), fullPage: true });
  assert.deepEqual(problems, []);
  assert.deepEqual(requests, [pathToFileURL(htmlPath).href], 'the report fetches nothing');
});
