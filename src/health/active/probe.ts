/**
 * Plumbing shared by the socket-level checks: one deadline per probe, the
 * mapping from socket errors to short reasons, and `converse`, which owns a
 * TCP connection for the length of one probe and guarantees it is destroyed
 * whatever happens.
 */
import { connect, type Socket } from 'node:net';
import type { HostPort } from '../../core/server.js';
import type { CheckResult } from '../types.js';

/** The reason used when a probe ran out of time. */
export const TIMEOUT = 'timeout';

/**
 * Links `outer` with a deadline of `timeoutMs`. The returned signal aborts on
 * whichever comes first; `dispose` clears the timer and the link and must be
 * called when the probe ends. The timer is unref'd.
 */
export function withDeadline(outer: AbortSignal, timeoutMs: number): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onOuterAbort = (): void => controller.abort(outer.reason);
  if (outer.aborted) {
    controller.abort(outer.reason);
    return { signal: controller.signal, dispose: () => {} };
  }
  outer.addEventListener('abort', onOuterAbort, { once: true });
  const timer = setTimeout(() => controller.abort(new DOMException('health check timed out', 'TimeoutError')), timeoutMs);
  timer.unref();
  return {
    signal: controller.signal,
    dispose: () => {
      clearTimeout(timer);
      outer.removeEventListener('abort', onOuterAbort);
    },
  };
}

/** `timeout` when the signal was aborted by a deadline, else `aborted`. */
export function abortReason(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  return reason instanceof DOMException && reason.name === 'TimeoutError' ? TIMEOUT : 'aborted';
}

/** Maps a socket or DNS error to the short reason events carry. */
export function errorReason(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  switch (code) {
    case 'ECONNREFUSED':
      return 'refused';
    case 'ECONNRESET':
    case 'EPIPE':
      return 'reset';
    case 'ETIMEDOUT':
      return TIMEOUT;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'unreachable';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'unresolvable host';
    default:
      if (typeof code === 'string') return `error ${code}`;
      return error instanceof Error ? `error: ${error.message}` : 'error';
  }
}

export function fail(reason: string): CheckResult {
  return { ok: false, reason };
}

export function pass(reason: string): CheckResult {
  return { ok: true, reason };
}

/** What a conversation may do with its connection. */
export interface ProbeIo {
  readonly socket: Socket;
  /** Ends the probe with `result`; later calls are ignored. Destroys the socket. */
  finish(result: CheckResult): void;
}

/**
 * Handlers of one probe conversation. `onData` runs for every chunk the server
 * sends; a throw from either handler ends the probe as `protocol error: ...`.
 * Asynchronous work started by a handler must end in `io.finish` or another
 * write, never in an unhandled rejection.
 */
export interface Conversation {
  onConnect(io: ProbeIo): void;
  onData(chunk: Buffer, io: ProbeIo): void;
}

/**
 * Opens a TCP connection to `target` and runs `conversation` on it until it
 * calls `finish`, the peer closes or fails, `timeoutMs` passes or `signal`
 * aborts. Resolves (never rejects) with the verdict; the socket is destroyed
 * and the deadline cleared before it resolves.
 */
export function converse(
  target: HostPort,
  timeoutMs: number,
  signal: AbortSignal,
  conversation: Conversation,
): Promise<CheckResult> {
  const deadline = withDeadline(signal, timeoutMs);
  if (deadline.signal.aborted) {
    deadline.dispose();
    return Promise.resolve(fail(abortReason(deadline.signal)));
  }
  return new Promise<CheckResult>((resolve) => {
    let done = false;
    let socket: Socket;
    try {
      socket = connect({ host: target.host, port: target.port, noDelay: true });
    } catch (error) {
      // Arguments Node refuses outright, such as a port out of range.
      deadline.dispose();
      resolve(fail(errorReason(error)));
      return;
    }
    const io: ProbeIo = { socket, finish };
    const onAbort = (): void => finish(fail(abortReason(deadline.signal)));

    function finish(result: CheckResult): void {
      if (done) return;
      done = true;
      deadline.signal.removeEventListener('abort', onAbort);
      deadline.dispose();
      socket.destroy();
      resolve(result);
    }

    function guarded(run: () => void): void {
      if (done) return;
      try {
        run();
      } catch (error) {
        finish(fail(`protocol error: ${error instanceof Error ? error.message : String(error)}`));
      }
    }

    deadline.signal.addEventListener('abort', onAbort, { once: true });
    socket.on('connect', () => guarded(() => conversation.onConnect(io)));
    socket.on('data', (chunk: Buffer) => guarded(() => conversation.onData(chunk, io)));
    socket.on('error', (error) => finish(fail(errorReason(error))));
    socket.on('end', () => finish(fail('closed by server')));
    socket.on('close', () => finish(fail('closed by server')));
  });
}
