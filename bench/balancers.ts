/**
 * Picks per second of every load-balancing algorithm at 10, 100 and 1,000
 * servers (`npm run bench:balancers`).
 *
 * Each measured pick is a whole request as the pool drives it: `pick`, then
 * `inFlight + 1` and `onRequestStart`, and the oldest of 64 open requests
 * ends (`inFlight - 1`, `onRequestEnd` with a latency). Servers have weights
 * 1..5, contexts cycle through 4,096 client addresses (one in five IPv6) and
 * hash keys. The clock is the real monotonic clock. Every configuration gets
 * a warm-up and then ROUNDS timed rounds of PICKS picks; the median counts.
 *
 * Each algorithm runs in a process of its own, as in a deployment, so its
 * call sites are not polluted by the other algorithms. Rates are picks per
 * second of CPU time of that process (so other load on the machine does not
 * distort them); wall-clock rates are recorded in the JSON as well.
 *
 * Prints a table, writes bench/results/balancers.json, and exits with 1 when
 * an algorithm misses the goal at 1,000 servers.
 *
 * Options: --picks N (per round, default 1,000,000), --rounds N (default 5).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname } from 'node:path';
import { createBalancer } from '../src/balancers/index.js';
import type { Balancer, PickContext } from '../src/balancers/types.js';
import { ALGORITHMS, type AlgorithmName } from '../src/config/types.js';
import { seededRandom } from '../src/core/random.js';
import type { BalancerTarget } from '../src/core/server.js';

const SIZES = [10, 100, 1000] as const;
const GOAL_PICKS_PER_SECOND = 1_000_000;
const GOAL_SIZE = 1000;
const OPEN_REQUESTS = 64;
const CONTEXTS = 4096;
const RESULT_FILE = 'bench/results/balancers.json';

class BenchTarget implements BalancerTarget {
  inFlight = 0;
  constructor(
    readonly name: string,
    readonly weight: number,
  ) {}
  get atCapacity(): boolean {
    return false;
  }
}

interface Rate {
  /** Picks per second of process CPU time (user + system). */
  readonly cpu: number;
  /** Picks per second of wall-clock time. */
  readonly wall: number;
}

interface Measurement {
  readonly algorithm: AlgorithmName;
  readonly servers: number;
  /** Median CPU-time rate over the rounds. */
  readonly picksPerSecond: number;
  /** Median wall-clock rate over the rounds. */
  readonly wallPicksPerSecond: number;
  readonly rounds: readonly Rate[];
}

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  if (at === -1) return fallback;
  const value = Number(process.argv[at + 1]);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} needs a positive integer`);
  return value;
}

function contexts(): PickContext[] {
  const list: PickContext[] = [];
  for (let i = 0; i < CONTEXTS; i++) {
    const clientAddress = i % 5 === 4 ? `2001:db8::${i.toString(16)}` : `10.${(i >> 8) & 255}.${i & 255}.${(i * 7) & 255}`;
    list.push({ clientAddress, hashKey: `session-${i}` });
  }
  return list;
}

/** Runs `picks` request lifecycles and returns their rates. */
function run(balancer: Balancer<BenchTarget>, ctxs: readonly PickContext[], open: (BenchTarget | null)[], picks: number): Rate {
  const latency = seededRandom(3);
  let slot = 0;
  const cpuBefore = process.cpuUsage();
  const started = process.hrtime.bigint();
  for (let i = 0; i < picks; i++) {
    const target = balancer.pick(ctxs[i & (CONTEXTS - 1)]!);
    if (target === null) throw new Error('no server picked');
    target.inFlight++;
    balancer.onRequestStart?.(target);
    const done = open[slot];
    open[slot] = target;
    slot = slot + 1 === OPEN_REQUESTS ? 0 : slot + 1;
    if (done !== null && done !== undefined) {
      done.inFlight--;
      balancer.onRequestEnd?.(done, 2 + latency() * 8);
    }
  }
  const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = process.cpuUsage(cpuBefore);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  return { cpu: picks / cpuSeconds, wall: picks / wallSeconds };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function measure(algorithm: AlgorithmName, servers: number, picks: number, rounds: number): Measurement {
  const balancer = createBalancer<BenchTarget>(algorithm, { random: seededRandom(servers) });
  for (let i = 0; i < servers; i++) {
    const target = new BenchTarget(`server-${i}`, 1 + (i % 5));
    balancer.add(target);
    balancer.setUp(target);
  }
  const ctxs = contexts();
  const open = new Array<BenchTarget | null>(OPEN_REQUESTS).fill(null);
  run(balancer, ctxs, open, Math.min(picks, 200_000));
  const results: Rate[] = [];
  for (let round = 0; round < rounds; round++) results.push(run(balancer, ctxs, open, picks));
  return {
    algorithm,
    servers,
    picksPerSecond: median(results.map((rate) => rate.cpu)),
    wallPicksPerSecond: median(results.map((rate) => rate.wall)),
    rounds: results,
  };
}

/** Measures one algorithm at every size in a fresh process. */
function measureInChild(algorithm: AlgorithmName, picks: number, rounds: number): Measurement[] {
  const script = process.argv[1]!;
  const child = spawnSync(
    process.execPath,
    [script, '--child', algorithm, '--picks', String(picks), '--rounds', String(rounds)],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 600_000 },
  );
  if (child.status !== 0) throw new Error(`benchmark of ${algorithm} failed (${child.status ?? child.signal})`);
  return JSON.parse(child.stdout) as Measurement[];
}

function format(perSecond: number): string {
  return `${(perSecond / 1e6).toFixed(2)} M`;
}

function main(): void {
  const picks = option('--picks', 1_000_000);
  const rounds = option('--rounds', 5);
  const childAt = process.argv.indexOf('--child');
  if (childAt !== -1) {
    const algorithm = process.argv[childAt + 1] as AlgorithmName;
    if (!ALGORITHMS.includes(algorithm)) throw new Error(`unknown algorithm ${algorithm}`);
    process.stdout.write(JSON.stringify(SIZES.map((servers) => measure(algorithm, servers, picks, rounds))));
    return;
  }
  const measurements: Measurement[] = [];
  const header = `| algorithm | ${SIZES.map((n) => `${n.toLocaleString('en-US')} servers`).join(' | ')} |`;
  const lines = [header, `|---|${SIZES.map(() => '---:').join('|')}|`];
  for (const algorithm of ALGORITHMS) {
    const row: string[] = [];
    for (const result of measureInChild(algorithm, picks, rounds)) {
      measurements.push(result);
      row.push(format(result.picksPerSecond));
    }
    lines.push(`| ${algorithm} | ${row.join(' | ')} |`);
  }
  const misses = measurements.filter((m) => m.servers === GOAL_SIZE && m.picksPerSecond < GOAL_PICKS_PER_SECOND);
  console.log('Picks per CPU second (median of rounds; each pick includes its request start and end hooks)\n');
  console.log(lines.join('\n'));
  console.log(
    misses.length === 0
      ? `\ngoal met: every algorithm >= ${format(GOAL_PICKS_PER_SECOND)} picks/s at ${GOAL_SIZE} servers`
      : `\ngoal missed at ${GOAL_SIZE} servers: ${misses.map((m) => `${m.algorithm} ${format(m.picksPerSecond)}`).join(', ')}`,
  );
  const report = {
    benchmark: 'balancer-picks',
    date: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      memoryGB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
    },
    settings: { picksPerRound: picks, rounds, openRequests: OPEN_REQUESTS, contexts: CONTEXTS, weights: '1..5 cycling' },
    goal: { picksPerSecond: GOAL_PICKS_PER_SECOND, servers: GOAL_SIZE, met: misses.length === 0 },
    results: measurements,
    table: lines.join('\n'),
  };
  mkdirSync(dirname(RESULT_FILE), { recursive: true });
  writeFileSync(RESULT_FILE, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nwrote ${RESULT_FILE}`);
  if (misses.length > 0) process.exitCode = 1;
}

main();
