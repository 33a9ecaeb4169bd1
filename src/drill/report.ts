/**
 * Turns what a drill recorded into its report: the JSON document scripts and
 * CI read (`DrillReport`, format `ballast-drill/1`; a stable contract,
 * documented in docs/drills.md) and the text summary people read.
 *
 * Definitions (all times in ms from the start of the load):
 * - a fault's *window* runs from its injection to the next fault's injection
 *   (or the end of the drill);
 * - *detection*: the first state change of the fault's kind (a server going
 *   down, ejected, drained, disabled; a pool degraded or empty; a site down;
 *   DNS answers changed) at or after the injection, narrowed to `affects`
 *   when given (then it may come after the next fault);
 * - *DNS switch* (site drills): when every DNS server that still answers
 *   gave an answer other than its answer before the fault, looking until
 *   the fault's restore or the next fault;
 * - *recovery*: the scheduled time of the last failed request in the window,
 *   minus the injection time (0 when nothing failed): every request sent
 *   after it succeeded;
 * - phases: *before* = until the first fault, *during* = until the last
 *   restore or recovery (whichever is later), *after* = the rest;
 * - *throughput*: successful responses per second by completion time;
 *   the baseline is the *before* phase, the dip the lowest 1-second window
 *   from the first fault to the end of the load.
 * Counts per fault and per phase use the 100 ms buckets, so their edges are
 * exact to a bucket; totals are exact.
 */
import type { BallastEventType } from '../core/events.js';
import { VERSION } from '../core/version.js';
import { formatHostPort } from '../core/server.js';
import { STATUS_CLASSES, type StatusClass, type TimeBuckets } from './buckets.js';
import type { DnsObservation } from './dns.js';
import type { EventSourceKind, ObservedEvent } from './events.js';
import type { FaultOutcome } from './faults.js';
import type { LatencyHistogram } from './histogram.js';
import type { LoadTotals } from './load.js';
import type { Affects, FaultAction, FaultSpec, Scenario } from './scenario.js';

export const REPORT_FORMAT = 'ballast-drill/1';

export interface LatencySummary {
  /** Requests (finished, successful or not) in the phase. */
  readonly count: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

export interface Span {
  readonly startMs: number;
  readonly endMs: number;
}

export interface EventReport {
  readonly atMs: number;
  readonly type: BallastEventType;
  readonly pool?: string;
  readonly server?: string;
  readonly site?: string;
  readonly reason?: string;
}

export interface FaultReport {
  readonly name: string;
  readonly action: FaultAction;
  /** Planned time. */
  readonly atMs: number;
  /** When the action actually began; null when it never ran (the drill was stopped). */
  readonly injectedAtMs: number | null;
  readonly restoreAtMs: number | null;
  readonly restoredAtMs: number | null;
  /** First matching state change; null when none was seen. */
  readonly detection: { readonly afterMs: number; readonly event: EventReport } | null;
  readonly recovery: { readonly afterMs: number; readonly lastFailedAtMs: number | null };
  /** First state change back after the restore. */
  readonly restoreDetection: { readonly afterMs: number; readonly event: EventReport } | null;
  /** Requests scheduled in the fault's window that failed / were slow. */
  readonly failed: number;
  readonly slow: number;
  /** Site drills: when every DNS server still answering had changed its answer. */
  readonly dnsSwitch: { readonly afterMs: number | null; readonly from: readonly string[]; readonly to: readonly string[] | null } | null;
  readonly errors: readonly string[];
}

export type ThresholdName = 'max-failed' | 'max-recovery' | 'max-detection' | 'max-p99' | 'max-dns-switch';

export interface ThresholdResult {
  readonly name: ThresholdName;
  readonly limit: number;
  readonly unit: 'requests' | 'percent' | 'ms';
  /** null when the value could not be measured (e.g. no detection seen); that fails the threshold. */
  readonly actual: number | null;
  readonly passed: boolean;
}

export interface TimelinePoint {
  /** Start of the bucket. */
  readonly tMs: number;
  readonly sent: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly slow: number;
  /** Successful responses completed in the bucket, per second. */
  readonly throughputPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

export interface DrillReport {
  readonly format: typeof REPORT_FORMAT;
  readonly ballastVersion: string;
  readonly name: string;
  /** ISO time of the start of the load. */
  readonly startedAt: string;
  /** Every threshold met and the drill ran as planned (no errors). */
  readonly passed: boolean;
  readonly target: { readonly url: string; readonly dnsServers: readonly string[] };
  readonly load: {
    readonly mode: 'rate' | 'concurrency';
    readonly rate: number | null;
    readonly concurrency: number | null;
    readonly durationMs: number;
    readonly warmupMs: number;
    readonly method: string;
    readonly path: string;
    readonly timeoutMs: number;
    readonly slowMs: number;
  };
  readonly bucketMs: number;
  readonly requests: {
    readonly sent: number;
    readonly succeeded: number;
    readonly failed: number;
    readonly failedPercent: number;
    readonly slow: number;
    readonly slowPercent: number;
    readonly statusClasses: Readonly<Record<StatusClass, number>>;
    /** Failures by kind: `refused`, `reset`, `timeout`, … and `http-NNN` for unexpected statuses. */
    readonly errors: Readonly<Record<string, number>>;
  };
  /** Requests Ballast retried on another server; null when the drill had no way to count them. */
  readonly retries: { readonly count: number | null; readonly source: RetrySource | null };
  readonly throughput: { readonly baselinePerSecond: number; readonly minPerSecond: number; readonly minAtMs: number | null; readonly dipPercent: number };
  readonly latency: { readonly before: LatencySummary | null; readonly during: LatencySummary | null; readonly after: LatencySummary | null; readonly overall: LatencySummary };
  readonly phases: { readonly before: Span | null; readonly during: Span | null; readonly after: Span | null };
  readonly faults: readonly FaultReport[];
  readonly eventSource: EventSourceKind;
  readonly events: readonly EventReport[];
  readonly dns: {
    readonly name: string;
    readonly type: 'A' | 'AAAA';
    readonly intervalMs: number;
    readonly observations: readonly { readonly atMs: number; readonly server: string; readonly answer: readonly string[] | null }[];
  } | null;
  readonly thresholds: readonly ThresholdResult[];
  readonly warnings: readonly string[];
  readonly errors: readonly string[];
  readonly timeline: readonly TimelinePoint[];
}

export type RetrySource = 'metrics' | 'access-log';

/** Everything a finished drill hands to {@link buildReport}. */
export interface DrillRecording {
  readonly scenario: Scenario;
  /** Wall-clock ms at time 0 of the load. */
  readonly startWall: number;
  readonly buckets: TimeBuckets;
  readonly totals: LoadTotals;
  readonly faults: readonly FaultOutcome[];
  readonly eventSource: EventSourceKind;
  readonly events: readonly ObservedEvent[];
  readonly dns: readonly DnsObservation[] | undefined;
  readonly retries: { readonly count: number | null; readonly source: RetrySource | null };
  readonly warnings: readonly string[];
  readonly errors: readonly string[];
}

const FAULT_EVENTS: ReadonlySet<BallastEventType> = new Set([
  'server-down',
  'server-ejected',
  'server-draining',
  'server-disabled',
  'server-weight',
  'pool-degraded',
  'pool-empty',
  'site-down',
  'dns-changed',
]);
const RESTORE_EVENTS: ReadonlySet<BallastEventType> = new Set([
  'server-up',
  'server-restored',
  'server-enabled',
  'server-weight',
  'pool-restored',
  'site-up',
  'dns-changed',
]);
/** Events may carry a time a little before the drill's own record of the fault (two clocks); this much is tolerated. */
const CLOCK_TOLERANCE_MS = 20;

const round1 = (value: number): number => Math.round(value * 10) / 10;
const round2 = (value: number): number => Math.round(value * 100) / 100;

function summarize(histogram: LatencyHistogram): LatencySummary {
  return {
    count: histogram.count,
    p50Ms: round2(histogram.percentile(50)),
    p90Ms: round2(histogram.percentile(90)),
    p99Ms: round2(histogram.percentile(99)),
    maxMs: round2(histogram.maxMs),
  };
}

function hasFilter(affects: Affects): boolean {
  return affects.pool !== undefined || affects.server !== undefined || affects.site !== undefined;
}

function matches(event: EventReport, affects: Affects): boolean {
  if (affects.server !== undefined && event.server !== affects.server) return false;
  if (affects.pool !== undefined && event.pool !== affects.pool) return false;
  if (affects.site !== undefined && event.site !== affects.site && event.type !== 'dns-changed') return false;
  return true;
}

function firstEvent(events: readonly EventReport[], kinds: ReadonlySet<BallastEventType>, from: number, to: number, affects: Affects): EventReport | undefined {
  return events.find((event) => kinds.has(event.type) && event.atMs >= from - CLOCK_TOLERANCE_MS && event.atMs < to && matches(event, affects));
}

/** When every DNS server that still answers has moved away from its answer before `from`. */
function dnsSwitch(observations: readonly DnsObservation[], from: number, to: number): FaultReport['dnsSwitch'] {
  const servers = [...new Set(observations.map((o) => o.server))];
  let switchedAt = -1;
  let before: readonly string[] | null = null;
  let after: readonly string[] | null = null;
  let live = 0;
  for (const server of servers) {
    const mine = observations.filter((o) => o.server === server);
    const pre = [...mine].reverse().find((o) => o.atMs <= from)?.answer ?? null;
    before ??= pre;
    const post = mine.filter((o) => o.atMs > from && o.atMs < to);
    const final = post.length > 0 ? (post[post.length - 1] as DnsObservation).answer : pre;
    if (final === null) continue;
    live++;
    const change = post.find((o) => o.answer !== null && o.answer.join(',') !== (pre ?? []).join(','));
    if (change === undefined) return { afterMs: null, from: pre ?? [], to: null };
    after = change.answer;
    switchedAt = Math.max(switchedAt, change.atMs);
  }
  if (live === 0) return { afterMs: null, from: before ?? [], to: null };
  return { afterMs: Math.round(switchedAt - from), from: before ?? [], to: after };
}

function checkThresholds(scenario: Scenario, report: Omit<DrillReport, 'thresholds' | 'passed'>): ThresholdResult[] {
  const results: ThresholdResult[] = [];
  const t = scenario.thresholds;
  const add = (name: ThresholdName, limit: number, unit: ThresholdResult['unit'], actual: number | null): void => {
    results.push({ name, limit, unit, actual, passed: actual !== null && actual <= limit });
  };
  const maxOf = (values: readonly (number | null)[]): number | null => (values.some((v) => v === null) ? null : Math.max(0, ...(values as number[])));
  if (t.maxFailed !== undefined) {
    if ('count' in t.maxFailed) add('max-failed', t.maxFailed.count, 'requests', report.requests.failed);
    else add('max-failed', t.maxFailed.percent, 'percent', report.requests.failedPercent);
  }
  if (t.maxRecoveryMs !== undefined) add('max-recovery', t.maxRecoveryMs, 'ms', maxOf(report.faults.map((f) => f.recovery.afterMs)));
  if (t.maxDetectionMs !== undefined) add('max-detection', t.maxDetectionMs, 'ms', maxOf(report.faults.map((f) => f.detection?.afterMs ?? null)));
  if (t.maxP99Ms !== undefined) add('max-p99', t.maxP99Ms, 'ms', report.latency.overall.p99Ms);
  if (t.maxDnsSwitchMs !== undefined) {
    const switches = report.faults.filter((f) => f.dnsSwitch !== null).map((f) => f.dnsSwitch?.afterMs ?? null);
    add('max-dns-switch', t.maxDnsSwitchMs, 'ms', switches.length === 0 ? null : maxOf(switches));
  }
  return results;
}

/** Builds the report. O(buckets × faults + events × faults). */
export function buildReport(recording: DrillRecording): DrillReport {
  const { scenario, buckets, totals } = recording;
  const bucketMs = buckets.bucketMs;
  const loadEnd = scenario.load.durationMs;
  const end = Math.max(loadEnd, buckets.buckets.length * bucketMs);
  const events: EventReport[] = recording.events
    .map(({ event, wallTime }) => ({
      atMs: Math.round(wallTime - recording.startWall),
      type: event.type,
      ...(event.pool === undefined ? {} : { pool: event.pool }),
      ...(event.server === undefined ? {} : { server: event.server }),
      ...(event.site === undefined ? {} : { site: event.site }),
      ...(event.reason === undefined ? {} : { reason: event.reason }),
    }))
    .filter((event) => event.atMs >= 0 && event.atMs <= end + 60_000)
    .sort((a, b) => a.atMs - b.atMs);

  const injected = scenario.faults.map((_fault, i) => recording.faults[i]?.injectedAtMs);
  const faults = scenario.faults.map((fault: FaultSpec, i): FaultReport => {
    const outcome = recording.faults[i];
    const at = outcome?.injectedAtMs;
    const restoredAt = outcome?.restoredAtMs;
    const nextAt = injected.slice(i + 1).find((value): value is number => value !== undefined) ?? end;
    const common = {
      name: fault.name,
      action: fault.action,
      atMs: fault.at,
      injectedAtMs: at === undefined ? null : Math.round(at),
      restoreAtMs: fault.restore?.at ?? null,
      restoredAtMs: restoredAt === undefined ? null : Math.round(restoredAt),
      errors: outcome?.errors ?? [],
    };
    if (at === undefined) {
      return { ...common, detection: null, recovery: { afterMs: 0, lastFailedAtMs: null }, restoreDetection: null, failed: 0, slow: 0, dnsSwitch: null };
    }
    const filtered = hasFilter(fault.affects);
    const detectionEvent = firstEvent(events, FAULT_EVENTS, at, filtered ? end + 60_000 : nextAt, fault.affects);
    const restoreEvent = restoredAt === undefined ? undefined : firstEvent(events, RESTORE_EVENTS, restoredAt, end + 60_000, fault.affects);
    const lastFailed = buckets.lastFailure(at, nextAt);
    return {
      ...common,
      detection: detectionEvent === undefined ? null : { afterMs: Math.max(0, Math.round(detectionEvent.atMs - at)), event: detectionEvent },
      recovery: { afterMs: lastFailed === undefined ? 0 : Math.round(lastFailed - at), lastFailedAtMs: lastFailed === undefined ? null : Math.round(lastFailed) },
      restoreDetection:
        restoreEvent === undefined || restoredAt === undefined ? null : { afterMs: Math.max(0, Math.round(restoreEvent.atMs - restoredAt)), event: restoreEvent },
      failed: buckets.sum(at, nextAt, (b) => b.failed),
      slow: buckets.sum(at, nextAt, (b) => b.slow),
      dnsSwitch: recording.dns === undefined || recording.dns.length === 0 ? null : dnsSwitch(recording.dns, at, Math.min(nextAt, restoredAt ?? nextAt)),
    };
  });

  // Phases, aligned to buckets.
  const align = (ms: number): number => Math.min(loadEnd, Math.max(0, Math.round(ms / bucketMs) * bucketMs));
  const firstFault = faults.find((f) => f.injectedAtMs !== null)?.injectedAtMs ?? null;
  let duringEnd = firstFault ?? 0;
  for (const fault of faults) {
    if (fault.injectedAtMs === null) continue;
    duringEnd = Math.max(duringEnd, fault.injectedAtMs, fault.restoredAtMs ?? 0, fault.recovery.lastFailedAtMs === null ? 0 : fault.recovery.lastFailedAtMs + bucketMs);
  }
  const beforeSpan: Span | null = firstFault === null ? { startMs: 0, endMs: loadEnd } : align(firstFault) > 0 ? { startMs: 0, endMs: align(firstFault) } : null;
  const duringSpan: Span | null = firstFault === null ? null : { startMs: align(firstFault), endMs: Math.max(align(firstFault) + bucketMs, align(duringEnd)) };
  const afterSpan: Span | null = duringSpan !== null && duringSpan.endMs < loadEnd ? { startMs: duringSpan.endMs, endMs: loadEnd } : null;
  const phaseLatency = (span: Span | null): LatencySummary | null => (span === null ? null : summarize(buckets.latency(span.startMs, span.endMs)));

  // Throughput.
  const list = buckets.buckets;
  const perSecond = (count: number, bucketsCount: number): number => (bucketsCount === 0 ? 0 : (count * 1000) / (bucketsCount * bucketMs));
  const loadBuckets = Math.ceil(loadEnd / bucketMs);
  const baselineFrom = 1;
  const baselineTo = beforeSpan === null ? 0 : Math.floor(beforeSpan.endMs / bucketMs);
  let baseline = 0;
  if (baselineTo > baselineFrom) baseline = perSecond(buckets.sum(baselineFrom * bucketMs, baselineTo * bucketMs, (b) => b.throughput), baselineTo - baselineFrom);
  else if (baselineTo > 0) baseline = perSecond(buckets.sum(0, baselineTo * bucketMs, (b) => b.throughput), baselineTo);
  else if (scenario.load.mode === 'rate') baseline = scenario.load.rate;
  let minPerSecond = baseline;
  let minAt: number | null = null;
  if (duringSpan !== null) {
    const from = Math.floor(duringSpan.startMs / bucketMs);
    const width = Math.min(Math.round(1000 / bucketMs), Math.max(1, loadBuckets - from));
    for (let start = from; start + width <= loadBuckets; start++) {
      let count = 0;
      for (let i = start; i < start + width; i++) count += list[i]?.throughput ?? 0;
      const rate = perSecond(count, width);
      if (minAt === null || rate < minPerSecond) {
        minPerSecond = rate;
        minAt = start * bucketMs;
      }
    }
  }
  const dip = baseline > 0 ? Math.max(0, ((baseline - minPerSecond) / baseline) * 100) : 0;

  // Totals.
  const statusClasses = Object.fromEntries(STATUS_CLASSES.map((name, i) => [name, buckets.sum(0, end, (b) => b.statusClasses[i] ?? 0)])) as Record<StatusClass, number>;
  const errors: Record<string, number> = {};
  for (const bucket of list) for (const [kind, count] of bucket.errors) errors[kind] = (errors[kind] ?? 0) + count;
  const percent = (n: number): number => (totals.sent === 0 ? 0 : Math.round((n / totals.sent) * 100_000) / 1000);

  const timeline: TimelinePoint[] = list.map((bucket, i) => ({
    tMs: i * bucketMs,
    sent: bucket.sent,
    succeeded: bucket.succeeded,
    failed: bucket.failed,
    slow: bucket.slow,
    throughputPerSecond: round1(perSecond(bucket.throughput, 1)),
    p50Ms: round2(bucket.latency.percentile(50)),
    p99Ms: round2(bucket.latency.percentile(99)),
    maxMs: round2(bucket.latency.maxMs),
  }));

  const partial: Omit<DrillReport, 'thresholds' | 'passed'> = {
    format: REPORT_FORMAT,
    ballastVersion: VERSION,
    name: scenario.name,
    startedAt: new Date(recording.startWall).toISOString(),
    target: { url: scenario.target.url, dnsServers: scenario.target.dnsServers.map(formatHostPort) },
    load: {
      mode: scenario.load.mode,
      rate: scenario.load.mode === 'rate' ? scenario.load.rate : null,
      concurrency: scenario.load.mode === 'concurrency' ? scenario.load.concurrency : null,
      durationMs: scenario.load.durationMs,
      warmupMs: scenario.load.warmupMs,
      method: scenario.load.method,
      path: scenario.load.path,
      timeoutMs: scenario.load.timeoutMs,
      slowMs: scenario.load.slowMs,
    },
    bucketMs,
    requests: {
      sent: totals.sent,
      succeeded: totals.succeeded,
      failed: totals.failed,
      failedPercent: percent(totals.failed),
      slow: totals.slow,
      slowPercent: percent(totals.slow),
      statusClasses,
      errors,
    },
    retries: recording.retries,
    throughput: { baselinePerSecond: round1(baseline), minPerSecond: round1(minPerSecond), minAtMs: minAt, dipPercent: round1(dip) },
    latency: { before: phaseLatency(beforeSpan), during: phaseLatency(duringSpan), after: phaseLatency(afterSpan), overall: summarize(buckets.latency(0, end)) },
    phases: { before: beforeSpan, during: duringSpan, after: afterSpan },
    faults,
    eventSource: recording.eventSource,
    events,
    dns:
      recording.dns === undefined
        ? null
        : {
            name: new URL(scenario.target.url).hostname,
            type: scenario.target.dnsType,
            intervalMs: scenario.target.dnsInterval,
            observations: recording.dns.map((o) => ({ atMs: Math.round(o.atMs), server: o.server, answer: o.answer })),
          },
    warnings: recording.warnings,
    errors: [...recording.errors, ...faults.flatMap((f) => f.errors)],
    timeline,
  };
  const thresholds = checkThresholds(scenario, partial);
  return { ...partial, thresholds, passed: partial.errors.length === 0 && thresholds.every((t) => t.passed) };
}

// ---------------------------------------------------------------- text

/** `1.23s` above a second, `45.6ms` below. */
export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  if (Math.abs(ms) >= 1000) return `${(ms / 1000).toFixed(2)}s`;
  if (Math.abs(ms) >= 10) return `${Math.round(ms)}ms`;
  return `${ms.toFixed(1)}ms`;
}

export function describeEvent(event: EventReport): string {
  const subject = event.server !== undefined ? `${event.pool ?? ''}/${event.server}` : event.pool ?? event.site ?? '';
  return `${event.type}${subject === '' ? '' : ` ${subject}`}${event.reason === undefined ? '' : ` (${event.reason})`}`;
}

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + ' '.repeat(width - text.length);
}

function thresholdText(t: ThresholdResult): string {
  const value = (v: number | null): string => (v === null ? 'not measured' : t.unit === 'ms' ? formatMs(v) : t.unit === 'percent' ? `${v}%` : String(v));
  return `${t.passed ? 'ok  ' : 'FAIL'} ${t.name} ${value(t.limit)}: actual ${value(t.actual)}`;
}

/** The terminal summary. */
export function formatText(report: DrillReport): string {
  const lines: string[] = [];
  const load = report.load.mode === 'rate' ? `${report.load.rate} req/s (open loop)` : `${report.load.concurrency} clients (closed loop)`;
  lines.push(`Ballast drill "${report.name}": ${report.load.method} ${report.target.url} at ${load} for ${formatMs(report.load.durationMs)}`);
  if (report.target.dnsServers.length > 0) lines.push(`  resolved through ${report.target.dnsServers.join(', ')}`);
  const r = report.requests;
  const retries = report.retries.count === null ? 'not counted' : String(report.retries.count);
  lines.push(`Requests    ${r.sent} sent, ${r.succeeded} ok, ${r.failed} failed (${r.failedPercent}%), ${r.slow} slow >${formatMs(report.load.slowMs)} (${r.slowPercent}%), retries ${retries}`);
  const errorKinds = Object.entries(r.errors).map(([kind, count]) => `${kind} ${count}`);
  if (errorKinds.length > 0) lines.push(`  failures  ${errorKinds.join(', ')}`);
  const t = report.throughput;
  lines.push(`Throughput  baseline ${t.baselinePerSecond}/s, lowest 1 s ${t.minPerSecond}/s${t.minAtMs === null ? '' : ` at ${formatMs(t.minAtMs)}`} (dip ${t.dipPercent}%)`);
  lines.push(`Latency     ${pad('', 8)}${pad('p50', 9)}${pad('p90', 9)}${pad('p99', 9)}${pad('max', 9)}requests`);
  for (const phase of ['before', 'during', 'after', 'overall'] as const) {
    const l = report.latency[phase];
    if (l === null) continue;
    lines.push(`            ${pad(phase, 8)}${pad(formatMs(l.p50Ms), 9)}${pad(formatMs(l.p90Ms), 9)}${pad(formatMs(l.p99Ms), 9)}${pad(formatMs(l.maxMs), 9)}${l.count}`);
  }
  if (report.faults.length > 0) lines.push(`Faults      (events: ${report.eventSource})`);
  for (const f of report.faults) {
    const at = formatMs(f.injectedAtMs ?? f.atMs);
    const detected = f.detection === null ? 'not detected' : `detected after ${formatMs(f.detection.afterMs)} (${describeEvent(f.detection.event)})`;
    lines.push(`  ${pad(at, 7)} ${f.name}: ${detected}; recovered after ${formatMs(f.recovery.afterMs)}; ${f.failed} failed, ${f.slow} slow`);
    if (f.restoredAtMs !== null) {
      const back = f.restoreDetection === null ? 'no state change seen' : `back after ${formatMs(f.restoreDetection.afterMs)} (${describeEvent(f.restoreDetection.event)})`;
      lines.push(`  ${pad(formatMs(f.restoredAtMs), 7)} restored: ${back}`);
    }
    if (f.dnsSwitch !== null) {
      const to = f.dnsSwitch.to === null ? 'no switch seen' : `${f.dnsSwitch.from.join(',') || '-'} → ${f.dnsSwitch.to.join(',')}`;
      lines.push(`          DNS answers switched after ${formatMs(f.dnsSwitch.afterMs)}: ${to}`);
    }
  }
  if (report.events.length > 0) {
    lines.push('Events');
    for (const event of report.events.slice(0, 30)) lines.push(`  ${pad(formatMs(event.atMs), 7)} ${describeEvent(event)}`);
    if (report.events.length > 30) lines.push(`  … ${report.events.length - 30} more`);
  }
  if (report.thresholds.length > 0) {
    lines.push('Thresholds');
    for (const t of report.thresholds) lines.push(`  ${thresholdText(t)}`);
  }
  for (const warning of report.warnings) lines.push(`warning: ${warning}`);
  for (const error of report.errors) lines.push(`error: ${error}`);
  lines.push(report.passed ? 'Result: PASSED' : 'Result: FAILED');
  return lines.join('\n');
}
