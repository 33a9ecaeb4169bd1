/**
 * A Redis check speaking RESP2 directly: optional `AUTH`, `PING`, and with
 * `role: master` also `INFO replication`, sent as one pipeline.
 */
import type { HostPort } from '../../core/server.js';
import type { CheckResult, RedisHealthCheckConfig } from '../types.js';
import { converse, fail, pass } from './probe.js';

/** Replies larger than this end the probe; `INFO replication` is well under 4 KiB. */
const MAX_REPLY_BYTES = 256 * 1024;

/** A RESP reply: simple or bulk string, integer, null, error or array. */
export type RespValue = string | number | null | RespError | RespValue[];

export class RespError {
  constructor(readonly message: string) {}
}

export function encodeCommand(args: readonly string[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`, 'latin1')];
  for (const arg of args) {
    const bytes = Buffer.from(arg, 'utf8');
    parts.push(Buffer.from(`$${bytes.length}\r\n`, 'latin1'), bytes, Buffer.from('\r\n', 'latin1'));
  }
  return Buffer.concat(parts);
}

/**
 * Parses one reply starting at `offset`. Returns the value and the offset
 * after it, or undefined when the buffer does not yet hold the whole reply.
 * Throws on bytes that are not RESP.
 */
export function parseReply(buffer: Buffer, offset = 0): { value: RespValue; next: number } | undefined {
  const lineEnd = buffer.indexOf('\r\n', offset, 'latin1');
  if (lineEnd < 0) return undefined;
  const kind = String.fromCharCode(buffer[offset] ?? 0);
  const line = buffer.toString('utf8', offset + 1, lineEnd);
  const afterLine = lineEnd + 2;
  switch (kind) {
    case '+':
      return { value: line, next: afterLine };
    case '-':
      return { value: new RespError(line), next: afterLine };
    case ':':
      return { value: Number(line), next: afterLine };
    case '$': {
      const length = Number(line);
      if (!Number.isInteger(length) || length < -1) throw new Error(`bad bulk length ${line}`);
      if (length === -1) return { value: null, next: afterLine };
      if (buffer.length < afterLine + length + 2) return undefined;
      return { value: buffer.toString('utf8', afterLine, afterLine + length), next: afterLine + length + 2 };
    }
    case '*': {
      const count = Number(line);
      if (!Number.isInteger(count) || count < -1) throw new Error(`bad array length ${line}`);
      if (count === -1) return { value: null, next: afterLine };
      const items: RespValue[] = [];
      let next = afterLine;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buffer, next);
        if (item === undefined) return undefined;
        items.push(item.value);
        next = item.next;
      }
      return { value: items, next };
    }
    default:
      throw new Error('not a RESP reply');
  }
}

/** The `role:` field of an `INFO replication` reply, or undefined. */
export function replicationRole(info: string): string | undefined {
  for (const line of info.split('\r\n')) {
    if (line.startsWith('role:')) return line.slice(5).trim();
  }
  return undefined;
}

type Step = 'auth' | 'ping' | 'info';

/**
 * Healthy when the server answers `PING` with `PONG` (after `AUTH` when
 * `config.password` is set); with `role: master`, only when `INFO
 * replication` says `role:master` (reason `role:slave` otherwise). Errors
 * such as `LOADING` or `NOAUTH` become the reason.
 */
export function redisCheck(target: HostPort, config: RedisHealthCheckConfig, signal: AbortSignal): Promise<CheckResult> {
  const steps: Step[] = [];
  const commands: Buffer[] = [];
  if (config.password !== undefined) {
    steps.push('auth');
    commands.push(encodeCommand(['AUTH', config.password]));
  }
  steps.push('ping');
  commands.push(encodeCommand(['PING']));
  if (config.role === 'master') {
    steps.push('info');
    commands.push(encodeCommand(['INFO', 'replication']));
  }
  let pending: Buffer = Buffer.alloc(0);

  /** The verdict after one reply, or undefined to go on to the next step. */
  function onReply(step: Step, value: RespValue): CheckResult | undefined {
    if (value instanceof RespError) {
      const authError =
        step === 'auth' || value.message.startsWith('NOAUTH') || value.message.startsWith('WRONGPASS');
      return fail(authError ? `auth failed: ${value.message}` : value.message);
    }
    switch (step) {
      case 'auth':
        return undefined;
      case 'ping':
        if (value !== 'PONG') return fail('unexpected reply to PING');
        return config.role === 'master' ? undefined : pass('PONG');
      case 'info': {
        if (typeof value !== 'string') return fail('unexpected reply to INFO');
        const role = replicationRole(value) ?? 'unknown';
        return role === 'master' ? pass('role:master') : fail(`role:${role}`);
      }
      default: {
        const unreachable: never = step;
        throw new Error(`unknown step ${String(unreachable)}`);
      }
    }
  }

  return converse(target, config.timeout, signal, {
    onConnect: (io) => io.socket.write(Buffer.concat(commands)),
    onData: (chunk, io) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      if (pending.length > MAX_REPLY_BYTES) throw new Error('reply too large');
      for (;;) {
        const reply = parseReply(pending);
        if (reply === undefined) return;
        pending = pending.subarray(reply.next);
        const step = steps.shift();
        if (step === undefined) throw new Error('unexpected extra reply');
        const result = onReply(step, reply.value);
        if (result !== undefined) {
          io.finish(result);
          return;
        }
      }
    },
  });
}
