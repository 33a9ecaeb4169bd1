/**
 * Fault injection: the processes a drill launches, and the timeline executor
 * that injects each fault and its restore at their times.
 *
 * Launched processes run in their own process group, so a signal reaches a
 * whole tree (e.g. `sh -c "node app.js"`). They are stopped (SIGCONT, SIGTERM,
 * then SIGKILL after a grace period) when the drill ends, and killed when the
 * drill process exits, whatever the reason short of SIGKILL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { request } from 'undici';
import type { HostPort } from '../core/server.js';
import type { AdminCall, FaultSpec, ProcessSpec } from './scenario.js';

/** Output kept per process for error messages. */
const OUTPUT_TAIL_BYTES = 16 * 1024;
const TERMINATE_GRACE_MS = 2_000;

const live = new Set<ManagedProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const managed of live) managed.killNow();
  });
}

function tail(text: string): string {
  return text.length > OUTPUT_TAIL_BYTES ? text.slice(text.length - OUTPUT_TAIL_BYTES) : text;
}

/** One program the drill starts, signals and restarts by name. */
export class ManagedProcess {
  private child: ChildProcess | undefined;
  private exit: Promise<void> = Promise.resolve();
  private log = '';
  private stopped = false;

  constructor(readonly spec: ProcessSpec) {}

  get running(): boolean {
    return this.child !== undefined;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The last 16 KiB of its stdout and stderr. */
  output(): string {
    return this.log;
  }

  /**
   * Starts the program (after a previous run has fully exited, waiting up to
   * the ready timeout for it) and waits until it is ready, as `spec.ready`
   * says. Rejects when it exits first or is not ready in time (then it is
   * killed).
   */
  async start(): Promise<void> {
    if (this.child !== undefined) {
      // A previous run was signalled and may still be exiting; wait for it, but not forever.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.exit, new Promise((resolve) => (timer = setTimeout(resolve, this.spec.ready.timeoutMs)))]);
      clearTimeout(timer);
      if (this.child !== undefined) throw new Error(`process ${this.spec.name} is still running; cannot start it again`);
    }
    installExitHook();
    const [file, ...args] = this.spec.command;
    const child = spawn(file as string, args, {
      cwd: this.spec.cwd,
      env: { ...process.env, ...this.spec.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    this.child = child;
    this.stopped = false;
    live.add(this);
    let readyCheck: (() => void) | undefined;
    const onOutput = (chunk: Buffer): void => {
      this.log = tail(this.log + chunk.toString('utf8'));
      readyCheck?.();
    };
    child.stdout?.on('data', onOutput);
    child.stderr?.on('data', onOutput);
    this.exit = new Promise((resolve) => {
      child.once('close', () => {
        if (this.child === child) this.child = undefined;
        live.delete(this);
        resolve();
      });
    });
    const spawned = new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (error) => reject(new Error(`cannot start ${this.spec.name} (${this.spec.command.join(' ')}): ${error.message}`)));
    });
    await spawned;
    const { output, tcp, timeoutMs } = this.spec.ready;
    if (output === undefined && tcp === undefined) return;
    const pattern = output === undefined ? undefined : new RegExp(output);
    const deadline = performance.now() + timeoutMs;
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${this.spec.name} was not ready within ${timeoutMs} ms`)), timeoutMs);
        const exited = (): void => reject(new Error(`${this.spec.name} exited before it was ready`));
        child.once('exit', exited);
        const done = (): void => {
          clearTimeout(timer);
          child.off('exit', exited);
          readyCheck = undefined;
          resolve();
        };
        let outputReady = pattern === undefined;
        let tcpReady = tcp === undefined;
        readyCheck = () => {
          if (!outputReady && pattern?.test(this.log)) outputReady = true;
          if (outputReady && tcpReady) done();
        };
        if (tcp !== undefined) {
          void waitForTcp(tcp, deadline).then((ok) => {
            tcpReady = ok;
            readyCheck?.();
          });
        }
        readyCheck();
      });
    } catch (error) {
      this.killNow();
      await this.exit;
      const log = this.log.trim();
      throw new Error(`${(error as Error).message}${log === '' ? '' : `; its output ends with:\n${log.slice(-2000)}`}`);
    }
  }

  /** Sends `signal` to the process group. Throws when the process is not running. */
  signal(signal: NodeJS.Signals): void {
    const pid = this.child?.pid;
    if (pid === undefined) throw new Error(`process ${this.spec.name} is not running`);
    process.kill(-pid, signal);
    if (signal === 'SIGSTOP') this.stopped = true;
    if (signal === 'SIGCONT') this.stopped = false;
  }

  /** Resolves when the current run has exited (at once when none runs). */
  exited(): Promise<void> {
    return this.exit;
  }

  /** Ends the process: SIGCONT if stopped, SIGTERM, SIGKILL after `graceMs`. */
  async terminate(graceMs = TERMINATE_GRACE_MS): Promise<void> {
    const pid = this.child?.pid;
    if (pid === undefined) return;
    try {
      if (this.stopped) process.kill(-pid, 'SIGCONT');
      process.kill(-pid, 'SIGTERM');
    } catch {
      // already gone
    }
    const force = setTimeout(() => this.killNow(), graceMs);
    await this.exit;
    clearTimeout(force);
  }

  /** SIGKILL to the group, synchronously; for shutdown paths. */
  killNow(): void {
    const pid = this.child?.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Polls `address` until it accepts a TCP connection or `deadline` (monotonic ms) passes. */
async function waitForTcp(address: HostPort, deadline: number): Promise<boolean> {
  while (performance.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: address.host, port: address.port });
      socket.setTimeout(500);
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('timeout', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

export interface CommandResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly output: string;
  readonly timedOut: boolean;
}

/** Runs a command without a shell; kills it after `timeoutMs`. Never rejects for a non-zero exit. */
export function runCommand(command: readonly string[], timeoutMs: number): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const [file, ...args] = command;
    const child = spawn(file as string, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let timedOut = false;
    const onOutput = (chunk: Buffer): void => {
      output = tail(output + chunk.toString('utf8'));
    };
    child.stdout.on('data', onOutput);
    child.stderr.on('data', onOutput);
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${command.join(' ')}: ${error.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output, timedOut });
    });
  });
}

async function runChecked(command: readonly string[], timeoutMs: number): Promise<void> {
  const result = await runCommand(command, timeoutMs);
  if (result.timedOut) throw new Error(`${command.join(' ')} did not finish within ${timeoutMs} ms`);
  if (result.code !== 0) {
    const why = result.code === null ? `was killed by ${result.signal ?? 'a signal'}` : `exited with ${result.code}`;
    const output = result.output.trim();
    throw new Error(`${command.join(' ')} ${why}${output === '' ? '' : `: ${output.slice(-500)}`}`);
  }
}

/** Operator actions on one Ballast server (drain, disable, enable, weight). */
export interface AdminActions {
  act(pool: string, server: string, call: AdminCall, weight: number | undefined): Promise<void>;
}

/** The admin REST API of a running Ballast (`POST …/drain`, `PUT …/weight`), with the bearer token. */
export function httpAdmin(baseUrl: string, token: string | undefined): AdminActions {
  return {
    async act(pool, server, call, weight) {
      const path = `/api/v1/pools/${encodeURIComponent(pool)}/servers/${encodeURIComponent(server)}/${call}`;
      const headers: Record<string, string> = { accept: 'application/json' };
      if (token !== undefined) headers.authorization = `Bearer ${token}`;
      const body = call === 'weight' ? JSON.stringify({ weight }) : '';
      if (call === 'weight') headers['content-type'] = 'application/json';
      const response = await request(`${baseUrl}${path}`, {
        method: call === 'weight' ? 'PUT' : 'POST',
        headers,
        body,
        headersTimeout: 5_000,
        bodyTimeout: 5_000,
      });
      const text = await response.body.text();
      if (response.statusCode >= 200 && response.statusCode < 300) return;
      let message = text.slice(0, 300);
      try {
        const parsed = JSON.parse(text) as { error?: { code?: string; message?: string } };
        if (parsed.error?.message !== undefined) message = `${parsed.error.code ?? ''} ${parsed.error.message}`.trim();
      } catch {
        // not JSON: keep the text
      }
      throw new Error(`admin ${call} ${pool}/${server} answered ${response.statusCode}: ${message}`);
    },
  };
}

/** What happened to one fault: times are ms from the start of the load. */
export interface FaultOutcome {
  injectedAtMs: number | undefined;
  restoredAtMs: number | undefined;
  errors: string[];
}

export interface TimelineContext {
  readonly processes: ReadonlyMap<string, ManagedProcess>;
  readonly admin: AdminActions | undefined;
  /** Monotonic ms. */
  readonly now: () => number;
}

/**
 * Runs the faults of a scenario at their times. Each step's time is taken
 * when the action begins (the signal is sent, the command starts, the admin
 * call is made). Steps run independently: a slow restore does not delay the
 * next fault.
 */
export class FaultTimeline {
  readonly outcomes: FaultOutcome[];
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly running = new Set<Promise<void>>();
  private readonly injections = new Map<number, Promise<void>>();
  private t0 = 0;

  constructor(
    private readonly faults: readonly FaultSpec[],
    private readonly context: TimelineContext,
  ) {
    this.outcomes = faults.map(() => ({ injectedAtMs: undefined, restoredAtMs: undefined, errors: [] }));
  }

  /** Schedules every step relative to `t0` (monotonic ms). */
  start(t0: number): void {
    this.t0 = t0;
    this.faults.forEach((fault, index) => {
      this.schedule(fault.at, () => this.inject(fault, index));
      if (fault.restore !== undefined) this.schedule(fault.restore.at, () => this.afterInjection(index).then(() => this.restore(fault, index)));
    });
  }

  /**
   * Ends the timeline: cancels steps not begun yet, then restores at once
   * every fault that was injected but not yet restored (a drill stopped
   * early must not leave its faults behind), and waits for every step under
   * way. Idempotent.
   */
  async finish(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.length = 0;
    this.faults.forEach((fault, index) => {
      const outcome = this.outcomes[index] as FaultOutcome;
      if (fault.restore === undefined || outcome.injectedAtMs === undefined || outcome.restoredAtMs !== undefined) return;
      this.track(this.afterInjection(index).then(() => this.restore(fault, index)));
    });
    while (this.running.size > 0) await Promise.all([...this.running]);
  }

  private schedule(atMs: number, step: () => Promise<void>): void {
    const timer = setTimeout(() => this.track(step()), Math.max(0, this.t0 + atMs - this.context.now()));
    this.timers.push(timer);
  }

  private track(run: Promise<void>): void {
    this.running.add(run);
    void run.finally(() => this.running.delete(run));
  }

  /** Resolves when the injection of fault `index` (which has begun) has finished. */
  private afterInjection(index: number): Promise<void> {
    return this.injections.get(index) ?? Promise.resolve();
  }

  private process(name: string): ManagedProcess {
    const managed = this.context.processes.get(name);
    if (managed === undefined) throw new Error(`no process named "${name}"`);
    return managed;
  }

  private inject(fault: FaultSpec, index: number): Promise<void> {
    const outcome = this.outcomes[index] as FaultOutcome;
    outcome.injectedAtMs = this.context.now() - this.t0;
    const injection = this.injectStep(fault).catch((error: unknown) => {
      outcome.errors.push(`fault "${fault.name}": ${(error as Error).message}`);
    });
    this.injections.set(index, injection);
    return injection;
  }

  private async restore(fault: FaultSpec, index: number): Promise<void> {
    const outcome = this.outcomes[index] as FaultOutcome;
    if (outcome.restoredAtMs !== undefined) return;
    outcome.restoredAtMs = this.context.now() - this.t0;
    try {
      await this.restoreStep(fault);
    } catch (error) {
      outcome.errors.push(`restore of "${fault.name}": ${(error as Error).message}`);
    }
  }

  private async injectStep(fault: FaultSpec): Promise<void> {
    switch (fault.action) {
      case 'kill':
        this.process(fault.process).signal(fault.signal);
        return;
      case 'stop':
        this.process(fault.process).signal('SIGSTOP');
        return;
      case 'start':
        await this.process(fault.process).start();
        return;
      case 'exec':
        await runChecked(fault.command, fault.timeoutMs);
        return;
      case 'admin':
        await this.requireAdmin().act(fault.pool, fault.server, fault.call, fault.weight);
        return;
      case 'site':
        if (fault.process !== undefined) this.process(fault.process).signal('SIGKILL');
        else if (fault.command !== undefined) await runChecked(fault.command, fault.timeoutMs);
        return;
      default: {
        const unreachable: never = fault;
        throw new Error(`unknown fault ${JSON.stringify(unreachable)}`);
      }
    }
  }

  private async restoreStep(fault: FaultSpec): Promise<void> {
    switch (fault.action) {
      case 'kill':
      case 'site':
        if (fault.action === 'site' && fault.process === undefined) {
          if (fault.restore?.command !== undefined) await runChecked(fault.restore.command, fault.timeoutMs);
          return;
        }
        await this.process(fault.process as string).start();
        return;
      case 'stop':
        this.process(fault.process).signal('SIGCONT');
        return;
      case 'start':
        await this.process(fault.process).terminate();
        return;
      case 'exec':
        if (fault.restore !== undefined) await runChecked(fault.restore.command, fault.restore.timeoutMs);
        return;
      case 'admin':
        if (fault.restore !== undefined) await this.requireAdmin().act(fault.pool, fault.server, fault.restore.call, fault.restore.weight);
        return;
      default: {
        const unreachable: never = fault;
        throw new Error(`unknown fault ${JSON.stringify(unreachable)}`);
      }
    }
  }

  private requireAdmin(): AdminActions {
    if (this.context.admin === undefined) throw new Error('no admin API to call (give admin.url)');
    return this.context.admin;
  }
}
