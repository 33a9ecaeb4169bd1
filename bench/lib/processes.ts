/**
 * Child processes of the benchmark: started (optionally pinned to one CPU with
 * taskset), watched, and always stopped. Every child is registered in a
 * ProcessGroup so one `stopAll()` in a `finally` (or on SIGINT) ends them all.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { accessSync, chmodSync, constants, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';

/** Bytes of each child's output kept for error messages. */
const OUTPUT_TAIL = 8192;

/** Finds an executable on PATH (and in the sbin folders root uses); undefined when absent. */
export function which(program: string): string | undefined {
  const dirs = (process.env['PATH'] ?? '').split(':').concat(['/usr/local/sbin', '/usr/sbin', '/sbin']);
  for (const dir of dirs) {
    if (dir === '') continue;
    const candidate = `${dir}/${program}`;
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return undefined;
}

/** First line of a program's version output (stdout or stderr), or undefined when it fails. */
export function versionOf(command: string, args: readonly string[]): string | undefined {
  try {
    const out = execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 5000 });
    return firstLine(out);
  } catch (err) {
    // Some programs (wrk, nginx -v) print the version on stderr and/or exit non-zero.
    const e = err as { stdout?: string; stderr?: string };
    return firstLine(`${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

function firstLine(text: string): string | undefined {
  const line = text.split('\n').find((l) => l.trim() !== '');
  return line?.trim();
}

/** CPU placement: which CPU the proxies get and which the load generator and backends share. */
export interface Pinning {
  /** Null when processes are not pinned. */
  readonly proxyCpu: number | null;
  readonly clientCpu: number | null;
  /** Why pinning is on or off, for the report. */
  readonly note: string;
}

/**
 * Pins proxies to CPU 0 and the load generator plus backends to CPU 1 when the
 * machine has two or more CPUs and taskset exists; otherwise nothing is pinned.
 */
export function choosePinning(wanted: boolean): Pinning {
  const cpus = availableParallelism();
  if (!wanted) return { proxyCpu: null, clientCpu: null, note: 'pinning disabled (--no-pin)' };
  if (cpus < 2) return { proxyCpu: null, clientCpu: null, note: `not pinned: ${cpus} CPU available` };
  if (which('taskset') === undefined) {
    return { proxyCpu: null, clientCpu: null, note: 'not pinned: taskset missing (Debian package util-linux)' };
  }
  return { proxyCpu: 0, clientCpu: 1, note: 'proxy on CPU 0; load generator and backends on CPU 1 (taskset)' };
}

export interface StartOptions {
  /** Short name for messages. */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** CPU to pin to, or null for no pinning. */
  readonly cpu: number | null;
  readonly cwd?: string;
  readonly env?: Readonly<Record<string, string>>;
}

/** A started child; `output()` returns the tail of its stdout and stderr. */
export class ManagedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  private tail = '';
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readonly exited: Promise<void>;

  constructor(options: StartOptions) {
    this.name = options.name;
    const [command, args] =
      options.cpu === null
        ? [options.command, [...options.args]]
        : ['taskset', ['-c', String(options.cpu), options.command, ...options.args]];
    // taskset execs the program, so the child's pid is the program's pid.
    this.child = spawn(command, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer): void => {
      this.tail = (this.tail + chunk.toString('utf8')).slice(-OUTPUT_TAIL);
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => {
      this.child.once('error', (err) => {
        this.tail += `\n${String(err)}`;
        this.exitInfo ??= { code: null, signal: null };
        resolve();
      });
      this.child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve();
      });
    });
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error(`${this.name}: process did not start\n${this.tail}`);
    return this.child.pid;
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  output(): string {
    return this.tail;
  }

  /** Resolves when the process has exited (for any reason). */
  waitExit(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return this.exited.then(() => this.exitInfo ?? { code: null, signal: null });
  }

  /** Throws with the process output when it has already exited. */
  assertRunning(): void {
    if (!this.running) {
      const info = this.exitInfo;
      throw new Error(
        `${this.name} exited (code ${String(info?.code)}, signal ${String(info?.signal)}):\n${this.tail.trim()}`,
      );
    }
  }

  /**
   * Sends `signal`, waits up to `graceMs` for the exit, then SIGKILLs.
   * Resolves once the process is gone; never rejects.
   */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), graceMs);
    });
    const gone = await Promise.race([this.exited.then(() => false), timedOut]);
    clearTimeout(timer);
    if (gone && this.running) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }
}

/** Owns every child started through it. */
export class ProcessGroup {
  private readonly members: ManagedProcess[] = [];

  start(options: StartOptions): ManagedProcess {
    const proc = new ManagedProcess(options);
    this.members.push(proc);
    return proc;
  }

  /** Stops every child still running, concurrently. */
  async stopAll(): Promise<void> {
    await Promise.all(this.members.map((p) => p.stop('SIGTERM', 5000)));
  }

  /** Synchronous last resort for process exit handlers. */
  killAllNow(): void {
    for (const p of this.members) if (p.running) p.child.kill('SIGKILL');
  }
}

/**
 * Runs `body` with a new temporary directory (`prefix`…, readable by NGINX
 * workers that drop root) and a process group. Every child is stopped
 * afterwards, also on SIGINT or SIGTERM (then the process exits 130). The
 * directory is removed, unless `body` threw: then its configs and logs stay
 * and `log` says where.
 */
export async function inBenchWorkspace<T>(prefix: string, log: (line: string) => void, body: (group: ProcessGroup, dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  const group = new ProcessGroup();
  const onSignal = (signal: NodeJS.Signals): void => {
    log(`\n${signal}: stopping`);
    void group.stopAll().finally(() => {
      rmSync(dir, { recursive: true, force: true });
      process.exit(130);
    });
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', () => group.killAllNow());
  let ok = false;
  try {
    const result = await body(group, dir);
    ok = true;
    return result;
  } finally {
    await group.stopAll();
    if (ok) rmSync(dir, { recursive: true, force: true });
    else log(`configs and logs kept in ${dir}`);
  }
}

export interface MemoryUsage {
  /** Resident set size now, summed over the process and its descendants. */
  readonly rssBytes: number;
  /** Peak resident set size (VmHWM), summed over the process and its descendants. */
  readonly peakBytes: number;
  /** Processes summed. */
  readonly processes: number;
}

function statusField(status: string, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  return match ? Number(match[1]) * 1024 : 0;
}

/** Parent pid of `pid` from /proc/PID/stat, or undefined when it is gone. */
function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses; fields after the last ')' are fixed.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[1]);
  } catch {
    return undefined;
  }
}

/**
 * `roots` and all their live descendants, found through /proc parent links.
 * O(processes on the machine).
 */
export function processTree(roots: readonly number[]): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const ppid = parentOf(pid);
    if (ppid === undefined) continue;
    const list = children.get(ppid);
    if (list) list.push(pid);
    else children.set(ppid, [pid]);
  }
  const found: number[] = [];
  const pending = [...roots];
  while (pending.length > 0) {
    const pid = pending.pop() as number;
    found.push(pid);
    pending.push(...(children.get(pid) ?? []));
  }
  return found;
}

/**
 * Memory of a process tree from /proc (Linux). A proxy with worker processes
 * (NGINX's master and worker) is measured whole.
 */
export function treeMemory(rootPid: number): MemoryUsage {
  let rssBytes = 0;
  let peakBytes = 0;
  let processes = 0;
  for (const pid of processTree([rootPid])) {
    let status: string;
    try {
      status = readFileSync(`/proc/${pid}/status`, 'utf8');
    } catch {
      continue;
    }
    rssBytes += statusField(status, 'VmRSS');
    peakBytes += statusField(status, 'VmHWM');
    processes++;
  }
  return { rssBytes, peakBytes, processes };
}
