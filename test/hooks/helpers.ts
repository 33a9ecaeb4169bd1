import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { BallastEvent, BallastEventType } from '../../src/core/events.js';
import type { ExecHookAction, HookConfig, HookLogger, WebhookHookAction } from '../../src/hooks/types.js';

/** Fixture programs, located from the repository root (the tests' working directory). */
export const FIXTURES = resolve('test/fixtures/hooks');
export const RECORD_EVENT = join(FIXTURES, 'record-event.sh');
export const HANG = join(FIXTURES, 'hang.sh');
export const APPEND_LINE = join(FIXTURES, 'append-line.sh');

export interface ReceivedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export type ReceiverHandler = (request: ReceivedRequest, res: ServerResponse, index: number) => void;

export interface Receiver {
  readonly url: string;
  readonly requests: ReceivedRequest[];
  close(): Promise<void>;
}

/** A webhook receiver on 127.0.0.1, port 0, that records every request (after reading its body). */
export async function startReceiver(handler: ReceiverHandler = (_request, res) => res.end('ok')): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      requests.push(request);
      handler(request, res, requests.length - 1);
    });
  });
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => done());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    requests,
    close: () =>
      new Promise((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

export interface LogLine {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly fields: Readonly<Record<string, unknown>>;
  readonly message: string;
}

/** A logger that keeps every line. */
export function recordingLogger(): HookLogger & { readonly lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: LogLine['level']) => (fields: Readonly<Record<string, unknown>>, message: string) => {
    lines.push({ level, fields, message });
  };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export function execAction(command: string, args: readonly string[], settings: Partial<ExecHookAction> = {}): ExecHookAction {
  return { type: 'exec', command, args, cwd: process.cwd(), timeout: 10_000, retries: 0, retryDelay: 10, ...settings };
}

export function webhookAction(url: string, settings: Partial<WebhookHookAction> = {}): WebhookHookAction {
  return { type: 'webhook', url, headers: {}, timeout: 5000, retries: 0, retryDelay: 10, ...settings };
}

export function hook(name: string, action: HookConfig['action'], settings: Partial<HookConfig> = {}): HookConfig {
  return { name, on: undefined, pools: undefined, sites: undefined, queueSize: 1000, action, ...settings };
}

let clockMs = Date.UTC(2026, 2, 1, 12, 0, 0);

export function event(type: BallastEventType, fields: Partial<BallastEvent> = {}): BallastEvent {
  clockMs += 1000;
  return { type, time: clockMs, ...fields };
}

/** A fresh temporary directory, removed by `cleanup`. */
export function tempDir(): { readonly dir: string; file(name: string): string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'ballast-hooks-'));
  return { dir, file: (name) => join(dir, name), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function readText(path: string): string {
  return existsSync(path) ? readFileSync(path, 'utf8') : '';
}

/** Polls `check` every 20 ms until it returns true; fails with `what` after `timeoutMs`. */
export async function waitUntil(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 20));
  }
}

/** One run of record-event.sh: the payload and the BALLAST_* variables it saw. */
export interface RecordedRun {
  readonly payload: Record<string, unknown>;
  readonly env: Readonly<Record<string, string>>;
}

/** The complete records in `text`; a record still being written (no "---" yet) is left out. */
export function parseRecords(text: string): RecordedRun[] {
  return text
    .split('---\n')
    .slice(0, -1)
    .map((block) => {
      let payload: Record<string, unknown> = {};
      const env: Record<string, string> = {};
      for (const line of block.split('\n')) {
        if (line.startsWith('stdin ')) payload = JSON.parse(line.slice('stdin '.length)) as Record<string, unknown>;
        else if (line.startsWith('env ')) {
          const assignment = line.slice('env '.length);
          const equals = assignment.indexOf('=');
          env[assignment.slice(0, equals)] = assignment.slice(equals + 1);
        }
      }
      return { payload, env };
    });
}

/** Kills (SIGKILL) the process whose pid a test program wrote to `pidFile`, if it still runs. */
export function killPidFile(pidFile: string): void {
  const pid = Number(readText(pidFile).trim());
  if (Number.isInteger(pid) && pid > 0 && processAlive(pid)) process.kill(pid, 'SIGKILL');
}

/** Whether a process exists and is not a zombie (Linux /proc). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
