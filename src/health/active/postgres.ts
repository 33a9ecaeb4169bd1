/**
 * A PostgreSQL check speaking the frontend/backend protocol 3.0 directly:
 * startup, authentication (trust, cleartext password, MD5, SCRAM-SHA-256),
 * one simple query `SELECT pg_is_in_recovery()`, then Terminate. TLS is not
 * negotiated, so servers that only accept `hostssl` connections fail with the
 * server's own error message.
 */
import { createHash } from 'node:crypto';
import type { HostPort } from '../../core/server.js';
import type { CheckResult, PostgresHealthCheckConfig } from '../types.js';
import { converse, fail, pass, type ProbeIo } from './probe.js';
import {
  SCRAM_MECHANISM,
  scramClientFinal,
  scramClientFirst,
  scramServerFinalValid,
  type ScramClientFinal,
  type ScramClientFirst,
} from './scram.js';

const PROTOCOL_3_0 = 196608;
/** Messages longer than this end the probe; a health answer is a few hundred bytes. */
const MAX_MESSAGE_BYTES = 1024 * 1024;
const RECOVERY_QUERY = 'SELECT pg_is_in_recovery()';

const AUTH_OK = 0;
const AUTH_CLEARTEXT = 3;
const AUTH_MD5 = 5;
const AUTH_SASL = 10;
const AUTH_SASL_CONTINUE = 11;
const AUTH_SASL_FINAL = 12;

function cstring(value: string): Buffer {
  return Buffer.from(`${value}\0`, 'utf8');
}

function int32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeInt32BE(value);
  return buffer;
}

/** A frontend message: type byte, Int32 length (including itself), payload. */
function frontend(type: string, ...parts: Buffer[]): Buffer {
  const payload = Buffer.concat(parts);
  return Buffer.concat([Buffer.from(type, 'latin1'), int32(payload.length + 4), payload]);
}

export function startupMessage(user: string, database: string): Buffer {
  const payload = Buffer.concat([
    int32(PROTOCOL_3_0),
    cstring('user'),
    cstring(user),
    cstring('database'),
    cstring(database),
    cstring('application_name'),
    cstring('ballast-health-check'),
    Buffer.from([0]),
  ]);
  return Buffer.concat([int32(payload.length + 4), payload]);
}

/** The MD5 password response: `md5` + md5(md5(password + user) + salt), in hex. */
export function md5PasswordResponse(user: string, password: string, salt: Buffer): string {
  const inner = createHash('md5').update(password + user, 'utf8').digest('hex');
  return 'md5' + createHash('md5').update(Buffer.concat([Buffer.from(inner, 'latin1'), salt])).digest('hex');
}

const TERMINATE = frontend('X');

/** Fields of an ErrorResponse or NoticeResponse, keyed by their one-letter code. */
function parseFields(body: Buffer): Map<string, string> {
  const fields = new Map<string, string>();
  let at = 0;
  while (at < body.length && body[at] !== 0) {
    const code = String.fromCharCode(body[at] ?? 0);
    const end = body.indexOf(0, at + 1);
    if (end < 0) break;
    fields.set(code, body.toString('utf8', at + 1, end));
    at = end + 1;
  }
  return fields;
}

function errorResult(body: Buffer): CheckResult {
  const fields = parseFields(body);
  const sqlState = fields.get('C') ?? '';
  const message = fields.get('M') ?? 'unknown error';
  // Class 28: invalid authorization specification (bad password, no pg_hba entry, ...).
  if (sqlState.startsWith('28')) return fail(`auth failed: ${message}`);
  return fail(sqlState === '' ? `error: ${message}` : `error ${sqlState}: ${message}`);
}

type Phase = 'auth' | 'sasl-continue' | 'sasl-final' | 'ready' | 'query' | 'done';

/**
 * Healthy when the server logs `config.user` into `config.database` and
 * answers the recovery query; with `role: primary`, only when
 * `pg_is_in_recovery()` is false (reason `in recovery` otherwise). The reason
 * on success is `primary` or `standby`.
 */
export function postgresCheck(
  target: HostPort,
  config: PostgresHealthCheckConfig,
  signal: AbortSignal,
): Promise<CheckResult> {
  let phase: Phase = 'auth';
  let pending: Buffer = Buffer.alloc(0);
  let scramFirst: ScramClientFirst | undefined;
  let scramFinal: ScramClientFinal | undefined;
  let scramVerified = false;
  let inRecovery: boolean | undefined;

  function needPassword(io: ProbeIo): string | undefined {
    if (config.password === undefined) io.finish(fail('auth failed: password required'));
    return config.password;
  }

  function onAuthentication(body: Buffer, io: ProbeIo): void {
    const code = body.readInt32BE(0);
    switch (code) {
      case AUTH_OK:
        // A server that started SCRAM must prove itself before it may let us in.
        if (scramFirst !== undefined && !scramVerified) throw new Error('SCRAM exchange incomplete');
        phase = 'ready';
        return;
      case AUTH_CLEARTEXT: {
        const password = needPassword(io);
        if (password !== undefined) io.socket.write(frontend('p', cstring(password)));
        return;
      }
      case AUTH_MD5: {
        const password = needPassword(io);
        if (password !== undefined) {
          io.socket.write(frontend('p', cstring(md5PasswordResponse(config.user, password, body.subarray(4, 8)))));
        }
        return;
      }
      case AUTH_SASL: {
        const mechanisms = body.toString('utf8', 4).split('\0').filter((m) => m !== '');
        if (!mechanisms.includes(SCRAM_MECHANISM)) {
          io.finish(fail(`auth failed: unsupported SASL mechanisms ${mechanisms.join(', ')}`));
          return;
        }
        if (needPassword(io) === undefined) return;
        scramFirst = scramClientFirst();
        const first = Buffer.from(scramFirst.message, 'utf8');
        io.socket.write(frontend('p', cstring(SCRAM_MECHANISM), int32(first.length), first));
        phase = 'sasl-continue';
        return;
      }
      case AUTH_SASL_CONTINUE: {
        if (phase !== 'sasl-continue' || scramFirst === undefined || config.password === undefined) {
          throw new Error('unexpected SASLContinue');
        }
        phase = 'sasl-final';
        scramClientFinal(scramFirst, body.toString('utf8', 4), config.password).then(
          (final) => {
            if (io.socket.destroyed) return;
            scramFinal = final;
            io.socket.write(frontend('p', Buffer.from(final.message, 'utf8')));
          },
          (error: unknown) => io.finish(fail(`auth failed: ${error instanceof Error ? error.message : String(error)}`)),
        );
        return;
      }
      case AUTH_SASL_FINAL:
        if (phase !== 'sasl-final' || scramFinal === undefined) throw new Error('unexpected SASLFinal');
        scramVerified = scramServerFinalValid(body.toString('utf8', 4), scramFinal);
        if (!scramVerified) io.finish(fail('auth failed: server signature mismatch'));
        return;
      default:
        io.finish(fail(`auth failed: unsupported authentication method ${code}`));
    }
  }

  function onMessage(type: number, body: Buffer, io: ProbeIo): void {
    switch (String.fromCharCode(type)) {
      case 'R':
        if (phase === 'ready' || phase === 'query') throw new Error('authentication request after login');
        onAuthentication(body, io);
        return;
      case 'E':
        io.finish(errorResult(body));
        return;
      case 'Z':
        if (phase === 'ready') {
          phase = 'query';
          io.socket.write(frontend('Q', cstring(RECOVERY_QUERY)));
        } else if (phase === 'query') {
          phase = 'done';
          io.socket.write(TERMINATE);
          io.finish(verdict());
        } else {
          throw new Error('ReadyForQuery before authentication');
        }
        return;
      case 'D': {
        // DataRow: Int16 column count, then Int32 length and bytes per column.
        if (phase !== 'query' || body.readInt16BE(0) < 1) throw new Error('unexpected DataRow');
        const length = body.readInt32BE(2);
        inRecovery = length === 1 && body[6] === 0x74; // 't'
        return;
      }
      default:
        // ParameterStatus, BackendKeyData, NoticeResponse, RowDescription,
        // CommandComplete, NegotiateProtocolVersion: nothing to decide on.
        return;
    }
  }

  function verdict(): CheckResult {
    if (inRecovery === undefined) return fail('protocol error: no answer to the recovery query');
    if (config.role === 'primary' && inRecovery) return fail('in recovery');
    return pass(inRecovery ? 'standby' : 'primary');
  }

  return converse(target, config.timeout, signal, {
    onConnect: (io) => io.socket.write(startupMessage(config.user, config.database)),
    onData: (chunk, io) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= 5) {
        const type = pending[0] ?? 0;
        const length = pending.readInt32BE(1);
        if (length < 4 || length > MAX_MESSAGE_BYTES) throw new Error(`bad message length ${length}`);
        if (pending.length < length + 1) return;
        const body = pending.subarray(5, length + 1);
        pending = pending.subarray(length + 1);
        onMessage(type, body, io);
        if (phase === 'done' || io.socket.destroyed) return;
      }
    },
  });
}
