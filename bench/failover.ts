/**
 * `npm run bench:failover`: what clients see when a server dies or hangs.
 *
 * Three backends (separate Node processes, test/fixtures/backend-server.ts)
 * sit behind a load balancer that 50 keep-alive clients load with GETs. A few
 * seconds in, one backend is SIGKILLed (`kill`: a crash) or SIGSTOPped
 * (`hang`: it accepts connections and never answers). Measured per run:
 *
 * - errors: responses that were not 2xx (or failed), and when they happened
 *   relative to the fault;
 * - slow: responses that took at least `--slow-ms`, after the fault and
 *   before it (what the machine's own noise gives);
 * - removed after: time from the fault until the balancer took the server out
 *   of rotation (Ballast: its `server-ejected` / `server-down` event; HAProxy:
 *   its "Server app/b2 is DOWN" message);
 * - first rescued / rescued (Ballast): requests whose attempt on the failed
 *   server was retried on another one and answered 2xx — failures a client
 *   was spared — from Ballast's access log.
 *
 * Targets: `ballast` (the configuration docs/failover.md recommends),
 * `ballast-2s` (the same with HAProxy's default check timing — interval 2 s,
 * fall 3 — and no outlier detection, to separate check timing from retries)
 * and `haproxy` with its defaults (inter 2 s, fall 3, rise 2, retries 3, no
 * redispatch). Every target gets the same 1 s server response timeout. Rounds
 * interleave the targets; medians go to a markdown table, every run to
 * bench/results/failover.json. Only 127.0.0.1 is used and every run is bounded
 * in time. Run from the repository root after `tsc -p tsconfig.test.json`.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { startBackendProcess, type BackendProcess } from '../test/fixtures/backend-server.js';
import { percentile, runLoad, type LoadRecord } from '../test/fixtures/load-client.js';
import { freePorts, waitForHttp } from './lib/net.js';
import { ProcessGroup, versionOf, which, type ManagedProcess } from './lib/processes.js';
import { median } from './lib/report.js';

const SCENARIOS = ['kill', 'hang'] as const;
type Scenario = (typeof SCENARIOS)[number];
const TARGETS = ['ballast', 'ballast-2s', 'haproxy'] as const;
type Target = (typeof TARGETS)[number];

/** The compiled CLI, built by `tsc -p tsconfig.test.json` with this script. */
const BALLAST_CLI = 'build/src/cli/main.js';
/** The backend that fails in every run. */
const VICTIM = 'b2';
/** Server response timeout given to every target, milliseconds. */
const RESPONSE_TIMEOUT_MS = 1000;
const READY_TIMEOUT_MS = 15_000;

interface Options {
  readonly rounds: number;
  readonly durationS: number;
  readonly faultAtS: number;
  readonly concurrency: number;
  readonly slowMs: number;
  readonly scenarios: readonly Scenario[];
  readonly targets: readonly Target[];
  readonly out: string;
}

const USAGE = `Usage: npm run bench:failover -- [options]

Options:
  --rounds N          rounds; each runs every target in every scenario   default 2
  --duration SEC      seconds of load per run                            default 20
  --fault-at SEC      seconds into the load when the backend fails       default 5
  --concurrency N     keep-alive clients                                 default 50
  --slow-ms MS        a response at least this slow counts as slow       default 500
  --scenario NAME     kill or hang; repeat for both                      default both
  --target NAME       ballast, ballast-2s or haproxy; repeatable         default all
  --out FILE          JSON report                                        default bench/results/failover.json
  -h, --help          this text
`;

function parseOptions(argv: string[]): Options | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      rounds: { type: 'string', default: '2' },
      duration: { type: 'string', default: '20' },
      'fault-at': { type: 'string', default: '5' },
      concurrency: { type: 'string', default: '50' },
      'slow-ms': { type: 'string', default: '500' },
      scenario: { type: 'string', multiple: true },
      target: { type: 'string', multiple: true },
      out: { type: 'string', default: 'bench/results/failover.json' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return undefined;
  const int = (flag: string, raw: string, min: number, max: number): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${flag}: expected an integer from ${min} to ${max}, got "${raw}"`);
    return n;
  };
  const pick = <T extends string>(flag: string, raw: string[] | undefined, allowed: readonly T[]): readonly T[] => {
    if (raw === undefined) return allowed;
    return raw.map((name) => {
      const found = allowed.find((a) => a === name);
      if (found === undefined) throw new Error(`--${flag}: expected one of ${allowed.join(', ')}, got "${name}"`);
      return found;
    });
  };
  const durationS = int('duration', values.duration, 4, 120);
  const faultAtS = int('fault-at', values['fault-at'], 1, durationS - 2);
  return {
    rounds: int('rounds', values.rounds, 1, 20),
    durationS,
    faultAtS,
    concurrency: int('concurrency', values.concurrency, 1, 1000),
    slowMs: int('slow-ms', values['slow-ms'], 1, 60_000),
    scenarios: pick('scenario', values.scenario, SCENARIOS),
    targets: pick('target', values.target, TARGETS),
    out: values.out,
  };
}

/** Ballast's pool: the recommended failover settings, or HAProxy's check timing with retries only. */
function ballastConfig(target: 'ballast' | 'ballast-2s', port: number, backends: readonly BackendProcess[], accessLog: string): string {
  const servers = backends.map((b) => `      - { name: ${b.name}, address: ${b.address} }`).join('\n');
  const detection =
    target === 'ballast'
      ? `    healthCheck: { type: http, path: /healthz, interval: 1s, timeout: 500ms, healthyThreshold: 2, unhealthyThreshold: 2 }
    outlierDetection: { consecutiveFailures: 3, ejectionTime: 10s, maxEjectedPercent: 50 }`
      : `    healthCheck: { type: http, path: /healthz, interval: 2s, timeout: 2s, healthyThreshold: 2, unhealthyThreshold: 3 }`;
  return `log: { level: info, access: ${accessLog} }
listeners:
  - { name: web, protocol: http, listen: 127.0.0.1:${port}, routes: [ { pool: app } ] }
pools:
  - name: app
    algorithm: round-robin
    servers:
${servers}
${detection}
    retries: { attempts: 2, on: [connect-failure, reset, timeout, 502, 503, 504], budgetPercent: 20 }
    timeouts: { connect: 1s, response: ${RESPONSE_TIMEOUT_MS}ms }
`;
}

/** HAProxy with its default checks (inter 2s, fall 3, rise 2) and retries (3, no redispatch). */
function haproxyConfig(port: number, backends: readonly BackendProcess[]): string {
  const servers = backends.map((b) => `  server ${b.name} ${b.address} check`).join('\n');
  return `global
  nbthread 1

defaults
  mode http
  option http-keep-alive
  timeout connect 1s
  timeout client 30s
  timeout server ${RESPONSE_TIMEOUT_MS}ms

frontend web
  bind 127.0.0.1:${port}
  default_backend app

backend app
  balance roundrobin
  option httpchk GET /healthz
${servers}
`;
}

interface RunResult {
  readonly scenario: Scenario;
  readonly target: Target;
  readonly round: number;
  readonly requests: number;
  readonly errors: number;
  /** How the errors looked: status (or client error code) → count. */
  readonly errorKinds: Readonly<Record<string, number>>;
  /** Median time clients waited for an error, milliseconds. */
  readonly errorWaitMs: number | null;
  /** Milliseconds from the fault to the first and the last error. */
  readonly firstErrorMs: number | null;
  readonly lastErrorMs: number | null;
  /** Slow responses to requests sent after the fault, and before it (the machine's own noise). */
  readonly slow: number;
  readonly slowBefore: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Milliseconds from the fault until the failed server left the rotation; null when it never did. */
  readonly removedMs: number | null;
  readonly removedBy: string | null;
  /** Ballast only: requests retried away from a failure and answered 2xx, and when the first one finished. */
  readonly rescued: number | null;
  readonly firstRescuedMs: number | null;
}

/** A started load balancer: where to send load and how it reports the removal of a server. */
interface RunningTarget {
  readonly url: string;
  readonly process: ManagedProcess;
  /** Wall-clock time and cause of the victim's removal, once seen. */
  removal(): { at: number; by: string } | undefined;
  /** Ballast: wall-clock end times of the requests rescued by a retry (read after the process stopped). */
  rescuedAt(): number[] | undefined;
}

function watchLines(proc: ManagedProcess, onLine: (line: string) => void): void {
  for (const stream of [proc.child.stdout, proc.child.stderr]) {
    let partial = '';
    stream?.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) onLine(line);
    });
  }
}

async function startTarget(target: Target, dir: string, group: ProcessGroup, backends: readonly BackendProcess[]): Promise<RunningTarget> {
  const [port] = (await freePorts(1)) as [number];
  let removal: { at: number; by: string } | undefined;
  let proc: ManagedProcess;
  let accessLog: string | undefined;
  if (target === 'haproxy') {
    const conf = join(dir, 'haproxy.cfg');
    writeFileSync(conf, haproxyConfig(port, backends));
    proc = group.start({ name: 'haproxy', command: which('haproxy') as string, args: ['-db', '-f', conf], cpu: null });
    watchLines(proc, (line) => {
      const match = new RegExp(`Server app/${VICTIM} is DOWN, reason: ([^,]+)`).exec(line);
      if (match !== null && removal === undefined) removal = { at: Date.now(), by: `check: ${match[1] as string}` };
    });
  } else {
    accessLog = join(dir, `${target}-access.log`);
    const conf = join(dir, `${target}.yaml`);
    writeFileSync(conf, ballastConfig(target, port, backends, accessLog));
    const work = join(dir, target);
    mkdirSync(work, { recursive: true });
    proc = group.start({ name: target, command: process.execPath, args: [join(process.cwd(), BALLAST_CLI), 'start', '-c', conf], cpu: null, cwd: work });
    watchLines(proc, (line) => {
      if (removal !== undefined || !line.includes('"event"')) return;
      const event = (JSON.parse(line) as { event?: { type: string; server?: string; time: number; reason?: string } }).event;
      if (event?.server === VICTIM && (event.type === 'server-ejected' || event.type === 'server-down')) {
        removal = { at: event.time, by: `${event.type === 'server-ejected' ? 'outlier' : 'check'}: ${event.reason ?? ''}` };
      }
    });
  }
  const url = `http://127.0.0.1:${port}/work`;
  await waitForHttp(url, READY_TIMEOUT_MS, () => proc.assertRunning());
  return {
    url,
    process: proc,
    removal: () => removal,
    rescuedAt: () => {
      if (accessLog === undefined) return undefined;
      const times: number[] = [];
      for (const line of readFileSync(accessLog, 'utf8').split('\n')) {
        if (line === '') continue;
        const entry = JSON.parse(line) as { time: string; retries: number; status: number };
        if (entry.retries > 0 && entry.status >= 200 && entry.status < 300) times.push(Date.parse(entry.time));
      }
      return times;
    },
  };
}

function countKinds(errors: readonly LoadRecord[]): Record<string, number> {
  const kinds: Record<string, number> = {};
  for (const r of errors) {
    const kind = r.status === 0 ? (r.error ?? 'failed') : String(r.status);
    kinds[kind] = (kinds[kind] ?? 0) + 1;
  }
  return kinds;
}

function relative(time: number | undefined, faultAt: number): number | null {
  return time === undefined ? null : Math.round(time - faultAt);
}

async function runOnce(options: Options, scenario: Scenario, target: Target, round: number, dir: string): Promise<RunResult> {
  const group = new ProcessGroup();
  const backends: BackendProcess[] = [];
  try {
    for (const name of ['b1', 'b2', 'b3']) backends.push(await startBackendProcess({ name }));
    const running = await startTarget(target, dir, group, backends);
    const victim = backends[1] as BackendProcess;
    let faultAt = 0;
    const fault = setTimeout(() => {
      faultAt = Date.now();
      victim.signal(scenario === 'kill' ? 'SIGKILL' : 'SIGSTOP');
    }, options.faultAtS * 1000);
    const summary = await runLoad({
      url: running.url,
      concurrency: options.concurrency,
      durationMs: options.durationS * 1000,
      requestTimeoutMs: 30_000,
    });
    clearTimeout(fault);
    running.process.assertRunning();
    await running.process.stop('SIGTERM', 10_000);
    const errors = summary.records.filter((r) => r.status < 200 || r.status > 299);
    const rescued = running.rescuedAt()?.filter((at) => at >= faultAt);
    const removal = running.removal();
    return {
      scenario,
      target,
      round,
      requests: summary.sent,
      errors: errors.length,
      errorKinds: countKinds(errors),
      errorWaitMs: errors.length === 0 ? null : Math.round(median(errors.map((r) => r.latencyMs))),
      // Records arrive in completion order; the window is by sending time.
      firstErrorMs: errors.length === 0 ? null : relative(errors.reduce((min, r) => Math.min(min, r.sentAt), Infinity), faultAt),
      lastErrorMs: errors.length === 0 ? null : relative(errors.reduce((max, r) => Math.max(max, r.sentAt), 0), faultAt),
      slow: summary.records.filter((r: LoadRecord) => r.sentAt >= faultAt && r.latencyMs >= options.slowMs).length,
      slowBefore: summary.records.filter((r: LoadRecord) => r.sentAt < faultAt && r.latencyMs >= options.slowMs).length,
      p99Ms: Math.round(percentile(summary.records, 99)),
      maxMs: Math.round(summary.records.reduce((max, r) => Math.max(max, r.latencyMs), 0)),
      removedMs: relative(removal?.at, faultAt),
      removedBy: removal?.by ?? null,
      rescued: rescued?.length ?? null,
      firstRescuedMs: rescued === undefined || rescued.length === 0 ? null : relative(rescued.reduce((min, at) => Math.min(min, at)), faultAt),
    };
  } finally {
    await group.stopAll();
    await Promise.all(backends.map((b) => b.stop()));
  }
}

function cell(values: ReadonlyArray<number | null>, unit = ''): string {
  const defined = values.filter((v): v is number => v !== null);
  if (defined.length === 0) return '–';
  const mid = Math.round(median(defined));
  const spread = defined.length > 1 ? ` (${Math.min(...defined)}–${Math.max(...defined)})` : '';
  return `${mid}${unit}${spread}`;
}

function table(results: readonly RunResult[], scenario: Scenario, targets: readonly Target[], slowMs: number): string {
  const rows = [
    `| ${scenario === 'kill' ? 'SIGKILL b2' : 'SIGSTOP b2'} | requests | errors | error answers | errors: sent from … to (ms after the fault) | slow (≥ ${slowMs} ms) after the fault | before it | removed after (ms) | removed by | rescued by a retry | first rescued (ms) |`,
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const target of targets) {
    const runs = results.filter((r) => r.scenario === scenario && r.target === target);
    if (runs.length === 0) continue;
    const kinds = [...new Set(runs.flatMap((r) => Object.keys(r.errorKinds)))].join(', ');
    const answers = kinds === '' ? '–' : `${kinds} after ${cell(runs.map((r) => r.errorWaitMs))} ms`;
    const window = runs.some((r) => r.errors > 0) ? `${cell(runs.map((r) => r.firstErrorMs))} … ${cell(runs.map((r) => r.lastErrorMs))}` : '–';
    rows.push(
      `| ${target} | ${cell(runs.map((r) => r.requests))} | ${cell(runs.map((r) => r.errors))} | ${answers} | ${window} | ${cell(runs.map((r) => r.slow))} | ${cell(runs.map((r) => r.slowBefore))} | ` +
        `${cell(runs.map((r) => r.removedMs))} | ${[...new Set(runs.map((r) => r.removedBy ?? 'never'))].join('; ')} | ` +
        `${cell(runs.map((r) => r.rescued))} | ${cell(runs.map((r) => r.firstRescuedMs))} |`,
    );
  }
  return rows.join('\n');
}

async function main(): Promise<number> {
  let options: Options | undefined;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (options === undefined) {
    process.stdout.write(USAGE);
    return 0;
  }
  let targets = options.targets;
  if (targets.includes('haproxy') && which('haproxy') === undefined) {
    process.stdout.write('haproxy is not installed (Debian package haproxy): running without it\n');
    targets = targets.filter((t) => t !== 'haproxy');
  }
  const dir = mkdtempSync(join(tmpdir(), 'ballast-bench-failover-'));
  const results: RunResult[] = [];
  process.stdout.write(
    `failover benchmark: ${options.rounds} round(s) × ${options.scenarios.join(', ')} × ${targets.join(', ')}; ` +
      `${options.concurrency} clients, ${options.durationS} s of load, fault at ${options.faultAtS} s\n`,
  );
  try {
    for (let round = 1; round <= options.rounds; round++) {
      for (const scenario of options.scenarios) {
        for (const target of targets) {
          const runDir = join(dir, `${round}-${scenario}-${target}`);
          mkdirSync(runDir);
          const result = await runOnce(options, scenario, target, round, runDir);
          results.push(result);
          process.stdout.write(
            `round ${round} ${scenario} ${target}: ${result.requests} requests, ${result.errors} errors ${JSON.stringify(result.errorKinds)}, ${result.slow} slow (${result.slowBefore} before the fault), ` +
              `removed after ${result.removedMs ?? '–'} ms (${result.removedBy ?? 'never'})` +
              (result.rescued === null ? '' : `, ${result.rescued} rescued, first after ${result.firstRescuedMs ?? '–'} ms`) +
              '\n',
          );
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write('\nMedians over the rounds (min–max in brackets):\n\n');
  for (const scenario of options.scenarios) process.stdout.write(`${table(results, scenario, targets, options.slowMs)}\n\n`);
  const report = {
    benchmark: 'failover',
    date: new Date().toISOString(),
    machine: { cpus: availableParallelism(), cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version, loadAverage: loadavg()[0] ?? 0 },
    versions: { haproxy: targets.includes('haproxy') ? (versionOf('haproxy', ['-v']) ?? 'haproxy') : null },
    settings: { ...options, targets, responseTimeoutMs: RESPONSE_TIMEOUT_MS },
    runs: results,
  };
  mkdirSync(dirname(options.out), { recursive: true });
  writeFileSync(options.out, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`every run: ${options.out}\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
