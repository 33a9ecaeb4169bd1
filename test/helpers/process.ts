import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The compiled CLI, as `npm install` builds it. */
export const CLI = 'dist/cli/main.js';

/** Runs a program to completion; never rejects on a non-zero exit. */
export function run(file: string, args: readonly string[], options: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { timeout: options.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024, env: options.env ?? process.env, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') {
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
            reject(new Error(`${file} is not installed (see scripts/install-test-deps.sh)`));
            return;
          }
          if (!error.killed) {
            reject(error);
            return;
          }
        }
        resolve({ code: typeof error?.code === 'number' ? error.code : error ? -1 : 0, stdout, stderr });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

export function runCli(args: readonly string[], options: { env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return run(process.execPath, [CLI, ...args], options);
}

export interface Spawned {
  readonly child: ChildProcess;
  output(): string;
  /** Resolves when stdout+stderr so far match `pattern`; rejects on exit or after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code (or signal name). */
  exited(): Promise<number | string>;
  /** Kills the process (SIGKILL) if it still runs. */
  kill(): void;
}

/** Starts the Ballast CLI (or another program) in the background and collects its output. */
export function spawnProcess(file: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Spawned {
  const child = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const listeners = new Set<() => void>();
  const onChunk = (chunk: Buffer): void => {
    output += chunk.toString('utf8');
    for (const listener of listeners) listener();
  };
  child.stdout?.on('data', onChunk);
  child.stderr?.on('data', onChunk);
  const exit = new Promise<number | string>((resolve) => {
    child.on('exit', (code, signal) => {
      resolve(code ?? signal ?? -1);
      for (const listener of listeners) listener();
    });
  });
  return {
    child,
    output: () => output,
    waitFor: (pattern, timeoutMs = 15_000) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const match = output.match(pattern);
          if (match) {
            cleanup();
            resolve(match);
          } else if (child.exitCode !== null || child.signalCode !== null) {
            cleanup();
            reject(new Error(`process exited before printing ${pattern}; output:\n${output}`));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out waiting for ${pattern}; output:\n${output}`));
        }, timeoutMs);
        const cleanup = (): void => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      }),
    exited: () => exit,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

export function spawnCli(args: readonly string[], env?: NodeJS.ProcessEnv): Spawned {
  return spawnProcess(process.execPath, [CLI, ...args], env);
}

/** Resident set size of a process in MiB, from /proc. */
export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  return match ? Number(match[1]) / 1024 : 0;
}

/** A server program a test started: its output so far, and its end. */
export interface SupervisedServer {
  readonly pid: number;
  /** The last 128–256 KiB of stdout and stderr together. */
  log(): string;
  running(): boolean;
  /** Sends `signal` if it still runs. */
  kill(signal?: NodeJS.Signals): void;
  /** Sends `signal` and waits for the exit; SIGKILL after `graceMs`. */
  stop(signal: NodeJS.Signals, graceMs?: number): Promise<void>;
}

/** Collects the output of a started server and knows how to end it; throws with `hint` when it did not start. */
export function supervise(child: ChildProcess, hint: string): SupervisedServer {
  const pid = child.pid;
  if (pid === undefined) throw new Error(hint);
  let log = '';
  const onChunk = (chunk: Buffer): void => {
    log += chunk.toString('utf8');
    if (log.length > 256 * 1024) log = log.slice(-128 * 1024);
  };
  child.stdout?.on('data', onChunk);
  child.stderr?.on('data', onChunk);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  return {
    pid,
    log: () => log,
    running,
    kill: (signal = 'SIGKILL') => {
      if (running()) child.kill(signal);
    },
    stop: async (signal, graceMs = 10_000) => {
      if (!running()) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
