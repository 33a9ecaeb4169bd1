/** Shared helpers of the discovery tests. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServerConfig } from '../../src/config/types.js';
import { zodMessage } from '../../src/config/issues.js';
import { discoverySchema } from '../../src/discovery/schema.js';
import type { DiscoveryLogger } from '../../src/discovery/source.js';
import type { DiscoveryConfig, DnsDiscoveryConfig, FileDiscoveryConfig } from '../../src/discovery/types.js';

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `probe` until it returns a value other than undefined, or fails after `timeout` ms. */
export async function waitFor<T>(probe: () => T | undefined | Promise<T | undefined>, timeout: number, what: string, every = 25): Promise<T> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await sleep(every);
  }
}

/** A discovery entry as YAML would give it, validated and normalized by the schema. */
export function discovery(raw: Record<string, unknown>, baseDir = process.cwd()): DiscoveryConfig {
  const result = discoverySchema({ baseDir }).safeParse(raw, { error: zodMessage, reportInput: true });
  if (!result.success) throw new Error(`invalid discovery config: ${result.error.issues.map((issue) => issue.message).join('; ')}`);
  return result.data;
}

export function dnsDiscovery(raw: Record<string, unknown>): DnsDiscoveryConfig {
  const config = discovery({ type: 'dns', ...raw });
  if (config.type !== 'dns') throw new Error('expected a dns source');
  return config;
}

export function fileDiscovery(raw: Record<string, unknown>): FileDiscoveryConfig {
  const config = discovery({ type: 'file', ...raw });
  if (config.type !== 'file') throw new Error('expected a file source');
  return config;
}

/** `name@host:port/weight[/backup]` per server, sorted: compact to compare. */
export function brief(servers: readonly ServerConfig[]): string[] {
  return servers
    .map((server) => `${server.name}@${server.address.host}:${server.address.port}/${server.weight}${server.backup ? '/backup' : ''}`)
    .sort();
}

/** Records every list a source reports. */
export class Reports {
  readonly lists: (readonly ServerConfig[])[] = [];
  readonly listener = (servers: readonly ServerConfig[]): void => {
    this.lists.push(servers);
  };

  get last(): readonly ServerConfig[] | undefined {
    return this.lists[this.lists.length - 1];
  }

  /** Waits until the latest list, in `brief` form, equals `expected`. */
  async until(expected: readonly string[], timeout: number): Promise<void> {
    const want = JSON.stringify([...expected].sort());
    await waitFor(() => (this.last !== undefined && JSON.stringify(brief(this.last)) === want ? true : undefined), timeout, `servers ${want} (last: ${JSON.stringify(this.last === undefined ? null : brief(this.last))})`);
  }
}

export interface LogLine {
  readonly level: 'info' | 'warn';
  readonly fields: object;
  readonly message: string;
}

/** A logger that keeps what it is given. */
export class MemoryLogger implements DiscoveryLogger {
  readonly lines: LogLine[] = [];
  info(fields: object, message: string): void {
    this.lines.push({ level: 'info', fields, message });
  }
  warn(fields: object, message: string): void {
    this.lines.push({ level: 'warn', fields, message });
  }
  warnings(): string[] {
    return this.lines.filter((line) => line.level === 'warn').map((line) => `${line.message} ${JSON.stringify(line.fields)}`);
  }
}

export function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'ballast-discovery-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

