/**
 * Command-line and environment options of `npm run bench`: the HTTP benchmark
 * and the TCP (L4) benchmark that follows it.
 *
 * Precedence: defaults < `--quick` < environment (`BENCH_*`) < explicit flags.
 * Every value is validated here so the runner never sees a nonsensical setting.
 */

export const TARGET_NAMES = ['direct', 'ballast', 'haproxy', 'nginx'] as const;
export type TargetName = (typeof TARGET_NAMES)[number];

export type LoadGeneratorChoice = 'auto' | 'wrk' | 'autocannon';
export type BackendChoice = 'auto' | 'nginx' | 'node';

export interface BenchOptions {
  /** Seconds of load per measured run. */
  readonly durationS: number;
  /** Measured rounds; each round runs every target once, in `targets` order. */
  readonly rounds: number;
  /** Seconds of unrecorded load per target before the first round. 0 disables it. */
  readonly warmupS: number;
  /** Longest wait for a quiet machine before each run, seconds; 0 starts at once. */
  readonly quietWaitS: number;
  /** Times a run is repeated when other processes were busy during it. */
  readonly retries: number;
  /** Load generator threads (wrk `-t`). */
  readonly threads: number;
  /** Concurrent keep-alive client connections (wrk `-c`). */
  readonly connections: number;
  /** Targets in the order they are interleaved. */
  readonly targets: readonly TargetName[];
  /** True when `targets` was given explicitly; then a missing program is an error, not a skip. */
  readonly targetsExplicit: boolean;
  readonly loadGenerator: LoadGeneratorChoice;
  readonly backend: BackendChoice;
  /** When true, one extra profiled Ballast run follows the rounds. */
  readonly cpuProf: boolean;
  /** Functions listed in the profile summary. */
  readonly profileTop: number;
  /** Where `--cpu-prof` writes `.cpuprofile` files, relative to the repository root. */
  readonly profDir: string;
  /** Pin processes to CPUs with taskset when at least two CPUs exist. */
  readonly pin: boolean;
  /** Exit with status 1 when a target of the issue (ratio, p99, RSS) is missed. */
  readonly check: boolean;
  /** Where the JSON report is written, relative to the repository root. */
  readonly out: string;
  /** Run the TCP (L4) benchmark after the HTTP rounds. */
  readonly tcp: boolean;
  /** Where the TCP benchmark's JSON report is written, relative to the repository root. */
  readonly tcpOut: string;
  readonly help: boolean;
}

export const DEFAULT_OPTIONS: BenchOptions = {
  durationS: 10,
  rounds: 3,
  warmupS: 3,
  quietWaitS: 30,
  retries: 2,
  threads: 1,
  connections: 50,
  targets: TARGET_NAMES,
  targetsExplicit: false,
  loadGenerator: 'auto',
  backend: 'auto',
  cpuProf: false,
  profileTop: 25,
  profDir: 'bench/results/prof',
  pin: true,
  check: false,
  out: 'bench/results/http.json',
  tcp: true,
  tcpOut: 'bench/results/tcp.json',
  help: false,
};

/** `--quick`: a smoke run that finishes in well under a minute. */
const QUICK: Partial<BenchOptions> = { durationS: 3, rounds: 1, warmupS: 1 };

export const USAGE = `Usage: npm run bench -- [options]

Runs wrk (or autocannon) against the direct backend, Ballast, HAProxy and NGINX,
interleaved over several rounds, and prints the median req/s, p50, p99 and RSS.
Then runs the TCP (L4) benchmark (npm run bench:tcp) with as many rounds and
wrk seconds, half that per iperf3 run, and prints its table too.

Options (environment variable in brackets):
  --duration SEC        seconds of load per run, "10" or "10s"   [BENCH_DURATION]  default 10
  --rounds N            measured rounds                          [BENCH_ROUNDS]    default 3
  --warmup SEC          unrecorded warm-up per target, 0 = none  [BENCH_WARMUP]    default 3
  --quiet-wait SEC      longest wait for an idle machine before a run [BENCH_QUIET_WAIT] default 30
  --retries N           repeats of a run disturbed by other processes [BENCH_RETRIES] default 2
  --connections N       client connections (wrk -c)              [BENCH_CONNECTIONS] default 50
  --threads N           load generator threads (wrk -t)          [BENCH_THREADS]   default 1
  --targets LIST        comma list of direct,ballast,haproxy,nginx [BENCH_TARGETS] default all
  --load-generator X    auto | wrk | autocannon                  [BENCH_LOAD_GENERATOR] default auto
  --backend X           auto | nginx | node                      [BENCH_BACKEND]   default auto
  --cpu-prof            one extra Ballast run under node --cpu-prof, then a self-time summary
  --profile-top N       functions listed in the profile summary  default 25
  --prof-dir DIR        where .cpuprofile files go               default bench/results/prof
  --no-pin              do not pin processes to CPUs
  --check               exit 1 when a target (Ballast/HAProxy >= 0.55, p99 <= 3 ms, RSS <= 120 MB) is missed
                        (HTTP targets; the L4 goals are checked by npm run bench:tcp -- --check)
  --out FILE            JSON report path                         [BENCH_OUT]       default bench/results/http.json
  --no-tcp              skip the TCP (L4) benchmark
  --tcp-out FILE        TCP (L4) JSON report path                [BENCH_TCP_OUT]   default bench/results/tcp.json
  --quick               smoke run: 1 round of 3 s, 1 s warm-up
  -h, --help            this text
`;

export class OptionsError extends Error {
  override readonly name = 'OptionsError';
}

function parseSeconds(flag: string, raw: string, allowZero: boolean): number {
  const match = /^(\d+(?:\.\d+)?)(s?)$/.exec(raw.trim());
  const value = match ? Number(match[1]) : Number.NaN;
  if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0) || value > 3600) {
    throw new OptionsError(`${flag}: expected seconds like 10 or 10s (max 3600), got "${raw}"`);
  }
  return value;
}

function parseCount(flag: string, raw: string, min: number, max: number): number {
  const value = /^\d+$/.test(raw.trim()) ? Number(raw) : Number.NaN;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new OptionsError(`${flag}: expected an integer from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

function parseTargets(flag: string, raw: string): TargetName[] {
  const names = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (names.length === 0) throw new OptionsError(`${flag}: expected at least one target`);
  const seen = new Set<TargetName>();
  for (const name of names) {
    if (!(TARGET_NAMES as readonly string[]).includes(name)) {
      throw new OptionsError(`${flag}: unknown target "${name}" (known: ${TARGET_NAMES.join(', ')})`);
    }
    seen.add(name as TargetName);
  }
  // Keep the canonical interleaving order whatever order the user typed.
  return TARGET_NAMES.filter((t) => seen.has(t));
}

function parseChoice<T extends string>(flag: string, raw: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(raw)) {
    throw new OptionsError(`${flag}: expected one of ${choices.join(', ')}, got "${raw}"`);
  }
  return raw as T;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Applies one setting by its long flag name (without dashes). */
function apply(opts: Mutable<BenchOptions>, name: string, raw: string): void {
  const flag = `--${name}`;
  switch (name) {
    case 'duration':
      opts.durationS = parseSeconds(flag, raw, false);
      return;
    case 'rounds':
      opts.rounds = parseCount(flag, raw, 1, 100);
      return;
    case 'warmup':
      opts.warmupS = parseSeconds(flag, raw, true);
      return;
    case 'quiet-wait':
      opts.quietWaitS = parseSeconds(flag, raw, true);
      return;
    case 'retries':
      opts.retries = parseCount(flag, raw, 0, 10);
      return;
    case 'connections':
      opts.connections = parseCount(flag, raw, 1, 10000);
      return;
    case 'threads':
      opts.threads = parseCount(flag, raw, 1, 64);
      return;
    case 'targets':
      opts.targets = parseTargets(flag, raw);
      opts.targetsExplicit = true;
      return;
    case 'load-generator':
      opts.loadGenerator = parseChoice(flag, raw, ['auto', 'wrk', 'autocannon'] as const);
      return;
    case 'backend':
      opts.backend = parseChoice(flag, raw, ['auto', 'nginx', 'node'] as const);
      return;
    case 'profile-top':
      opts.profileTop = parseCount(flag, raw, 1, 1000);
      return;
    case 'out':
      if (raw.trim() === '') throw new OptionsError(`${flag}: expected a file path`);
      opts.out = raw;
      return;
    case 'tcp-out':
      if (raw.trim() === '') throw new OptionsError(`${flag}: expected a file path`);
      opts.tcpOut = raw;
      return;
    case 'prof-dir':
      if (raw.trim() === '') throw new OptionsError(`${flag}: expected a folder path`);
      opts.profDir = raw;
      return;
    default:
      throw new OptionsError(`unknown option ${flag}`);
  }
}

const ENV_NAMES: ReadonlyArray<readonly [string, string]> = [
  ['BENCH_DURATION', 'duration'],
  ['BENCH_ROUNDS', 'rounds'],
  ['BENCH_WARMUP', 'warmup'],
  ['BENCH_QUIET_WAIT', 'quiet-wait'],
  ['BENCH_RETRIES', 'retries'],
  ['BENCH_CONNECTIONS', 'connections'],
  ['BENCH_THREADS', 'threads'],
  ['BENCH_TARGETS', 'targets'],
  ['BENCH_LOAD_GENERATOR', 'load-generator'],
  ['BENCH_BACKEND', 'backend'],
  ['BENCH_OUT', 'out'],
  ['BENCH_TCP_OUT', 'tcp-out'],
];

const BOOLEAN_FLAGS = new Set(['quick', 'cpu-prof', 'no-pin', 'no-tcp', 'check', 'help']);

/**
 * Parses `argv` (without the node and script paths) and `env`.
 * Accepts `--name value` and `--name=value`. Throws OptionsError on anything
 * unknown or out of range.
 */
export function parseOptions(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): BenchOptions {
  const flags: Array<[string, string]> = [];
  const switches = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '-h') {
      switches.add('help');
      continue;
    }
    if (!arg.startsWith('--')) throw new OptionsError(`unexpected argument "${arg}"`);
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    if (BOOLEAN_FLAGS.has(name)) {
      if (eq !== -1) throw new OptionsError(`--${name} takes no value`);
      switches.add(name);
      continue;
    }
    let value: string | undefined;
    if (eq !== -1) value = arg.slice(eq + 1);
    else {
      value = argv[i + 1];
      i++;
    }
    if (value === undefined) throw new OptionsError(`--${name} needs a value`);
    flags.push([name, value]);
  }

  const opts: Mutable<BenchOptions> = { ...DEFAULT_OPTIONS };
  if (switches.has('quick')) Object.assign(opts, QUICK);
  for (const [envName, name] of ENV_NAMES) {
    const raw = env[envName];
    if (raw !== undefined && raw !== '') apply(opts, name, raw);
  }
  for (const [name, value] of flags) apply(opts, name, value);
  if (switches.has('cpu-prof')) opts.cpuProf = true;
  if (switches.has('no-pin')) opts.pin = false;
  if (switches.has('no-tcp')) opts.tcp = false;
  if (switches.has('check')) opts.check = true;
  if (switches.has('help')) opts.help = true;
  if (opts.cpuProf && !opts.targets.includes('ballast')) {
    throw new OptionsError('--cpu-prof profiles Ballast; include "ballast" in --targets');
  }
  return opts;
}
