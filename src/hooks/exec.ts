/**
 * The exec transport: runs the configured program without a shell, writes
 * the payload (plus a newline) to its stdin, adds the BALLAST_* variables to
 * Ballast's own environment, and waits for it to exit. Exit status 0 means
 * delivered; anything else (non-zero exit, killed, not startable) fails and
 * may be retried by the dispatcher.
 *
 * The program starts in a process group of its own, so the timeout (or a
 * shutdown) kills it together with every process it started that stayed in
 * the group. After a normal exit nothing is killed: a program may leave a
 * background process running on purpose; that process should not keep the
 * program's stdout and stderr open (redirect them), or Ballast stops reading
 * them `STDIO_GRACE_MS` after the exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { hookEnvironment, OutputTail, type Delivery, type DeliveryOutcome } from './delivery.js';
import type { ExecHookAction } from './types.js';

/** Bytes of stdout and of stderr kept (the last ones) for the log. */
export const OUTPUT_LIMIT = 4096;

/** How long output is still read after the program exited. */
const STDIO_GRACE_MS = 250;

const PROCESS_GROUPS = process.platform !== 'win32';

/**
 * Runs one attempt. Never rejects. `signal` aborts it (the program is killed);
 * the outcome then says so.
 */
export function runExec(action: ExecHookAction, delivery: Delivery, signal: AbortSignal): Promise<DeliveryOutcome> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve({ ok: false, retryable: false, error: 'aborted before it started' });
      return;
    }
    const stdout = new OutputTail(OUTPUT_LIMIT);
    const stderr = new OutputTail(OUTPUT_LIMIT);
    let child: ChildProcess | undefined;
    let settled = false;
    let killedBy: 'timeout' | 'abort' | undefined;
    let graceTimer: ReturnType<typeof setTimeout> | undefined;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;

    const finish = (outcome: DeliveryOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timeoutTimer);
      if (graceTimer !== undefined) clearTimeout(graceTimer);
      signal.removeEventListener('abort', onAbort);
      child?.stdout?.destroy();
      child?.stderr?.destroy();
      resolve(outcome);
    };
    const output = (): { stdout: string; stderr: string } => ({ stdout: stdout.text(), stderr: stderr.text() });
    const concluded = (): void => {
      if (exit === undefined) return;
      if (killedBy === 'timeout') {
        finish({ ok: false, retryable: true, error: `killed after the ${action.timeout} ms timeout`, output: output() });
      } else if (killedBy === 'abort') {
        finish({ ok: false, retryable: false, error: 'killed at shutdown', output: output() });
      } else if (exit.code === 0) {
        finish({ ok: true, summary: 'exit 0', output: output() });
      } else {
        const how = exit.code === null ? `killed by ${exit.signal ?? 'a signal'}` : `exit ${exit.code}`;
        finish({ ok: false, retryable: true, error: how, output: output() });
      }
    };
    const kill = (): void => {
      const pid = child?.pid;
      if (pid === undefined || exit !== undefined) return;
      try {
        process.kill(PROCESS_GROUPS ? -pid : pid, 'SIGKILL');
      } catch {
        // Already gone: its 'exit' is on its way.
      }
    };
    const onAbort = (): void => {
      killedBy ??= 'abort';
      kill();
    };
    const timeoutTimer = setTimeout(() => {
      killedBy ??= 'timeout';
      kill();
    }, action.timeout);
    timeoutTimer.unref();

    let started: ChildProcess;
    try {
      started = spawn(action.command, action.args, {
        cwd: action.cwd,
        env: { ...process.env, ...hookEnvironment(delivery) },
        stdio: ['pipe', 'pipe', 'pipe'],
        detached: PROCESS_GROUPS,
        windowsHide: true,
      });
    } catch (error) {
      finish({ ok: false, retryable: true, error: `cannot start ${action.command}: ${messageOf(error)}` });
      return;
    }
    child = started;
    signal.addEventListener('abort', onAbort, { once: true });
    started.stdout?.on('data', (chunk: Buffer) => stdout.add(chunk));
    started.stderr?.on('data', (chunk: Buffer) => stderr.add(chunk));
    // A program need not read its stdin; a closed pipe is not a failure.
    started.stdin?.on('error', () => undefined);
    started.stdin?.end(`${delivery.body}\n`);
    started.on('error', (error) => {
      // A program that cannot start (ENOENT, EACCES) gets no pid and no 'exit'; other errors change nothing.
      if (started.pid === undefined) finish({ ok: false, retryable: true, error: `cannot start ${action.command}: ${error.message}` });
    });
    started.once('exit', (code, exitSignal) => {
      exit = { code, signal: exitSignal };
      graceTimer = setTimeout(concluded, STDIO_GRACE_MS);
      graceTimer.unref();
    });
    started.once('close', concluded);
  });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
