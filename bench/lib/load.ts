/**
 * Load generators: wrk (preferred) and autocannon (when wrk is missing). Both
 * run as child processes pinned like the backends, and both report through
 * the same LoadResult.
 */
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ProcessGroup, which } from './processes.js';

export interface LatencyMs {
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

export interface LoadErrors {
  readonly connect: number;
  readonly read: number;
  readonly write: number;
  readonly timeout: number;
  /** Responses whose status was not 2xx or 3xx. */
  readonly status: number;
}

export interface LoadResult {
  readonly requests: number;
  readonly durationS: number;
  readonly reqPerSec: number;
  readonly latencyMs: LatencyMs;
  readonly errors: LoadErrors;
}

export interface LoadSpec {
  readonly url: string;
  readonly durationS: number;
  readonly threads: number;
  readonly connections: number;
  /** CPU the generator is pinned to, or null. */
  readonly cpu: number | null;
}

export interface LoadGenerator {
  /** `wrk` or `autocannon`. */
  readonly name: string;
  readonly version: string;
  run(spec: LoadSpec): Promise<LoadResult>;
}

/** Total of every error kind. */
export function errorCount(errors: LoadErrors): number {
  return errors.connect + errors.read + errors.write + errors.timeout + errors.status;
}

/** Extra seconds a generator may take beyond its duration before it is killed. */
const GRACE_S = 30;

const RESULT_MARK = 'BENCH_RESULT ';

/**
 * wrk's `done` hook prints the exact histogram figures as one JSON line, so
 * nothing depends on wrk's human-readable units. Latencies are microseconds.
 */
export const WRK_REPORTER_LUA = `done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '${RESULT_MARK}{"requests":%d,"durationUs":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"mean":%.3f,"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max))
end
`;

interface WrkReport {
  requests: number;
  durationUs: number;
  connect: number;
  read: number;
  write: number;
  status: number;
  timeout: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

const WRK_FIELDS: ReadonlyArray<keyof WrkReport> = [
  'requests',
  'durationUs',
  'connect',
  'read',
  'write',
  'status',
  'timeout',
  'mean',
  'p50',
  'p90',
  'p99',
  'p999',
  'max',
];

/** Parses the reporter line out of wrk's stdout. Throws when it is missing or malformed. */
export function parseWrkOutput(stdout: string): LoadResult {
  const line = stdout.split('\n').find((l) => l.startsWith(RESULT_MARK));
  if (line === undefined) throw new Error(`wrk printed no result line:\n${stdout.trim()}`);
  const raw = JSON.parse(line.slice(RESULT_MARK.length)) as Record<string, unknown>;
  for (const field of WRK_FIELDS) {
    if (typeof raw[field] !== 'number' || !Number.isFinite(raw[field])) {
      throw new Error(`wrk result lacks numeric "${field}": ${line}`);
    }
  }
  const r = raw as unknown as WrkReport;
  const durationS = r.durationUs / 1e6;
  const us = (v: number): number => v / 1000;
  return {
    requests: r.requests,
    durationS,
    reqPerSec: durationS > 0 ? r.requests / durationS : 0,
    latencyMs: { mean: us(r.mean), p50: us(r.p50), p90: us(r.p90), p99: us(r.p99), p999: us(r.p999), max: us(r.max) },
    errors: { connect: r.connect, read: r.read, write: r.write, timeout: r.timeout, status: r.status },
  };
}

interface AutocannonHistogram {
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p99_9: number;
  max: number;
}

interface AutocannonReport {
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  '3xx': number;
  latency: AutocannonHistogram;
  requests: { total: number };
}

/** Parses `autocannon --json` output (milliseconds). 3xx counts as success, as in wrk. */
export function parseAutocannonOutput(stdout: string): LoadResult {
  const start = stdout.indexOf('{');
  if (start === -1) throw new Error(`autocannon printed no JSON:\n${stdout.trim()}`);
  const r = JSON.parse(stdout.slice(start)) as AutocannonReport;
  const lat = r.latency;
  const durationS = r.duration;
  const requests = r.requests.total;
  return {
    requests,
    durationS,
    reqPerSec: durationS > 0 ? requests / durationS : 0,
    latencyMs: { mean: lat.mean, p50: lat.p50, p90: lat.p90, p99: lat.p99, p999: lat.p99_9, max: lat.max },
    // autocannon counts connection errors and resets together as `errors`.
    errors: { connect: r.errors, read: 0, write: 0, timeout: r.timeouts, status: Math.max(0, r.non2xx - r['3xx']) },
  };
}

async function runToCompletion(
  group: ProcessGroup,
  name: string,
  command: string,
  args: readonly string[],
  cpu: number | null,
  limitS: number,
): Promise<string> {
  const proc = group.start({ name, command, args, cpu });
  let stdout = '';
  proc.child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
  });
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    void proc.stop('SIGKILL', 1000);
  }, limitS * 1000);
  const { code, signal } = await proc.waitExit();
  clearTimeout(timer);
  if (killed) throw new Error(`${name} did not finish within ${limitS} s; killed`);
  if (code !== 0) {
    throw new Error(`${name} failed (code ${String(code)}, signal ${String(signal)}):\n${proc.output().trim()}`);
  }
  return stdout;
}

export class Wrk implements LoadGenerator {
  readonly name = 'wrk';

  constructor(
    private readonly binary: string,
    readonly version: string,
    private readonly reporterPath: string,
    private readonly group: ProcessGroup,
  ) {}

  /** Writes the reporter script into `workDir`; undefined when wrk is not installed. */
  static detect(group: ProcessGroup, workDir: string, version: (bin: string) => string): Wrk | undefined {
    const bin = which('wrk');
    if (bin === undefined) return undefined;
    const reporter = join(workDir, 'wrk-report.lua');
    writeFileSync(reporter, WRK_REPORTER_LUA);
    return new Wrk(bin, version(bin), reporter, group);
  }

  async run(spec: LoadSpec): Promise<LoadResult> {
    const args = [
      `-t${spec.threads}`,
      `-c${spec.connections}`,
      `-d${spec.durationS}s`,
      '--latency',
      '--timeout',
      '5s',
      '-s',
      this.reporterPath,
      spec.url,
    ];
    const stdout = await runToCompletion(this.group, 'wrk', this.binary, args, spec.cpu, spec.durationS + GRACE_S);
    return parseWrkOutput(stdout);
  }
}

export class Autocannon implements LoadGenerator {
  readonly name = 'autocannon';

  constructor(
    private readonly script: string,
    readonly version: string,
    private readonly group: ProcessGroup,
  ) {}

  /** Resolves the installed autocannon package from the repository root; undefined when absent. */
  static detect(group: ProcessGroup, repoRoot: string): Autocannon | undefined {
    const require = createRequire(join(repoRoot, 'package.json'));
    try {
      const pkgPath = require.resolve('autocannon/package.json');
      const pkg = require(pkgPath) as { version: string };
      return new Autocannon(join(pkgPath, '..', 'autocannon.js'), `autocannon ${pkg.version}`, group);
    } catch {
      return undefined;
    }
  }

  async run(spec: LoadSpec): Promise<LoadResult> {
    // One worker thread per wrk thread beyond the first keeps `--threads` meaningful.
    const workers = spec.threads > 1 ? ['--workers', String(spec.threads)] : [];
    const args = [
      this.script,
      '--json',
      '--connections',
      String(spec.connections),
      '--duration',
      String(spec.durationS),
      '--timeout',
      '5',
      ...workers,
      spec.url,
    ];
    const stdout = await runToCompletion(
      this.group,
      'autocannon',
      process.execPath,
      args,
      spec.cpu,
      spec.durationS + GRACE_S,
    );
    return parseAutocannonOutput(stdout);
  }
}
