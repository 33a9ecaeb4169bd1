/**
 * `npm run bench:tcp`: the TCP (L4) proxy benchmark; `npm run bench` runs it
 * too, after the HTTP one.
 *
 * Ballast (a `protocol: tcp` listener), a bare Node.js pipe (see
 * backends/node-tcp-pipe.ts: the cost of Node.js sockets alone) and HAProxy
 * (`mode tcp`) forward the same traffic in the same run, next to the
 * backends reached directly:
 *
 * - connection throughput: `wrk -t1 -c50 -H 'Connection: close'` against two
 *   HTTP backends behind round robin, so every request is a new TCP
 *   connection through the proxy;
 * - bulk throughput: `iperf3 -c` through a second listener to one `iperf3 -s`,
 *   once uploading (client to server) and once downloading (`-R`, server to
 *   client): a proxy reads and writes each direction differently.
 *
 * The proxies are pinned to CPU 0, the load generators and backends to CPU 1
 * (two or more CPUs, taskset present). Rounds interleave the targets; the
 * medians go to a markdown table and every run to bench/results/tcp.json.
 * Only 127.0.0.1 is used, and every run is bounded in time. Run from the
 * repository root. See docs/benchmarks.md.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { backgroundCpu, sampleCpu } from './lib/cpu-usage.js';
import type { BackgroundCpu } from './lib/cpu-usage.js';
import type { Backend } from './lib/configs.js';
import { errorCount, parseWrkOutput, WRK_REPORTER_LUA } from './lib/load.js';
import type { LoadResult } from './lib/load.js';
import { freePorts, httpGet, LOOPBACK, waitForHttp } from './lib/net.js';
import type { BenchOptions } from './lib/options.js';
import { choosePinning, inBenchWorkspace, treeMemory, versionOf, which } from './lib/processes.js';
import type { ManagedProcess, Pinning } from './lib/processes.js';
import { BUSY_MACHINE_CPUS, bytesToMB, median } from './lib/report.js';
import { BALLAST_CLI, startBackends } from './lib/targets.js';
import type { Context, RunningBackends } from './lib/targets.js';

export const TCP_TARGETS = ['direct', 'ballast', 'node', 'haproxy'] as const;
export type TcpTarget = (typeof TCP_TARGETS)[number];
/** The rows divided by HAProxy: Ballast, and the bare Node.js pipe as the floor of any Node.js proxy. */
export const COMPARED_TARGETS = ['ballast', 'node'] as const;
export type ComparedTarget = (typeof COMPARED_TARGETS)[number];

/** The goals of the L4 benchmark, Ballast against HAProxy in the same run. */
export const TCP_GOALS = {
  /** Ballast connections/s ÷ HAProxy connections/s. */
  minConnectionRatio: 0.9,
  /** Ballast bulk bits/s ÷ HAProxy bulk bits/s, in each direction: within 10 %. */
  minBulkRatio: 0.9,
} as const;

export interface TcpBenchOptions {
  /** Measured rounds; each round runs every target once per workload. */
  readonly rounds: number;
  /** Seconds of wrk load per connection-throughput run. */
  readonly durationS: number;
  /** Seconds measured per iperf3 run (after one omitted second of slow start). */
  readonly bulkDurationS: number;
  /** Seconds of unrecorded wrk load per target before the first round; 0 disables it. */
  readonly warmupS: number;
  /** wrk connections (`-c`). */
  readonly connections: number;
  /** Longest wait for an idle machine before each run, seconds. */
  readonly quietWaitS: number;
  /** Repeats of a run during which other processes used more than BUSY_MACHINE_CPUS. */
  readonly retries: number;
  readonly pin: boolean;
  /** Exit with status 1 when a goal is missed. */
  readonly check: boolean;
  /** JSON report path, relative to the repository root. */
  readonly out: string;
  readonly help: boolean;
}

export const DEFAULT_TCP_OPTIONS: TcpBenchOptions = {
  rounds: 3,
  durationS: 10,
  bulkDurationS: 5,
  warmupS: 2,
  connections: 50,
  quietWaitS: 20,
  retries: 1,
  pin: true,
  check: false,
  out: 'bench/results/tcp.json',
  help: false,
};

const USAGE = `Usage: npm run bench:tcp -- [options]

Connection throughput (wrk, Connection: close) and bulk throughput (iperf3,
upload and download) directly, through a Ballast tcp listener, a bare Node.js
pipe and HAProxy mode tcp, interleaved over several rounds; prints the medians
and the ratios to HAProxy.

Options:
  --rounds N            measured rounds                          default 3
  --duration SEC        seconds per wrk run                      default 10
  --bulk-duration SEC   seconds per iperf3 run and direction     default 5
  --warmup SEC          unrecorded wrk load per target, 0 = none default 2
  --connections N       wrk connections (-c)                     default 50
  --quiet-wait SEC      longest wait for an idle machine per run default 20
  --retries N           repeats of a run disturbed by other processes default 1
  --no-pin              do not pin processes to CPUs
  --check               exit 1 when a goal (every Ballast ratio >= 0.9) is missed
  --out FILE            JSON report path                         default bench/results/tcp.json
  --quick               smoke run: 1 round, 3 s wrk, 2 s iperf3, 1 s warm-up
  -h, --help            this text
`;

/**
 * The L4 settings `npm run bench` uses after its HTTP rounds: as many rounds
 * and wrk seconds as the HTTP runs, half that per iperf3 run (at least 1 s),
 * the same waits and pinning, and the report at `--tcp-out`. With the HTTP
 * defaults these are the rounds and durations of `npm run bench:tcp`.
 */
export function tcpOptionsForBench(http: BenchOptions): TcpBenchOptions {
  return {
    ...DEFAULT_TCP_OPTIONS,
    rounds: http.rounds,
    durationS: http.durationS,
    bulkDurationS: Math.max(1, Math.ceil(http.durationS / 2)),
    warmupS: Math.min(http.warmupS, DEFAULT_TCP_OPTIONS.warmupS),
    quietWaitS: http.quietWaitS,
    retries: Math.min(http.retries, DEFAULT_TCP_OPTIONS.retries),
    pin: http.pin,
    out: http.tcpOut,
  };
}

class UsageError extends Error {}

function integer(flag: string, raw: string | undefined, min: number, max: number): number {
  const value = raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(value >= min && value <= max)) throw new UsageError(`${flag}: expected an integer from ${min} to ${max}, got "${raw ?? ''}"`);
  return value;
}

function seconds(flag: string, raw: string | undefined, min: number): number {
  const match = raw === undefined ? null : /^(\d+)s?$/.exec(raw);
  const value = match ? Number(match[1]) : Number.NaN;
  if (!(value >= min && value <= 600)) throw new UsageError(`${flag}: expected whole seconds from ${min} to 600, got "${raw ?? ''}"`);
  return value;
}

/** Parses `--name value` / `--name=value` flags; throws UsageError on anything unknown. */
export function parseTcpOptions(argv: readonly string[]): TcpBenchOptions {
  const opts: { -readonly [K in keyof TcpBenchOptions]: TcpBenchOptions[K] } = { ...DEFAULT_TCP_OPTIONS };
  if (argv.includes('--quick')) Object.assign(opts, { rounds: 1, durationS: 3, bulkDurationS: 2, warmupS: 1 });
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const eq = arg.indexOf('=');
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    const value = (): string | undefined => (eq === -1 ? argv[++i] : arg.slice(eq + 1));
    switch (flag) {
      case '--quick':
        break;
      case '-h':
      case '--help':
        opts.help = true;
        break;
      case '--no-pin':
        opts.pin = false;
        break;
      case '--check':
        opts.check = true;
        break;
      case '--rounds':
        opts.rounds = integer(flag, value(), 1, 50);
        break;
      case '--duration':
        opts.durationS = seconds(flag, value(), 1);
        break;
      case '--bulk-duration':
        opts.bulkDurationS = seconds(flag, value(), 1);
        break;
      case '--warmup':
        opts.warmupS = seconds(flag, value(), 0);
        break;
      case '--connections':
        opts.connections = integer(flag, value(), 1, 1000);
        break;
      case '--quiet-wait':
        opts.quietWaitS = seconds(flag, value(), 0);
        break;
      case '--retries':
        opts.retries = integer(flag, value(), 0, 10);
        break;
      case '--out': {
        const out = value();
        if (out === undefined || out === '') throw new UsageError('--out: expected a file path');
        opts.out = out;
        break;
      }
      default:
        throw new UsageError(`unknown option ${arg}`);
    }
  }
  return opts;
}

export const DIRECTIONS = ['upload', 'download'] as const;
/** `upload`: the client sends to the server; `download`: the server sends to the client (`iperf3 -R`). */
export type Direction = (typeof DIRECTIONS)[number];

/** One iperf3 result: what the receiver got after the omitted first second, and what crossed in all. */
export interface BulkResult {
  readonly bitsPerSecond: number;
  readonly bytes: number;
  /** Bytes sent over the whole test, omitted (slow-start) intervals included. */
  readonly totalBytes: number;
  readonly retransmits: number;
}

interface IperfJson {
  readonly error?: string;
  readonly intervals?: ReadonlyArray<{ readonly sum?: { readonly bytes?: number } }>;
  readonly end?: {
    readonly sum_received?: { readonly bits_per_second?: number; readonly bytes?: number };
    readonly sum_sent?: { readonly retransmits?: number };
  };
}

/** Reads the receiver's figures out of `iperf3 -J` output; throws on an error report. */
export function parseIperfJson(stdout: string): BulkResult {
  const report = JSON.parse(stdout) as IperfJson;
  if (report.error !== undefined) throw new Error(`iperf3: ${report.error}`);
  const received = report.end?.sum_received;
  if (typeof received?.bits_per_second !== 'number' || typeof received.bytes !== 'number') {
    throw new Error('iperf3 printed no end.sum_received figures');
  }
  const totalBytes = (report.intervals ?? []).reduce((sum, interval) => sum + (interval.sum?.bytes ?? 0), 0);
  return {
    bitsPerSecond: received.bits_per_second,
    bytes: received.bytes,
    totalBytes: Math.max(totalBytes, received.bytes),
    retransmits: report.end?.sum_sent?.retransmits ?? 0,
  };
}

interface Programs {
  readonly wrk: string;
  readonly iperf3: string;
  readonly haproxy: string;
}

const PROGRAMS = [
  ['wrk', 'wrk'],
  ['iperf3', 'iperf3'],
  ['haproxy', 'haproxy'],
] as const;

/** Path of the bare Node.js pipe, relative to the repository root. */
const NODE_PIPE = join('build', 'bench', 'backends', 'node-tcp-pipe.js');

/** What the benchmark needs and this machine lacks, each with how to get it; empty when it can run. */
export function missingTcpPrerequisites(repoRoot: string): string[] {
  const missing = PROGRAMS.filter(([name]) => which(name) === undefined).map(([name, pkg]) => `${name} (Debian package ${pkg})`);
  if (!existsSync(join(repoRoot, BALLAST_CLI))) missing.push(`${BALLAST_CLI} (build it with: npm run build)`);
  if (!existsSync(join(repoRoot, NODE_PIPE))) missing.push(`${NODE_PIPE} (compile it with: npx tsc -p tsconfig.test.json)`);
  return missing;
}

/** Every program the benchmark needs, or an error naming what to install. */
function findPrograms(repoRoot: string): Programs {
  const missing = missingTcpPrerequisites(repoRoot);
  if (missing.length > 0) throw new Error(`missing: ${missing.join(', ')}`);
  return { wrk: which('wrk') as string, iperf3: which('iperf3') as string, haproxy: which('haproxy') as string };
}

/** Both listeners of one target: `conn` in front of the HTTP backends, `bulk` in front of iperf3. */
interface RunningTarget {
  readonly name: TcpTarget;
  readonly connPort: number;
  readonly bulkPort: number;
  readonly version: string;
  /** The proxy; undefined for the direct path. */
  readonly process: ManagedProcess | undefined;
}

export function ballastTcpConfig(connPort: number, bulkPort: number, web: readonly Backend[], iperfPort: number): string {
  const servers = web.map((b) => `      - { name: ${b.name}, address: 127.0.0.1:${b.port} }`).join('\n');
  return `log: { level: warn, access: off }
listeners:
  - { name: conn, protocol: tcp, listen: 127.0.0.1:${connPort}, pool: web }
  - { name: bulk, protocol: tcp, listen: 127.0.0.1:${bulkPort}, pool: iperf }
pools:
  - name: web
    algorithm: round-robin
    servers:
${servers}
  - name: iperf
    algorithm: round-robin
    servers:
      - { name: iperf, address: 127.0.0.1:${iperfPort} }
`;
}

export function haproxyTcpConfig(dir: string, connPort: number, bulkPort: number, web: readonly Backend[], iperfPort: number): string {
  const servers = web.map((b) => `  server ${b.name} 127.0.0.1:${b.port}`).join('\n');
  return `global
  nbthread 1
  maxconn 4096
  pidfile ${dir}/haproxy-tcp.pid

defaults
  mode tcp
  timeout connect 5s
  timeout client 120s
  timeout server 120s

frontend conn
  bind 127.0.0.1:${connPort}
  default_backend web

frontend bulk
  bind 127.0.0.1:${bulkPort}
  default_backend iperf

backend web
  balance roundrobin
${servers}

backend iperf
  balance roundrobin
  server iperf 127.0.0.1:${iperfPort}
`;
}

/** How long a program gets to start answering. */
const READY_TIMEOUT_MS = 20_000;
/** Extra seconds a load run may take beyond its duration before it is killed. */
const GRACE_S = 30;

async function startTcpTarget(
  ctx: Context,
  programs: Programs,
  name: TcpTarget,
  backends: RunningBackends,
  iperfPort: number,
): Promise<RunningTarget> {
  const first = backends.servers[0];
  if (first === undefined) throw new Error('no backend servers');
  if (name === 'direct') return { name, connPort: first.port, bulkPort: iperfPort, version: backends.version, process: undefined };
  const [connPort, bulkPort] = (await freePorts(2)) as [number, number];
  let proc: ManagedProcess;
  let version: string;
  switch (name) {
    case 'ballast': {
      const cli = join(ctx.repoRoot, BALLAST_CLI);
      const conf = join(ctx.dir, `${name}.yaml`);
      writeFileSync(conf, ballastTcpConfig(connPort, bulkPort, backends.servers, iperfPort));
      const workDir = join(ctx.dir, name);
      mkdirSync(workDir, { recursive: true });
      version = `ballast ${versionOf(process.execPath, [cli, '--version']) ?? '(unknown version)'}`;
      proc = ctx.group.start({
        name,
        command: process.execPath,
        args: [cli, 'start', '-c', conf],
        cpu: ctx.proxyCpu,
        // Ballast keeps durable state in its working folder; keep it out of the repository.
        cwd: workDir,
        env: { NODE_ENV: 'production' },
      });
      break;
    }
    case 'node': {
      version = `node ${process.version} net + pipe()`;
      const web = `${connPort}=${backends.servers.map((b) => b.port).join(',')}`;
      proc = ctx.group.start({
        name: 'node pipe',
        command: process.execPath,
        args: [join(ctx.repoRoot, NODE_PIPE), web, `${bulkPort}=${iperfPort}`],
        cpu: ctx.proxyCpu,
      });
      break;
    }
    case 'haproxy': {
      version = (versionOf(programs.haproxy, ['-v']) ?? 'haproxy').replace(/ - https?:\S+$/, '');
      const conf = join(ctx.dir, 'haproxy-tcp.cfg');
      writeFileSync(conf, haproxyTcpConfig(ctx.dir, connPort, bulkPort, backends.servers, iperfPort));
      // -db: foreground, one process.
      proc = ctx.group.start({ name: 'haproxy', command: programs.haproxy, args: ['-db', '-f', conf], cpu: ctx.proxyCpu });
      break;
    }
    default: {
      const unknown: never = name;
      throw new Error(`unknown target ${String(unknown)}`);
    }
  }
  const url = `http://${LOOPBACK}:${connPort}/`;
  await waitForHttp(url, READY_TIMEOUT_MS, () => proc.assertRunning());
  // Each GET is a new connection: both backends must answer, proof of round robin per connection.
  const seen = new Set<string>();
  for (let i = 0; i < 6 && seen.size < backends.servers.length; i++) seen.add((await httpGet(url, 5000)).body.trim());
  if (seen.size < backends.servers.length) throw new Error(`${name} reached only ${[...seen].join(', ')}`);
  return { name, connPort, bulkPort, version, process: proc };
}

/** Runs a program to completion within `limitS`; resolves with its stdout, rejects with its output on failure. */
async function runProgram(ctx: Context, name: string, command: string, args: readonly string[], limitS: number): Promise<string> {
  const proc = ctx.group.start({ name, command, args, cpu: ctx.clientCpu });
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
  if (code !== 0) throw new Error(`${name} failed (code ${String(code)}, signal ${String(signal)}):\n${proc.output().trim()}`);
  return stdout;
}

/** wrk with `Connection: close`: every request opens and closes one connection through the target. */
function runWrk(ctx: Context, programs: Programs, reporter: string, port: number, durationS: number, connections: number): Promise<LoadResult> {
  const args = [
    '-t1',
    `-c${connections}`,
    `-d${durationS}s`,
    '--latency',
    '--timeout',
    '5s',
    '-H',
    'Connection: close',
    '-s',
    reporter,
    `http://${LOOPBACK}:${port}/`,
  ];
  return runProgram(ctx, 'wrk', programs.wrk, args, durationS + GRACE_S).then(parseWrkOutput);
}

/**
 * One iperf3 test through `port`, the first second omitted (slow start).
 * iperf3's server takes one test at a time and may still be closing the last
 * one: a "busy" refusal is retried a few times.
 */
async function runIperf(ctx: Context, programs: Programs, port: number, direction: Direction, durationS: number): Promise<BulkResult> {
  const args = ['-c', LOOPBACK, '-p', String(port), '-t', String(durationS), '-O', '1', '-J'];
  if (direction === 'download') args.push('-R');
  for (let attempt = 1; ; attempt++) {
    try {
      return parseIperfJson(await runProgram(ctx, 'iperf3', programs.iperf3, args, durationS + 1 + GRACE_S));
    } catch (err) {
      if (attempt >= 5 || !/busy/i.test(String(err))) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/** Starts `iperf3 -s` on a free port and waits until it listens. */
async function startIperfServer(ctx: Context, programs: Programs): Promise<{ port: number; process: ManagedProcess }> {
  const [port] = (await freePorts(1)) as [number];
  const proc = ctx.group.start({
    name: 'iperf3 server',
    command: programs.iperf3,
    args: ['-s', '-B', LOOPBACK, '-p', String(port), '--forceflush'],
    cpu: ctx.clientCpu,
  });
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!/Server listening/.test(proc.output())) {
    proc.assertRunning();
    if (Date.now() > deadline) throw new Error(`iperf3 -s did not start listening:\n${proc.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { port, process: proc };
}

export interface ProcessUsage {
  /** CPU time (user + system, all threads), milliseconds. */
  readonly cpuMs: number;
  /** The part of `cpuMs` spent in the kernel, on the process's behalf (system calls, page faults). */
  readonly systemMs: number;
  /** Minor page faults: memory the kernel had to map in (and zero) on first touch. */
  readonly minorFaults: number;
}

/** What a process has used so far; zeros when it is gone. Linux /proc. */
export function processUsage(pid: number): ProcessUsage {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // After the command name: state(0) ppid(1) ... minflt(7) ... utime(11) stime(12), times in ticks of 10 ms.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { cpuMs: (Number(fields[11]) + Number(fields[12])) * 10, systemMs: Number(fields[12]) * 10, minorFaults: Number(fields[7]) };
  } catch {
    return { cpuMs: 0, systemMs: 0, minorFaults: 0 };
  }
}

/**
 * Waits, in one-second windows, until other processes use at most
 * BUSY_MACHINE_CPUS, or `maxS` seconds pass.
 */
async function waitForQuiet(ownPids: readonly number[], maxS: number): Promise<void> {
  for (let waited = 0; waited < maxS; waited++) {
    const before = sampleCpu(ownPids);
    const started = performance.now();
    await new Promise((r) => setTimeout(r, 1000));
    const bg = backgroundCpu(before, sampleCpu(ownPids), (performance.now() - started) / 1000);
    if (bg.foreignCpus + bg.stealCpus <= BUSY_MACHINE_CPUS) return;
  }
}

/**
 * Runs `work` once the machine is quiet (or `quietWaitS` passed), repeating
 * it up to `retries` times when other processes were busy meanwhile; keeps the
 * last attempt with its background figure and what `proxy` used meanwhile.
 */
async function measure<T>(
  opts: TcpBenchOptions,
  ownPids: readonly number[],
  proxy: ManagedProcess | undefined,
  log: (line: string) => void,
  work: () => Promise<T>,
): Promise<{ result: T; background: BackgroundCpu; proxy: ProcessUsage | undefined }> {
  for (let attempt = 0; ; attempt++) {
    await waitForQuiet(ownPids, opts.quietWaitS);
    const before = sampleCpu(ownPids);
    const proxyBefore = proxy === undefined ? undefined : processUsage(proxy.pid);
    const started = performance.now();
    const result = await work();
    const background = backgroundCpu(before, sampleCpu(ownPids), (performance.now() - started) / 1000);
    let used: ProcessUsage | undefined;
    if (proxy !== undefined && proxyBefore !== undefined) {
      const after = processUsage(proxy.pid);
      used = {
        cpuMs: after.cpuMs - proxyBefore.cpuMs,
        systemMs: after.systemMs - proxyBefore.systemMs,
        minorFaults: after.minorFaults - proxyBefore.minorFaults,
      };
    }
    if (background.foreignCpus + background.stealCpus <= BUSY_MACHINE_CPUS || attempt >= opts.retries) return { result, background, proxy: used };
    log(`  machine busy (other processes ${background.foreignCpus.toFixed(2)} CPU, steal ${background.stealCpus.toFixed(2)} CPU); repeating`);
  }
}

export interface ConnectionRun {
  readonly round: number;
  readonly target: TcpTarget;
  readonly result: LoadResult;
  readonly background: BackgroundCpu;
  /** What the proxy used during the run; undefined for the direct path. */
  readonly proxy: ProcessUsage | undefined;
  /** Proxy RSS right after the run, MB; undefined for the direct path. */
  readonly rssMB: number | undefined;
}

export interface BulkRun {
  readonly round: number;
  readonly target: TcpTarget;
  readonly direction: Direction;
  readonly result: BulkResult;
  readonly background: BackgroundCpu;
  readonly proxy: ProcessUsage | undefined;
  readonly rssMB: number | undefined;
}

export interface TcpTargetSummary {
  readonly target: TcpTarget;
  readonly version: string;
  /** Median wrk req/s; with `Connection: close` one request is one connection. */
  readonly connectionsPerSec: number;
  readonly p99Ms: number;
  readonly connectionsVsDirect: number;
  /** Median iperf3 receiver throughput per direction, Gbit/s. */
  readonly bulkGbps: Readonly<Record<Direction, number>>;
  /**
   * Median proxy CPU time per proxied connection, µs, and per GB carried in
   * each direction, ms: what the proxy costs, whatever else shares the machine.
   */
  readonly cpuUsPerConnection: number | undefined;
  /** The kernel's part of `cpuUsPerConnection`. */
  readonly kernelUsPerConnection: number | undefined;
  readonly cpuMsPerGB: Readonly<Record<Direction, number | undefined>>;
  /** Largest post-run RSS, MB. */
  readonly rssMB: number | undefined;
  /** wrk errors over all rounds. */
  readonly errors: number;
}

export interface TcpGoal {
  readonly goal: string;
  readonly value: number;
  readonly limit: number;
  readonly pass: boolean;
}

/** One compared row divided by HAProxy, on the medians and within each round. */
export interface TcpRatios {
  readonly target: ComparedTarget;
  readonly connections: number;
  readonly connectionsPerRound: readonly number[];
  readonly bulk: Readonly<Record<Direction, number>>;
  readonly bulkPerRound: Readonly<Record<Direction, readonly number[]>>;
}

export interface TcpSummary {
  readonly targets: readonly TcpTargetSummary[];
  readonly ratios: readonly TcpRatios[];
  readonly goals: readonly TcpGoal[];
  /** Largest background CPU (other processes + steal) of any kept run, in CPUs. */
  readonly maxBackgroundCpus: number;
}

export interface TcpReport {
  readonly benchmark: 'tcp-l4';
  readonly date: string;
  readonly machine: {
    readonly cpus: number;
    readonly cpuModel: string;
    readonly memoryGB: number;
    readonly kernel: string;
    readonly node: string;
    readonly loadAverage: number;
  };
  readonly settings: Omit<TcpBenchOptions, 'help' | 'check' | 'out'> & {
    readonly wrk: string;
    readonly iperf3: string;
    readonly backend: string;
    readonly pinning: Pinning;
  };
  readonly connectionRuns: readonly ConnectionRun[];
  readonly bulkRuns: readonly BulkRun[];
  readonly summary: TcpSummary;
}

const DISPLAY: Record<TcpTarget, string> = {
  direct: 'direct (no proxy)',
  ballast: 'Ballast',
  node: 'bare Node.js pipe',
  haproxy: 'HAProxy',
};

function ratiosPerRound<R extends { round: number; target: TcpTarget }>(runs: readonly R[], target: ComparedTarget, value: (run: R) => number): number[] {
  const out: number[] = [];
  for (const round of [...new Set(runs.map((r) => r.round))].sort((a, b) => a - b)) {
    const b = runs.find((r) => r.round === round && r.target === target);
    const h = runs.find((r) => r.round === round && r.target === 'haproxy');
    if (b && h && value(h) > 0) out.push(value(b) / value(h));
  }
  return out;
}

/** Medians per target, ratios and goals. Pure. */
export function summarizeTcp(
  connectionRuns: readonly ConnectionRun[],
  bulkRuns: readonly BulkRun[],
  versions: Readonly<Record<TcpTarget, string>>,
): TcpSummary {
  const medianOrUndefined = (values: readonly number[]): number | undefined => (values.length === 0 ? undefined : median(values));
  const rows = TCP_TARGETS.map((target) => {
    const conn = connectionRuns.filter((r) => r.target === target);
    const bulk = (direction: Direction): BulkRun[] => bulkRuns.filter((r) => r.target === target && r.direction === direction);
    const rss = [...conn, ...bulkRuns.filter((r) => r.target === target)].map((r) => r.rssMB).filter((v): v is number => v !== undefined);
    const perConnection = (ms: (usage: ProcessUsage) => number): number | undefined =>
      medianOrUndefined(conn.flatMap((r) => (r.proxy === undefined || r.result.requests === 0 ? [] : [(ms(r.proxy) * 1000) / r.result.requests])));
    const perGB = (direction: Direction): number | undefined =>
      medianOrUndefined(
        bulk(direction).flatMap((r) => (r.proxy === undefined || r.result.totalBytes === 0 ? [] : [(r.proxy.cpuMs * 1e9) / r.result.totalBytes])),
      );
    const gbps = (direction: Direction): number => median(bulk(direction).map((r) => r.result.bitsPerSecond)) / 1e9;
    return {
      target,
      version: versions[target],
      connectionsPerSec: median(conn.map((r) => r.result.reqPerSec)),
      p99Ms: median(conn.map((r) => r.result.latencyMs.p99)),
      bulkGbps: { upload: gbps('upload'), download: gbps('download') },
      rssMB: rss.length === 0 ? undefined : Math.max(...rss),
      cpuUsPerConnection: perConnection((usage) => usage.cpuMs),
      kernelUsPerConnection: perConnection((usage) => usage.systemMs),
      cpuMsPerGB: { upload: perGB('upload'), download: perGB('download') },
      errors: conn.reduce((sum, r) => sum + errorCount(r.result.errors), 0),
    };
  });
  const row = (t: TcpTarget): (typeof rows)[number] => rows.find((r) => r.target === t) as (typeof rows)[number];
  const direct = row('direct');
  const targets = rows.map((r) => ({
    ...r,
    connectionsVsDirect: r.connectionsPerSec / direct.connectionsPerSec,
  }));
  const haproxy = row('haproxy');
  const ratios = COMPARED_TARGETS.map((target) => ({
    target,
    connections: row(target).connectionsPerSec / haproxy.connectionsPerSec,
    connectionsPerRound: ratiosPerRound(connectionRuns, target, (r) => r.result.reqPerSec),
    bulk: {
      upload: row(target).bulkGbps.upload / haproxy.bulkGbps.upload,
      download: row(target).bulkGbps.download / haproxy.bulkGbps.download,
    },
    bulkPerRound: {
      upload: ratiosPerRound(bulkRuns.filter((r) => r.direction === 'upload'), target, (r) => r.result.bitsPerSecond),
      download: ratiosPerRound(bulkRuns.filter((r) => r.direction === 'download'), target, (r) => r.result.bitsPerSecond),
    },
  }));
  // The goals are Ballast's; the Node.js pipe's ratios show what Node.js alone allows.
  const goals = ratios.filter((r) => r.target === 'ballast').flatMap((r): TcpGoal[] => [
    {
      goal: `${DISPLAY[r.target]} connections/s ÷ HAProxy connections/s ≥`,
      value: r.connections,
      limit: TCP_GOALS.minConnectionRatio,
      pass: r.connections >= TCP_GOALS.minConnectionRatio,
    },
    ...DIRECTIONS.map((direction) => ({
      goal: `${DISPLAY[r.target]} ${direction} throughput ÷ HAProxy ${direction} throughput ≥`,
      value: r.bulk[direction],
      limit: TCP_GOALS.minBulkRatio,
      pass: r.bulk[direction] >= TCP_GOALS.minBulkRatio,
    })),
  ]);
  const all = [...connectionRuns, ...bulkRuns];
  return {
    targets,
    ratios,
    goals,
    maxBackgroundCpus: Math.max(0, ...all.map((r) => r.background.foreignCpus + r.background.stealCpus)),
  };
}

/** The summary as a markdown table plus the ratio and goal lines. */
export function tcpMarkdown(summary: TcpSummary): string {
  const fixed = (v: number | undefined, digits: number): string => (v === undefined ? '–' : v.toFixed(digits));
  const lines = [
    '| target | connections/s | p99 ms | × direct | CPU µs/conn | of it kernel | upload Gbit/s | CPU ms/GB | download Gbit/s | CPU ms/GB | RSS MB | errors |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of summary.targets) {
    lines.push(
      `| ${DISPLAY[r.target]} | ${Math.round(r.connectionsPerSec)} | ${fixed(r.p99Ms, 2)} | ${fixed(r.connectionsVsDirect, 2)} | ` +
        `${fixed(r.cpuUsPerConnection, 0)} | ${fixed(r.kernelUsPerConnection, 0)} | ${fixed(r.bulkGbps.upload, 2)} | ${fixed(r.cpuMsPerGB.upload, 0)} | ` +
        `${fixed(r.bulkGbps.download, 2)} | ${fixed(r.cpuMsPerGB.download, 0)} | ${fixed(r.rssMB, 1)} | ${r.errors} |`,
    );
  }
  const per = (values: readonly number[]): string => values.map((v) => v.toFixed(2)).join(', ');
  lines.push('');
  for (const r of summary.ratios) {
    lines.push(
      `${DISPLAY[r.target]} ÷ HAProxy: connections/s **${r.connections.toFixed(2)}** (per round: ${per(r.connectionsPerRound)}), ` +
        `upload **${r.bulk.upload.toFixed(2)}** (${per(r.bulkPerRound.upload)}), ` +
        `download **${r.bulk.download.toFixed(2)}** (${per(r.bulkPerRound.download)})`,
    );
  }
  if (summary.maxBackgroundCpus > BUSY_MACHINE_CPUS) {
    lines.push(
      '',
      `Warning: the machine was not quiet — other processes and the hypervisor took up to ` +
        `${summary.maxBackgroundCpus.toFixed(2)} CPU during a run; rerun on an idle machine.`,
    );
  }
  lines.push('');
  for (const g of summary.goals) lines.push(`- ${g.pass ? 'met' : 'MISSED'}: ${g.goal} ${g.limit} — measured ${g.value.toFixed(2)}`);
  return lines.join('\n');
}

function rssOf(target: RunningTarget): number | undefined {
  if (target.process === undefined) return undefined;
  target.process.assertRunning();
  return bytesToMB(treeMemory(target.process.pid).rssBytes);
}

function describeUsage(usage: ProcessUsage | undefined, units: number, unit: string): string {
  if (usage === undefined || units <= 0) return '';
  const per = (ms: number): string => ((ms * 1000) / units).toFixed(0);
  return (
    `; proxy CPU ${usage.cpuMs} ms, ${per(usage.cpuMs)} µs (${per(usage.systemMs)} in the kernel) and ` +
    `${(usage.minorFaults / units).toFixed(1)} page faults per ${unit}`
  );
}

function describeConn(result: LoadResult): string {
  const errors = errorCount(result.errors);
  return `${Math.round(result.reqPerSec)} conn/s, p99 ${result.latencyMs.p99.toFixed(2)} ms${errors > 0 ? `, ${errors} errors` : ''}`;
}

/**
 * The whole benchmark: starts the backends and the proxies in `ctx`, runs
 * the interleaved rounds and returns the report. The caller owns `ctx.group`
 * and stops it afterwards.
 */
export async function runTcpBenchmark(ctx: Context, opts: TcpBenchOptions, pinning: Pinning, log: (line: string) => void): Promise<TcpReport> {
  const programs = findPrograms(ctx.repoRoot);
  const startLoad = loadavg()[0] ?? 0;
  const reporter = join(ctx.dir, 'wrk-report.lua');
  writeFileSync(reporter, WRK_REPORTER_LUA);
  const wrkVersion = (versionOf(programs.wrk, ['-v']) ?? 'wrk').replace(/ Copyright.*$/, '');
  const iperfVersion = versionOf(programs.iperf3, ['--version']) ?? 'iperf3';
  log(`${wrkVersion}; ${iperfVersion}; ${pinning.note}; load average ${startLoad.toFixed(2)}`);

  const backends = await startBackends(ctx, 'auto');
  const iperf = await startIperfServer(ctx, programs);
  log(`backends: ${backends.kind} on ${backends.servers.map((s) => s.port).join(', ')}; iperf3 -s on ${iperf.port}`);
  const targets: RunningTarget[] = [];
  for (const name of TCP_TARGETS) {
    const target = await startTcpTarget(ctx, programs, name, backends, iperf.port);
    targets.push(target);
    log(`${name}: conn ${target.connPort}, bulk ${target.bulkPort} (${target.version})`);
  }
  const versions = Object.fromEntries(targets.map((t) => [t.name, t.version])) as Record<TcpTarget, string>;
  const ownPids = [backends.process.pid, iperf.process.pid, ...targets.flatMap((t) => (t.process ? [t.process.pid] : []))];

  for (const t of targets) {
    if (opts.warmupS > 0) log(`warm-up ${t.name}: ${describeConn(await runWrk(ctx, programs, reporter, t.connPort, opts.warmupS, opts.connections))}`);
    for (const direction of DIRECTIONS) await runIperf(ctx, programs, t.bulkPort, direction, 1);
  }

  const connectionRuns: ConnectionRun[] = [];
  const bulkRuns: BulkRun[] = [];
  for (let round = 1; round <= opts.rounds; round++) {
    for (const t of targets) {
      const { result, background, proxy } = await measure(opts, ownPids, t.process, log, () =>
        runWrk(ctx, programs, reporter, t.connPort, opts.durationS, opts.connections),
      );
      connectionRuns.push({ round, target: t.name, result, background, proxy, rssMB: rssOf(t) });
      log(`round ${round}/${opts.rounds} connections ${t.name}: ${describeConn(result)}${describeUsage(proxy, result.requests, 'connection')}`);
    }
    for (const direction of DIRECTIONS) {
      for (const t of targets) {
        const { result, background, proxy } = await measure(opts, ownPids, t.process, log, () =>
          runIperf(ctx, programs, t.bulkPort, direction, opts.bulkDurationS),
        );
        bulkRuns.push({ round, target: t.name, direction, result, background, proxy, rssMB: rssOf(t) });
        log(
          `round ${round}/${opts.rounds} ${direction} ${t.name}: ${(result.bitsPerSecond / 1e9).toFixed(2)} Gbit/s` +
            describeUsage(proxy, result.totalBytes / 1e6, 'MB'),
        );
      }
    }
  }

  return {
    benchmark: 'tcp-l4',
    date: new Date().toISOString(),
    machine: {
      cpus: availableParallelism(),
      cpuModel: cpus()[0]?.model ?? 'unknown CPU',
      memoryGB: Math.round(totalmem() / 2 ** 30),
      kernel: release(),
      node: process.version,
      loadAverage: startLoad,
    },
    settings: {
      rounds: opts.rounds,
      durationS: opts.durationS,
      bulkDurationS: opts.bulkDurationS,
      warmupS: opts.warmupS,
      connections: opts.connections,
      quietWaitS: opts.quietWaitS,
      retries: opts.retries,
      pin: opts.pin,
      wrk: wrkVersion,
      iperf3: iperfVersion,
      backend: `${backends.kind} (${backends.version})`,
      pinning,
    },
    connectionRuns,
    bulkRuns,
    summary: summarizeTcp(connectionRuns, bulkRuns, versions),
  };
}

/** Writes `report` as JSON to `opts.out` (relative to `repoRoot`) and logs its table. */
export function publishTcpReport(repoRoot: string, report: TcpReport, opts: TcpBenchOptions, log: (line: string) => void): void {
  const out = resolve(repoRoot, opts.out);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  log('');
  log(
    `${report.machine.cpus} CPU (${report.machine.cpuModel}), wrk -t1 -c${opts.connections} Connection: close, ` +
      `${opts.rounds} × ${opts.durationS} s; iperf3 ${opts.rounds} × ${opts.bulkDurationS} s each way; medians:`,
  );
  log('');
  log(tcpMarkdown(report.summary));
  log('');
  log(`written: ${out}`);
}

async function main(): Promise<number> {
  let opts: TcpBenchOptions;
  try {
    opts = parseTcpOptions(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`${err.message}\n\n${USAGE}`);
      return 2;
    }
    throw err;
  }
  if (opts.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const repoRoot = process.cwd();
  if (!existsSync(join(repoRoot, 'package.json')) || !statSync(join(repoRoot, 'bench')).isDirectory()) {
    throw new Error('run the benchmark from the repository root (npm run bench:tcp)');
  }
  const log = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  const pinning = choosePinning(opts.pin);
  return inBenchWorkspace('ballast-bench-tcp-', log, async (group, dir) => {
    const ctx: Context = { group, dir, repoRoot, proxyCpu: pinning.proxyCpu, clientCpu: pinning.clientCpu };
    const report = await runTcpBenchmark(ctx, opts, pinning, log);
    publishTcpReport(repoRoot, report, opts, log);
    return opts.check && report.summary.goals.some((g) => !g.pass) ? 1 : 0;
  });
}

// Run only when executed directly, so the runner and the summary stay importable.
if (process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === import.meta.url) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`bench:tcp: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
