/**
 * Background CPU during a run: how much CPU time the machine spent in
 * processes that are not part of the benchmark, and how much the hypervisor
 * stole. A benchmark on a shared machine is only as good as its quietest run;
 * the runner reports these figures with every run and warns when they are high.
 *
 * Linux only (/proc). Times are clock ticks (USER_HZ, 100 per second on every
 * Linux architecture Node supports).
 */
import { readFileSync } from 'node:fs';
import { processTree } from './processes.js';

const TICKS_PER_SECOND = 100;

export interface CpuSample {
  /** User + nice + system ticks of all CPUs. Interrupt time is left out: it belongs to no process. */
  readonly processTicks: number;
  /** Ticks the hypervisor ran someone else while a CPU here wanted to run. */
  readonly stealTicks: number;
  /** Ticks of the benchmark's own processes (this process, its reaped children, and `pids` with descendants). */
  readonly ownTicks: number;
}

export interface BackgroundCpu {
  /** CPUs' worth of time used by other processes, e.g. 0.3 = 30 % of one CPU. */
  readonly foreignCpus: number;
  /** CPUs' worth of time stolen by the hypervisor. */
  readonly stealCpus: number;
}

/** utime + stime (+ cutime + cstime when `withReaped`) of one process; 0 when it is gone. */
function processTicks(pid: number | 'self', withReaped: boolean): number {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return 0;
  }
  // The command name may contain spaces; after it: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14).
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const own = Number(f[11]) + Number(f[12]);
  return withReaped ? own + Number(f[13]) + Number(f[14]) : own;
}

/**
 * Samples the counters. `pids` are the long-running children (backends,
 * proxies); short-lived ones such as wrk are counted through this process's
 * reaped-children time once they have exited and been waited for.
 */
export function sampleCpu(pids: readonly number[]): CpuSample {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  // cpu user nice system idle iowait irq softirq steal guest guest_nice
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const at = (i: number): number => f[i] ?? 0;
  let ownTicks = processTicks('self', true);
  for (const pid of processTree(pids)) ownTicks += processTicks(pid, false);
  return { processTicks: at(0) + at(1) + at(2), stealTicks: at(7), ownTicks };
}

/**
 * Background CPU between two samples taken `seconds` apart. Negative noise
 * (a process of ours that exited between samples) is clamped to 0.
 */
export function backgroundCpu(before: CpuSample, after: CpuSample, seconds: number): BackgroundCpu {
  const ticks = seconds * TICKS_PER_SECOND;
  if (ticks <= 0) return { foreignCpus: 0, stealCpus: 0 };
  const foreign = after.processTicks - before.processTicks - (after.ownTicks - before.ownTicks);
  return {
    foreignCpus: Math.max(0, foreign) / ticks,
    stealCpus: Math.max(0, after.stealTicks - before.stealTicks) / ticks,
  };
}
