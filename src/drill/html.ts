/**
 * The drill's HTML report: one self-contained file (inline CSS, inline SVG
 * charts drawn here, a few lines of inline script for hover read-outs) that
 * opens without a network. Its Content-Security-Policy forbids every fetch.
 * All text from the scenario or from Ballast is escaped.
 *
 * Charts: throughput (successful responses/s by completion time, with the
 * baseline), errors (failed and slow requests/s by scheduled time) and
 * latency (p50, p99, max by scheduled time, logarithmic axis), each with the
 * faults (red), restores (green) and detections (dotted) marked and the
 * *during* phase shaded.
 */
import { describeEvent, formatMs, type DrillReport, type FaultReport, type TimelinePoint } from './report.js';

/** Charts show at most this many points; longer timelines are merged into wider buckets. */
const MAX_POINTS = 1200;
const WIDTH = 960;
const HEIGHT = 230;
const MARGIN = { left: 64, right: 16, top: 14, bottom: 28 };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&#39;'));
}

interface Point {
  readonly tMs: number;
  readonly throughput: number;
  readonly failed: number;
  readonly slow: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

/** Per-second rates and latencies, merged `factor` buckets at a time. */
function points(timeline: readonly TimelinePoint[], bucketMs: number): { list: Point[]; widthMs: number } {
  const factor = Math.max(1, Math.ceil(timeline.length / MAX_POINTS));
  const widthMs = bucketMs * factor;
  const list: Point[] = [];
  for (let i = 0; i < timeline.length; i += factor) {
    const group = timeline.slice(i, i + factor);
    const perSecond = (sum: number): number => (sum * 1000) / (group.length * bucketMs);
    list.push({
      tMs: (group[0] as TimelinePoint).tMs,
      throughput: group.reduce((sum, p) => sum + p.throughputPerSecond, 0) / group.length,
      failed: perSecond(group.reduce((sum, p) => sum + p.failed, 0)),
      slow: perSecond(group.reduce((sum, p) => sum + p.slow, 0)),
      p50: group.reduce((sum, p) => sum + p.p50Ms, 0) / group.length,
      p99: Math.max(...group.map((p) => p.p99Ms)),
      max: Math.max(...group.map((p) => p.maxMs)),
    });
  }
  return { list, widthMs };
}

/** About `count` round tick values from 0 to the first at or above `max`. */
function ticks(max: number, count: number): number[] {
  if (max <= 0) return [0];
  const raw = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  const list: number[] = [0];
  while ((list[list.length - 1] as number) < max - step / 1000) list.push(Math.round(list.length * step * 1000) / 1000);
  return list;
}

function num(value: number): string {
  return String(Math.round(value * 10) / 10);
}

interface Axis {
  readonly x: (ms: number) => number;
  readonly y: (value: number) => number;
}

function frame(kind: string, title: string, body: string, xTicks: readonly number[], yTicks: readonly { value: number; label: string }[], axis: Axis, report: DrillReport, endMs: number): string {
  const plotBottom = HEIGHT - MARGIN.bottom;
  const parts: string[] = [];
  parts.push(`<svg class="chart" data-chart="${kind}" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${escapeHtml(title)}">`);
  parts.push(`<title>${escapeHtml(title)}</title>`);
  const during = report.phases.during;
  if (during !== null) {
    const x0 = axis.x(during.startMs);
    parts.push(`<rect class="phase" x="${num(x0)}" y="${MARGIN.top}" width="${num(Math.max(1, axis.x(during.endMs) - x0))}" height="${plotBottom - MARGIN.top}"/>`);
  }
  for (const tick of yTicks) {
    const y = num(axis.y(tick.value));
    parts.push(`<line class="grid" x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${y}" y2="${y}"/>`);
    parts.push(`<text class="tick" x="${MARGIN.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${escapeHtml(tick.label)}</text>`);
  }
  for (const tick of xTicks) {
    const x = num(axis.x(tick));
    parts.push(`<line class="axis" x1="${x}" x2="${x}" y1="${plotBottom}" y2="${plotBottom + 4}"/>`);
    parts.push(`<text class="tick" x="${x}" y="${plotBottom + 16}" text-anchor="middle">${tick === 0 ? '0' : escapeHtml(formatMs(tick))}</text>`);
  }
  parts.push(`<line class="axis" x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${plotBottom}" y2="${plotBottom}"/>`);
  parts.push(body);
  parts.push(markers(report.faults, axis, endMs));
  parts.push(`<line class="cursor" x1="0" x2="0" y1="${MARGIN.top}" y2="${plotBottom}" visibility="hidden"/>`);
  parts.push('</svg>');
  return parts.join('');
}

function markers(faults: readonly FaultReport[], axis: Axis, endMs: number): string {
  const plotBottom = HEIGHT - MARGIN.bottom;
  const parts: string[] = [];
  faults.forEach((fault, i) => {
    if (fault.injectedAtMs === null || fault.injectedAtMs > endMs) return;
    const x = num(axis.x(fault.injectedAtMs));
    parts.push(`<line class="fault" x1="${x}" x2="${x}" y1="${MARGIN.top}" y2="${plotBottom}"><title>${escapeHtml(`${formatMs(fault.injectedAtMs)} ${fault.name}`)}</title></line>`);
    parts.push(`<text class="fault-label" x="${num(axis.x(fault.injectedAtMs) + 4)}" y="${MARGIN.top + 10 + (i % 3) * 12}">${escapeHtml(fault.name)}</text>`);
    if (fault.detection !== null) {
      const dx = num(axis.x(fault.injectedAtMs + fault.detection.afterMs));
      parts.push(`<line class="detection" x1="${dx}" x2="${dx}" y1="${MARGIN.top}" y2="${plotBottom}"><title>${escapeHtml(`detected after ${formatMs(fault.detection.afterMs)}: ${describeEvent(fault.detection.event)}`)}</title></line>`);
    }
    if (fault.restoredAtMs !== null && fault.restoredAtMs <= endMs) {
      const rx = num(axis.x(fault.restoredAtMs));
      parts.push(`<line class="restore" x1="${rx}" x2="${rx}" y1="${MARGIN.top}" y2="${plotBottom}"><title>${escapeHtml(`${formatMs(fault.restoredAtMs)} restored: ${fault.name}`)}</title></line>`);
    }
  });
  return parts.join('');
}

function polyline(list: readonly Point[], pick: (p: Point) => number, axis: Axis, widthMs: number, cls: string): string {
  if (list.length === 0) return '';
  const coords = list.map((p) => `${num(axis.x(p.tMs + widthMs / 2))},${num(axis.y(pick(p)))}`).join(' ');
  return `<polyline class="${cls}" points="${coords}"/>`;
}

function charts(report: DrillReport): string {
  const { list, widthMs } = points(report.timeline, report.bucketMs);
  const endMs = Math.max(report.load.durationMs, list.length * widthMs);
  const plotBottom = HEIGHT - MARGIN.bottom;
  const x = (ms: number): number => MARGIN.left + (ms / endMs) * (WIDTH - MARGIN.left - MARGIN.right);
  const xTicks = ticks(endMs, 10).filter((t) => t <= endMs + 1e-6);
  const linear = (max: number): Axis => ({ x, y: (v: number) => plotBottom - (v / max) * (plotBottom - MARGIN.top) });

  // Throughput.
  const tMax = Math.max(1, report.throughput.baselinePerSecond, ...list.map((p) => p.throughput)) * 1.1;
  const tTicks = ticks(tMax, 4).map((value) => ({ value, label: `${value}/s` }));
  const tAxis = linear(tTicks[tTicks.length - 1]?.value ?? tMax);
  const baselineY = num(tAxis.y(report.throughput.baselinePerSecond));
  const throughput = frame(
    'throughput',
    'Successful responses per second',
    `<line class="baseline" x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${baselineY}" y2="${baselineY}"/>${polyline(list, (p) => p.throughput, tAxis, widthMs, 'line ok')}`,
    xTicks,
    tTicks,
    tAxis,
    report,
    endMs,
  );

  // Errors.
  const eMax = Math.max(1, ...list.map((p) => Math.max(p.failed, p.slow))) * 1.1;
  const eTicks = ticks(eMax, 4).map((value) => ({ value, label: `${value}/s` }));
  const eAxis = linear(eTicks[eTicks.length - 1]?.value ?? eMax);
  const barWidth = Math.max(1, x(widthMs) - x(0) - 0.5);
  const bars = list
    .map((p) => {
      const parts: string[] = [];
      if (p.slow > 0) parts.push(`<rect class="bar slow" x="${num(x(p.tMs))}" y="${num(eAxis.y(p.slow))}" width="${num(barWidth)}" height="${num(plotBottom - eAxis.y(p.slow))}"/>`);
      if (p.failed > 0) parts.push(`<rect class="bar failed" x="${num(x(p.tMs))}" y="${num(eAxis.y(p.failed))}" width="${num(barWidth)}" height="${num(plotBottom - eAxis.y(p.failed))}"/>`);
      return parts.join('');
    })
    .join('');
  const errors = frame('errors', 'Failed and slow requests per second', bars, xTicks, eTicks, eAxis, report, endMs);

  // Latency, logarithmic.
  const lMax = Math.max(1, ...list.map((p) => p.max));
  const decades: number[] = [];
  for (let v = 0.1; v < lMax * 10 && decades.length < 9; v *= 10) decades.push(v);
  const top = decades[decades.length - 1] ?? 1;
  const bottom = 0.1;
  const lAxis: Axis = {
    x,
    y: (v: number) => plotBottom - ((Math.log10(Math.max(bottom, v)) - Math.log10(bottom)) / (Math.log10(top) - Math.log10(bottom))) * (plotBottom - MARGIN.top),
  };
  const latency = frame(
    'latency',
    'Latency (p50, p99, max) in milliseconds, logarithmic',
    polyline(list, (p) => p.max, lAxis, widthMs, 'line max') + polyline(list, (p) => p.p99, lAxis, widthMs, 'line p99') + polyline(list, (p) => p.p50, lAxis, widthMs, 'line p50'),
    xTicks,
    decades.map((value) => ({ value, label: formatMs(value) })),
    lAxis,
    report,
    endMs,
  );

  const legend = (items: readonly [string, string][]): string =>
    `<p class="legend">${items.map(([cls, label]) => `<span class="key ${cls}"></span>${escapeHtml(label)}`).join(' ')}</p>`;
  const faultKeys: [string, string][] = [['fault', 'fault'], ['detection', 'detected'], ['restore', 'restored'], ['phase', 'during']];
  return [
    '<h2>Throughput</h2>',
    throughput,
    legend([['ok', 'successful responses/s'], ['baseline', 'baseline'], ...faultKeys]),
    '<h2>Errors</h2>',
    errors,
    legend([['failed', 'failed requests/s'], ['slow', `slow (> ${formatMs(report.load.slowMs)}) requests/s`], ...faultKeys]),
    '<h2>Latency</h2>',
    latency,
    legend([['p50', 'p50'], ['p99', 'p99'], ['max', 'max'], ...faultKeys]),
    `<div id="readout" class="readout" hidden></div>`,
    `<script type="application/json" id="points">${JSON.stringify({ widthMs, endMs, left: MARGIN.left, right: WIDTH - MARGIN.right, width: WIDTH, points: list.map((p) => [p.tMs, num(p.throughput), num(p.failed), num(p.slow), num(p.p50), num(p.p99), num(p.max)]) }).replace(/</g, '\\u003c')}</script>`,
  ].join('\n');
}

function table(head: readonly string[], rows: readonly (readonly string[])[], cls = ''): string {
  const th = head.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const body = rows.map((row) => `<tr>${row.map((cell) => `<td>${escapeHtml(cell)}</td>`).join('')}</tr>`).join('');
  return `<table${cls === '' ? '' : ` class="${cls}"`}><thead><tr>${th}</tr></thead><tbody>${body}</tbody></table>`;
}

const STYLE = `
:root { color-scheme: light; --ok: #2563eb; --bad: #dc2626; --slow: #f59e0b; --good: #16a34a; --muted: #6b7280; }
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1000px; padding: 0 16px; color: #111827; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 24px 0 6px; }
.verdict { display: inline-block; padding: 2px 10px; border-radius: 4px; color: #fff; font-weight: 600; }
.verdict.pass { background: var(--good); } .verdict.fail { background: var(--bad); }
.sub { color: var(--muted); margin: 0 0 12px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: 8px; }
.card { border: 1px solid #e5e7eb; border-radius: 6px; padding: 8px 10px; }
.card b { display: block; font-size: 20px; } .card span { color: var(--muted); font-size: 12px; }
table { border-collapse: collapse; width: 100%; margin: 4px 0; } th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e5e7eb; }
th { font-weight: 600; color: #374151; } td.fail { color: var(--bad); }
svg.chart { width: 100%; height: auto; display: block; background: #fff; border: 1px solid #e5e7eb; border-radius: 6px; }
.grid { stroke: #f3f4f6; } .axis { stroke: #9ca3af; } .tick { font-size: 11px; fill: var(--muted); }
.line { fill: none; stroke-width: 1.6; } .line.ok { stroke: var(--ok); } .line.p50 { stroke: #0891b2; } .line.p99 { stroke: #7c3aed; } .line.max { stroke: #d1d5db; }
.bar.failed { fill: var(--bad); } .bar.slow { fill: var(--slow); opacity: .6; }
.baseline { stroke: var(--muted); stroke-dasharray: 4 4; }
.phase { fill: #fee2e2; opacity: .45; }
.fault { stroke: var(--bad); stroke-width: 2; } .fault-label { font-size: 11px; fill: var(--bad); }
.restore { stroke: var(--good); stroke-width: 2; stroke-dasharray: 6 3; } .detection { stroke: #111827; stroke-dasharray: 2 3; }
.cursor { stroke: #111827; stroke-width: .6; }
.legend { color: var(--muted); font-size: 12px; margin: 4px 0 0; }
.key { display: inline-block; width: 14px; height: 3px; margin: 0 4px 3px 10px; vertical-align: middle; background: #999; }
.key.ok { background: var(--ok); } .key.failed, .key.fault { background: var(--bad); } .key.slow { background: var(--slow); }
.key.restore { background: var(--good); } .key.detection { background: #111827; } .key.baseline { background: var(--muted); }
.key.phase { background: #fee2e2; height: 10px; } .key.p50 { background: #0891b2; } .key.p99 { background: #7c3aed; } .key.max { background: #d1d5db; }
.readout { position: fixed; pointer-events: none; background: #111827; color: #fff; font-size: 12px; padding: 6px 8px; border-radius: 4px; white-space: pre; }
.warn { color: #92400e; } .err { color: var(--bad); }
`;

const SCRIPT = `
(function () {
  var data = JSON.parse(document.getElementById('points').textContent);
  var readout = document.getElementById('readout');
  function fmt(ms) { return ms >= 1000 ? (ms / 1000).toFixed(2) + 's' : (Math.round(ms * 10) / 10) + 'ms'; }
  document.querySelectorAll('svg.chart').forEach(function (svg) {
    var cursor = svg.querySelector('.cursor');
    svg.addEventListener('mousemove', function (event) {
      var box = svg.getBoundingClientRect();
      var vx = (event.clientX - box.left) * data.width / box.width;
      var ms = (vx - data.left) / (data.right - data.left) * data.endMs;
      var i = Math.floor(ms / data.widthMs);
      var p = data.points[i];
      if (!p) { readout.hidden = true; cursor.setAttribute('visibility', 'hidden'); return; }
      cursor.setAttribute('x1', vx); cursor.setAttribute('x2', vx); cursor.setAttribute('visibility', 'visible');
      readout.textContent = fmt(p[0]) + '\\nok ' + p[1] + '/s  failed ' + p[2] + '/s  slow ' + p[3] + '/s\\np50 ' + fmt(p[4]) + '  p99 ' + fmt(p[5]) + '  max ' + fmt(p[6]);
      readout.style.left = (event.clientX + 12) + 'px';
      readout.style.top = (event.clientY + 12) + 'px';
      readout.hidden = false;
    });
    svg.addEventListener('mouseleave', function () { readout.hidden = true; cursor.setAttribute('visibility', 'hidden'); });
  });
})();
`;

/** The complete HTML document for `report`. */
export function renderHtml(report: DrillReport): string {
  const r = report.requests;
  const card = (value: string, label: string): string => `<div class="card"><b>${escapeHtml(value)}</b><span>${escapeHtml(label)}</span></div>`;
  const worstDetection = report.faults.reduce<number | null>((worst, f) => (f.detection === null ? worst : Math.max(worst ?? 0, f.detection.afterMs)), null);
  const worstRecovery = report.faults.reduce((worst, f) => Math.max(worst, f.recovery.afterMs), 0);
  const load = report.load.mode === 'rate' ? `${report.load.rate} req/s, open loop` : `${report.load.concurrency} clients, closed loop`;
  const cards = [
    card(String(r.sent), 'requests sent'),
    card(`${r.failed} (${r.failedPercent}%)`, 'failed'),
    card(`${r.slow} (${r.slowPercent}%)`, `slow (> ${formatMs(report.load.slowMs)})`),
    card(report.retries.count === null ? '—' : String(report.retries.count), 'retries by Ballast'),
    card(worstDetection === null ? '—' : formatMs(worstDetection), 'detection (slowest fault)'),
    card(formatMs(worstRecovery), 'recovery (slowest fault)'),
    card(`${report.throughput.dipPercent}%`, `throughput dip (baseline ${report.throughput.baselinePerSecond}/s)`),
    card(formatMs(report.latency.overall.p99Ms), 'p99 latency overall'),
  ].join('');
  const latencyRows = (['before', 'during', 'after', 'overall'] as const)
    .map((phase) => [phase, report.latency[phase]] as const)
    .filter((entry) => entry[1] !== null)
    .map(([phase, l]) => [phase, formatMs(l?.p50Ms), formatMs(l?.p90Ms), formatMs(l?.p99Ms), formatMs(l?.maxMs), String(l?.count ?? 0)]);
  const faultRows = report.faults.map((f) => [
    formatMs(f.injectedAtMs ?? f.atMs),
    f.name,
    f.detection === null ? 'not detected' : `${formatMs(f.detection.afterMs)} (${describeEvent(f.detection.event)})`,
    formatMs(f.recovery.afterMs),
    String(f.failed),
    f.restoredAtMs === null ? '—' : `${formatMs(f.restoredAtMs)}${f.restoreDetection === null ? '' : `, back after ${formatMs(f.restoreDetection.afterMs)}`}`,
    f.dnsSwitch === null ? '—' : f.dnsSwitch.afterMs === null ? 'no switch seen' : `${formatMs(f.dnsSwitch.afterMs)} → ${(f.dnsSwitch.to ?? []).join(', ')}`,
  ]);
  const thresholdRows = report.thresholds.map((t) => [
    t.passed ? 'ok' : 'FAILED',
    t.name,
    t.unit === 'ms' ? formatMs(t.limit) : t.unit === 'percent' ? `${t.limit}%` : String(t.limit),
    t.actual === null ? 'not measured' : t.unit === 'ms' ? formatMs(t.actual) : t.unit === 'percent' ? `${t.actual}%` : String(t.actual),
  ]);
  const eventRows = report.events.slice(0, 500).map((e) => [formatMs(e.atMs), describeEvent(e)]);
  const errorKinds = Object.entries(r.errors).map(([kind, count]) => [kind, String(count)]);
  const sections = [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>Ballast drill: ${escapeHtml(report.name)}</title>`,
    `<style>${STYLE}</style></head><body>`,
    `<h1>${escapeHtml(report.name)} <span class="verdict ${report.passed ? 'pass' : 'fail'}">${report.passed ? 'PASSED' : 'FAILED'}</span></h1>`,
    `<p class="sub">${escapeHtml(`${report.load.method} ${report.target.url}${report.target.dnsServers.length > 0 ? ` via DNS ${report.target.dnsServers.join(', ')}` : ''} · ${load} · ${formatMs(report.load.durationMs)} · started ${report.startedAt} · events: ${report.eventSource} · Ballast ${report.ballastVersion}`)}</p>`,
    `<div class="cards">${cards}</div>`,
    charts(report),
    '<h2>Faults</h2>',
    report.faults.length === 0 ? '<p>No faults in this drill.</p>' : table(['at', 'fault', 'detection', 'recovery', 'failed', 'restore', 'DNS switch'], faultRows),
    '<h2>Latency by phase</h2>',
    table(['phase', 'p50', 'p90', 'p99', 'max', 'requests'], latencyRows),
    errorKinds.length === 0 ? '' : `<h2>Failures by kind</h2>${table(['kind', 'requests'], errorKinds)}`,
    report.thresholds.length === 0 ? '' : `<h2>Thresholds</h2>${table(['', 'threshold', 'limit', 'actual'], thresholdRows)}`,
    eventRows.length === 0 ? '' : `<h2>Ballast events (${escapeHtml(report.eventSource)})</h2>${table(['at', 'event'], eventRows)}`,
    ...report.warnings.map((w) => `<p class="warn">warning: ${escapeHtml(w)}</p>`),
    ...report.errors.map((e) => `<p class="err">error: ${escapeHtml(e)}</p>`),
    `<script>${SCRIPT}</script>`,
    '</body></html>',
  ];
  return sections.filter((s) => s !== '').join('\n');
}
