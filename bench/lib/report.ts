/**
 * From individual runs to the published result: medians per target, ratios
 * to the direct path and of Ballast to HAProxy, the performance goals, and the
 * markdown table. Pure functions; no I/O.
 */
import type { BackgroundCpu } from './cpu-usage.js';
import { errorCount } from './load.js';
import type { LoadResult } from './load.js';
import type { TargetName } from './options.js';

const MB = 1024 * 1024;

/** The goals from the benchmark's definition (docs/benchmarks.md). */
export const GOALS = {
  /** Ballast req/s divided by HAProxy req/s in the same run. */
  minBallastToHaproxy: 0.55,
  /** Ballast p99 latency, ms. */
  maxBallastP99Ms: 3,
  /** Ballast resident memory after the run, MB. */
  maxBallastRssMB: 120,
} as const;

export interface RunRecord {
  readonly round: number;
  readonly target: TargetName;
  readonly result: LoadResult;
  /** Proxy memory right after the run, MB; undefined for the direct path. */
  readonly rssMB: number | undefined;
  /** Proxy peak memory (VmHWM) right after the run, MB; undefined for the direct path. */
  readonly peakRssMB: number | undefined;
  /** CPU used outside the benchmark during the run. */
  readonly background: BackgroundCpu;
  /** Earlier attempts of this run discarded because the machine was busy. */
  readonly discardedAttempts: number;
}

export interface TargetSummary {
  readonly target: TargetName;
  readonly version: string;
  readonly runs: number;
  /** Medians over the measured rounds. */
  readonly reqPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Largest post-run RSS over the rounds, MB. */
  readonly rssMB: number | undefined;
  /** Largest peak RSS over the rounds, MB. */
  readonly peakRssMB: number | undefined;
  /** Failed requests of every kind over all rounds. */
  readonly errors: number;
  /** Median req/s divided by the direct path's median req/s. */
  readonly vsDirect: number | undefined;
}

export interface GoalCheck {
  readonly goal: string;
  readonly value: number;
  readonly limit: number;
  readonly pass: boolean;
}

export interface Summary {
  readonly targets: readonly TargetSummary[];
  /** Ballast median req/s divided by HAProxy median req/s. */
  readonly ballastToHaproxy: number | undefined;
  /** The same ratio within each round, in round order. */
  readonly ballastToHaproxyPerRound: readonly number[];
  readonly goals: readonly GoalCheck[];
  /** Largest background CPU of any kept run, in CPUs. */
  readonly maxBackgroundCpus: number;
  /** Largest hypervisor steal of any kept run, in CPUs. */
  readonly maxStealCpus: number;
}

/**
 * Background CPU (other processes plus hypervisor steal, in CPUs) above which
 * a run is retried and, if it stays that high, flagged.
 */
export const BUSY_MACHINE_CPUS = 0.1;

export function bytesToMB(bytes: number): number {
  return bytes / MB;
}

/** Median of a non-empty list; the mean of the two middle values for an even count. O(n log n). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of an empty list');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function maxDefined(values: ReadonlyArray<number | undefined>): number | undefined {
  const defined = values.filter((v): v is number => v !== undefined);
  return defined.length === 0 ? undefined : Math.max(...defined);
}

/**
 * Summarizes `runs`; `order` fixes the row order and `versions` names each
 * target's program. Targets without runs are left out.
 */
export function summarize(
  runs: readonly RunRecord[],
  order: readonly TargetName[],
  versions: Readonly<Partial<Record<TargetName, string>>>,
): Summary {
  const rows: TargetSummary[] = [];
  for (const target of order) {
    const mine = runs.filter((r) => r.target === target);
    if (mine.length === 0) continue;
    rows.push({
      target,
      version: versions[target] ?? '',
      runs: mine.length,
      reqPerSec: median(mine.map((r) => r.result.reqPerSec)),
      p50Ms: median(mine.map((r) => r.result.latencyMs.p50)),
      p99Ms: median(mine.map((r) => r.result.latencyMs.p99)),
      rssMB: maxDefined(mine.map((r) => r.rssMB)),
      peakRssMB: maxDefined(mine.map((r) => r.peakRssMB)),
      errors: mine.reduce((sum, r) => sum + errorCount(r.result.errors), 0),
      vsDirect: undefined,
    });
  }
  const direct = rows.find((r) => r.target === 'direct');
  const targets = rows.map((r) => ({
    ...r,
    vsDirect: direct && direct.reqPerSec > 0 ? r.reqPerSec / direct.reqPerSec : undefined,
  }));

  const ballast = targets.find((r) => r.target === 'ballast');
  const haproxy = targets.find((r) => r.target === 'haproxy');
  const ballastToHaproxy = ballast && haproxy && haproxy.reqPerSec > 0 ? ballast.reqPerSec / haproxy.reqPerSec : undefined;

  const perRound: number[] = [];
  for (const round of [...new Set(runs.map((r) => r.round))].sort((a, b) => a - b)) {
    const b = runs.find((r) => r.round === round && r.target === 'ballast');
    const h = runs.find((r) => r.round === round && r.target === 'haproxy');
    if (b && h && h.result.reqPerSec > 0) perRound.push(b.result.reqPerSec / h.result.reqPerSec);
  }

  const goals: GoalCheck[] = [];
  if (ballastToHaproxy !== undefined) {
    goals.push({
      goal: 'Ballast req/s ÷ HAProxy req/s ≥',
      value: ballastToHaproxy,
      limit: GOALS.minBallastToHaproxy,
      pass: ballastToHaproxy >= GOALS.minBallastToHaproxy,
    });
  }
  if (ballast) {
    goals.push({
      goal: 'Ballast p99 (ms) ≤',
      value: ballast.p99Ms,
      limit: GOALS.maxBallastP99Ms,
      pass: ballast.p99Ms <= GOALS.maxBallastP99Ms,
    });
    if (ballast.rssMB !== undefined) {
      goals.push({
        goal: 'Ballast RSS after the run (MB) ≤',
        value: ballast.rssMB,
        limit: GOALS.maxBallastRssMB,
        pass: ballast.rssMB <= GOALS.maxBallastRssMB,
      });
    }
  }
  const maxBackgroundCpus = Math.max(0, ...runs.map((r) => r.background.foreignCpus));
  const maxStealCpus = Math.max(0, ...runs.map((r) => r.background.stealCpus));
  return { targets, ballastToHaproxy, ballastToHaproxyPerRound: perRound, goals, maxBackgroundCpus, maxStealCpus };
}

const DISPLAY: Record<TargetName, string> = {
  direct: 'direct (no proxy)',
  ballast: 'Ballast',
  haproxy: 'HAProxy',
  nginx: 'NGINX',
};

function fixed(value: number | undefined, digits: number): string {
  return value === undefined ? '–' : value.toFixed(digits);
}

/** The result as a GitHub-flavoured markdown table plus the goal lines. */
export function markdownTable(summary: Summary): string {
  const lines = [
    '| target | req/s | p50 ms | p99 ms | RSS MB | peak RSS MB | × direct | errors |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of summary.targets) {
    lines.push(
      `| ${DISPLAY[r.target]} | ${Math.round(r.reqPerSec)} | ${fixed(r.p50Ms, 2)} | ${fixed(r.p99Ms, 2)} | ` +
        `${fixed(r.rssMB, 1)} | ${fixed(r.peakRssMB, 1)} | ${fixed(r.vsDirect, 2)} | ${r.errors} |`,
    );
  }
  if (summary.ballastToHaproxy !== undefined) {
    const per = summary.ballastToHaproxyPerRound.map((v) => v.toFixed(2)).join(', ');
    lines.push('', `Ballast ÷ HAProxy req/s: **${summary.ballastToHaproxy.toFixed(2)}** (per round: ${per})`);
  }
  if (summary.maxBackgroundCpus + summary.maxStealCpus > BUSY_MACHINE_CPUS) {
    lines.push(
      '',
      `Warning: the machine was not quiet — other processes used up to ${summary.maxBackgroundCpus.toFixed(2)} CPU ` +
        `and the hypervisor stole up to ${summary.maxStealCpus.toFixed(2)} CPU during a run; rerun on an idle machine.`,
    );
  }
  if (summary.goals.length > 0) {
    lines.push('');
    for (const g of summary.goals) {
      lines.push(`- ${g.pass ? 'met' : 'MISSED'}: ${g.goal} ${g.limit} — measured ${g.value.toFixed(2)}`);
    }
  }
  return lines.join('\n');
}
