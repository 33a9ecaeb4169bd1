/**
 * `ballast drill`: the command line of the failover drill. Exit codes:
 * 0 the drill ran and met every threshold; 1 a threshold was missed;
 * 2 usage error or invalid scenario; 3 the drill could not run as planned
 * (a process did not start, the target did not answer, a fault failed).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, isBallastError } from '../core/errors.js';
import type { ConfigIssue } from '../core/errors.js';
import { formatHostPort } from '../core/server.js';
import { startDrillDemo, type DrillDemo } from './demo.js';
import { renderHtml } from './html.js';
import { formatMs, formatText, type DrillReport } from './report.js';
import { DrillError, runDrill, type DrillEnvironment, type DrillProgress } from './run.js';
import { buildScenario, loadScenario, parseFlagYaml, type Override, type Scenario } from './scenario.js';

export const DRILL_EXIT = { PASSED: 0, THRESHOLD_MISSED: 1, USAGE: 2, DRILL_FAILED: 3 } as const;

export const DRILL_HELP = `Usage: ballast drill [options]

Runs load through a Ballast listener, injects faults, and reports how long
detection and recovery took and what users saw.

Scenario:
  --demo                  self-contained drill: 3 local backends, Ballast in this
                          process, 200 req/s for 6 s, app-2 SIGKILLed at 2 s and
                          restarted at 4 s
  -s, --scenario FILE     scenario file (YAML); flags below override it
  --url URL               target listener URL (the load goes only there)
  --dns-server ADDR       site drill: resolve the URL's host through this DNS
                          server (repeatable); answers are watched during the drill
  --rate N                open-loop load: N requests/s (default 100)
  --concurrency N         closed-loop load: N clients (hides stalls; prefer --rate)
  --duration D            load duration, e.g. 30s (default 10s)
  --warmup D              send the load for D first without recording it
  --method M, --path P    request method (default GET) and path (default the URL's)
  --header 'NAME: VALUE'  extra request header (repeatable)
  --timeout D             a request fails after D (default 2s)
  --slow D                a request slower than D is slow (default 1s)
  --admin URL             Ballast admin listener: events, admin faults, retries
  --token TOKEN           admin bearer token (default $BALLAST_ADMIN_TOKEN)
  --process YAML          a process to launch, e.g. '{name: app-2, command: [node, app.js]}'
  --fault YAML            a fault, e.g. '{at: 2s, action: kill, process: app-2, restore: {at: 5s}}'

Thresholds (exit 1 when one is missed):
  --max-failed N|N%       failed requests allowed
  --max-recovery D        fault to last failed request
  --max-detection D       fault to Ballast's state change
  --max-p99 D             overall p99 latency
  --max-dns-switch D      fault to switched DNS answers (site drills)

Output:
  --json                  print the report as JSON (format ballast-drill/1)
  --html FILE             also write a self-contained HTML report with charts
  --dry-run               validate and print the plan; send nothing

Demo only:
  --no-retries            run the demo's pool with retries.attempts 0
  --demo-count-dir DIR    each demo backend appends a byte per answered request
                          to DIR/NAME.count (to check the drill's counts)

Exit codes: 0 passed, 1 a threshold was missed, 2 usage or scenario error,
3 the drill could not run as planned.`;

export interface DrillIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WriteStream | NodeJS.WritableStream;
  readonly env: NodeJS.ProcessEnv;
}

class UsageError extends Error {}

const OPTIONS = {
  demo: { type: 'boolean' },
  scenario: { type: 'string', short: 's' },
  url: { type: 'string' },
  'dns-server': { type: 'string', multiple: true },
  rate: { type: 'string' },
  concurrency: { type: 'string' },
  duration: { type: 'string' },
  warmup: { type: 'string' },
  method: { type: 'string' },
  path: { type: 'string' },
  header: { type: 'string', multiple: true },
  timeout: { type: 'string' },
  slow: { type: 'string' },
  admin: { type: 'string' },
  token: { type: 'string' },
  process: { type: 'string', multiple: true },
  fault: { type: 'string', multiple: true },
  'max-failed': { type: 'string' },
  'max-recovery': { type: 'string' },
  'max-detection': { type: 'string' },
  'max-p99': { type: 'string' },
  'max-dns-switch': { type: 'string' },
  json: { type: 'boolean' },
  html: { type: 'string' },
  'dry-run': { type: 'boolean' },
  'no-retries': { type: 'boolean' },
  'demo-count-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

/** A number when the text is one, else the text (so validation can say what is wrong with it). */
function numeric(text: string): number | string {
  return /^-?[0-9]+(\.[0-9]+)?$/.test(text) ? Number(text) : text;
}

/** Flag values in the scenario file's shape. */
function overridesFrom(values: Values): Override[] {
  const overrides: Override[] = [];
  const set = (flag: string, path: (string | number)[], value: unknown): void => {
    overrides.push({ flag, path, value, mode: 'set' });
  };
  if (values.url !== undefined) set('--url', ['target', 'url'], values.url);
  if (values['dns-server'] !== undefined) set('--dns-server', ['target', 'dnsServers'], values['dns-server']);
  if (values.rate !== undefined && values.concurrency !== undefined) throw new UsageError('give either --rate or --concurrency, not both');
  if (values.rate !== undefined) {
    set('--rate', ['load', 'concurrency'], undefined);
    set('--rate', ['load', 'rate'], numeric(values.rate));
  }
  if (values.concurrency !== undefined) {
    set('--concurrency', ['load', 'rate'], undefined);
    set('--concurrency', ['load', 'concurrency'], numeric(values.concurrency));
  }
  if (values.duration !== undefined) set('--duration', ['load', 'duration'], values.duration);
  if (values.warmup !== undefined) set('--warmup', ['load', 'warmup'], values.warmup === '0' ? 0 : values.warmup);
  if (values.method !== undefined) set('--method', ['load', 'method'], values.method.toUpperCase());
  if (values.path !== undefined) set('--path', ['load', 'path'], values.path);
  if (values.timeout !== undefined) set('--timeout', ['load', 'timeout'], values.timeout);
  if (values.slow !== undefined) set('--slow', ['load', 'slow'], values.slow);
  for (const header of values.header ?? []) {
    const colon = header.indexOf(':');
    if (colon <= 0) throw new UsageError(`--header ${JSON.stringify(header)}: write NAME: VALUE`);
    set('--header', ['load', 'headers', header.slice(0, colon).trim()], header.slice(colon + 1).trim());
  }
  if (values.admin !== undefined) set('--admin', ['admin', 'url'], values.admin);
  if (values.token !== undefined) set('--token', ['admin', 'token'], values.token);
  for (const text of values.process ?? []) overrides.push({ flag: '--process', path: ['processes'], value: parseFlagYaml('--process', text), mode: 'append' });
  for (const text of values.fault ?? []) overrides.push({ flag: '--fault', path: ['faults'], value: parseFlagYaml('--fault', text), mode: 'append' });
  if (values['max-failed'] !== undefined) set('--max-failed', ['thresholds', 'maxFailed'], numeric(values['max-failed']));
  if (values['max-recovery'] !== undefined) set('--max-recovery', ['thresholds', 'maxRecovery'], values['max-recovery']);
  if (values['max-detection'] !== undefined) set('--max-detection', ['thresholds', 'maxDetection'], values['max-detection']);
  if (values['max-p99'] !== undefined) set('--max-p99', ['thresholds', 'maxP99'], values['max-p99']);
  if (values['max-dns-switch'] !== undefined) set('--max-dns-switch', ['thresholds', 'maxDnsSwitch'], values['max-dns-switch']);
  return overrides;
}

function formatIssue(issue: ConfigIssue): string {
  return issue.line === 0 ? `${issue.file}: ${issue.message}` : `${issue.file}:${issue.line}:${issue.column}: ${issue.message}`;
}

/** The plan printed by --dry-run. */
export function describePlan(scenario: Scenario): string {
  const lines: string[] = [];
  const load = scenario.load;
  const shape = load.mode === 'rate' ? `${load.rate} req/s (open loop)` : `${load.concurrency} clients (closed loop)`;
  lines.push(`Drill "${scenario.name}"`);
  lines.push(`  load     ${load.method} ${scenario.target.url} (path ${load.path}) at ${shape} for ${formatMs(load.durationMs)}${load.warmupMs > 0 ? ` after a ${formatMs(load.warmupMs)} warm-up` : ''}, at most ${load.maxRequests} requests, timeout ${formatMs(load.timeoutMs)}`);
  if (scenario.target.dnsServers.length > 0) lines.push(`  dns      ${new URL(scenario.target.url).hostname} via ${scenario.target.dnsServers.map(formatHostPort).join(', ')} every ${formatMs(scenario.target.dnsInterval)}`);
  if (scenario.admin !== undefined) lines.push(`  admin    ${scenario.admin.url}${scenario.admin.token === undefined ? '' : ' (with token)'}`);
  for (const process of scenario.processes) lines.push(`  process  ${process.name}: ${process.command.join(' ')}`);
  for (const fault of scenario.faults) {
    lines.push(`  ${formatMs(fault.at).padEnd(8)} ${fault.action}: ${fault.name}${fault.restore === undefined ? '' : `, restored at ${formatMs(fault.restore.at)}`}`);
  }
  const t = scenario.thresholds;
  const thresholds = [
    t.maxFailed === undefined ? '' : `max-failed ${'count' in t.maxFailed ? t.maxFailed.count : `${t.maxFailed.percent}%`}`,
    t.maxRecoveryMs === undefined ? '' : `max-recovery ${formatMs(t.maxRecoveryMs)}`,
    t.maxDetectionMs === undefined ? '' : `max-detection ${formatMs(t.maxDetectionMs)}`,
    t.maxP99Ms === undefined ? '' : `max-p99 ${formatMs(t.maxP99Ms)}`,
    t.maxDnsSwitchMs === undefined ? '' : `max-dns-switch ${formatMs(t.maxDnsSwitchMs)}`,
  ].filter((s) => s !== '');
  if (thresholds.length > 0) lines.push(`  pass if  ${thresholds.join(', ')}`);
  return lines.join('\n');
}

function progressLine(progress: DrillProgress): string {
  if (progress.elapsedMs < 0) return `\r\x1b[Kwarming up, ${formatMs(-progress.elapsedMs)} to go`;
  const elapsed = Math.min(progress.elapsedMs, progress.durationMs);
  const event = progress.lastEvent === undefined ? '' : `  last event: ${progress.lastEvent}`;
  return `\r\x1b[K${formatMs(elapsed)}/${formatMs(progress.durationMs)}  sent ${progress.sent}  ok ${progress.succeeded}  failed ${progress.failed}  in flight ${progress.inFlight}${event}`;
}

/** Runs `ballast drill` with `argv` (the arguments after `drill`); resolves with the exit code. */
export async function runDrillCli(argv: readonly string[], io: DrillIo = { stdout: process.stdout, stderr: process.stderr, env: process.env }): Promise<number> {
  const err = (line: string): void => {
    io.stderr.write(`${line}\n`);
  };
  let values: Values;
  let overrides: Override[];
  try {
    const parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
    values = parsed.values;
    if (values.help === true) {
      io.stdout.write(`${DRILL_HELP}\n`);
      return DRILL_EXIT.PASSED;
    }
    if (parsed.positionals.length > 0) throw new UsageError(`unexpected argument "${parsed.positionals[0] ?? ''}"`);
    if (values.demo === true && (values.scenario !== undefined || values.url !== undefined)) throw new UsageError('--demo runs its own target; do not combine it with --scenario or --url');
    if (values.demo !== true && values.scenario === undefined && values.url === undefined) throw new UsageError('give --scenario FILE, --url URL or --demo');
    if (values.demo !== true && (values['no-retries'] === true || values['demo-count-dir'] !== undefined)) throw new UsageError('--no-retries and --demo-count-dir apply to --demo only');
    overrides = overridesFrom(values);
  } catch (error) {
    if (error instanceof ConfigError) {
      for (const issue of error.issues) err(formatIssue(issue));
      return DRILL_EXIT.USAGE;
    }
    err(`ballast drill: ${(error as Error).message}\n\nRun "ballast drill --help" for usage.`);
    return DRILL_EXIT.USAGE;
  }

  let demo: DrillDemo | undefined;
  const abort = new AbortController();
  let interrupts = 0;
  const onSignal = (): void => {
    interrupts++;
    if (interrupts === 1) {
      err('\nballast drill: stopping the load (press Ctrl+C again to quit at once)');
      abort.abort();
    } else {
      process.exit(130);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    let scenario: Scenario;
    let environment: DrillEnvironment = {};
    try {
      if (values.demo === true) {
        demo = await startDrillDemo({ retries: values['no-retries'] !== true, ...(values['demo-count-dir'] === undefined ? {} : { countDir: values['demo-count-dir'] }) });
        scenario = buildScenario(demo.scenario, 'demo', overrides);
        environment = demo.environment;
      } else {
        scenario = await loadScenario(values.scenario, overrides, io.env);
      }
    } catch (error) {
      if (error instanceof ConfigError) {
        for (const issue of error.issues) err(formatIssue(issue));
        return DRILL_EXIT.USAGE;
      }
      if (isBallastError(error)) {
        err(`ballast drill: ${error.message}`);
        return DRILL_EXIT.USAGE;
      }
      throw error;
    }
    if (values['dry-run'] === true) {
      io.stdout.write(`${describePlan(scenario)}\n`);
      return DRILL_EXIT.PASSED;
    }
    const tty = 'isTTY' in io.stderr && io.stderr.isTTY === true;
    if (!tty && values.json !== true) err(`running drill "${scenario.name}" for ${formatMs(scenario.load.durationMs)}…`);
    let report: DrillReport;
    try {
      report = await runDrill(
        scenario,
        { ...environment, defaultToken: io.env.BALLAST_ADMIN_TOKEN },
        { signal: abort.signal, ...(tty ? { onProgress: (progress: DrillProgress) => io.stderr.write(progressLine(progress)) } : {}) },
      );
    } catch (error) {
      if (tty) io.stderr.write('\r\x1b[K');
      if (error instanceof DrillError) {
        err(`ballast drill: ${error.message}`);
        return DRILL_EXIT.DRILL_FAILED;
      }
      throw error;
    }
    if (tty) io.stderr.write('\r\x1b[K');
    if (values.html !== undefined) {
      mkdirSync(dirname(values.html), { recursive: true });
      writeFileSync(values.html, renderHtml(report));
      if (values.json !== true) err(`HTML report written to ${values.html}`);
    }
    io.stdout.write(values.json === true ? `${JSON.stringify(report, null, 2)}\n` : `${formatText(report)}\n`);
    if (report.passed) return DRILL_EXIT.PASSED;
    return report.errors.length > 0 ? DRILL_EXIT.DRILL_FAILED : DRILL_EXIT.THRESHOLD_MISSED;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await demo?.close();
  }
}
