/**
 * File discovery: a pool's servers listed in a YAML (or JSON) file that is
 * watched for changes.
 *
 * The file holds a list of `{ name?, address, weight?, backup? }`; a missing
 * name is derived from the address. Changes are noticed through `fs.watch`
 * on the file's directory (which also sees a file replaced by rename, the
 * safe way to rewrite it) and, in case notifications are unavailable or
 * lost, by reading the file every `interval`.
 *
 * Failure behaviour: a file that cannot be read, is empty, or has any
 * invalid entry changes nothing (the last good list stays) and each problem
 * is logged as `FILE:LINE:COL: message`. An explicit empty list (`[]`)
 * removes every server of this source.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import type { ServerConfig } from '../config/types.js';
import { fromZodIssues, zodMessage, type PathIssue } from '../config/issues.js';
import { offsetOfPath } from '../config/positions.js';
import { systemClock, type Clock } from '../core/clock.js';
import { formatConfigIssue, type ConfigIssue } from '../core/errors.js';
import { systemTimers, type TimerHandle, type Timers } from '../core/timers.js';
import { addressKey } from './diff.js';
import { fileServersSchema } from './schema.js';
import { silentLogger, SourceLedger, type DiscoveryLogger, type DiscoverySource, type SourceStatus } from './source.js';
import type { FileDiscoveryConfig } from './types.js';

/** Larger files are refused rather than read. */
export const MAX_FILE_BYTES = 4 * 1024 * 1024;
/** Quiet time after a change notification before the file is read (writes come in bursts). */
const SETTLE_MS = 50;

export type ServerFileResult =
  | { readonly ok: true; readonly servers: readonly ServerConfig[] }
  | { readonly ok: false; readonly errors: readonly ConfigIssue[] };

/**
 * Parses and validates the text of a server file. Every problem is reported
 * with its line and column in `file`. O(size of the text).
 */
export function parseServerFile(text: string, file: string): ServerFileResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number, message: string): ConfigIssue => {
    const { line, col } = lineCounter.linePos(offset);
    return { file, line, column: col, message };
  };
  if (doc.errors.length > 0) {
    return { ok: false, errors: doc.errors.map((error) => at(error.pos[0], `invalid YAML: ${error.message}`)) };
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    return { ok: false, errors: [at(0, `invalid YAML: ${error instanceof Error ? error.message : String(error)}`)] };
  }
  if (raw === null || raw === undefined) {
    return { ok: false, errors: [at(0, 'the file is empty: write [] for a list without servers')] };
  }
  const place = (issues: readonly PathIssue[]): ServerFileResult => {
    const errors = issues.map((issue): ConfigIssue => {
      const position = at(offsetOfPath(doc, issue.path, issue.at), issue.message);
      if (issue.related === undefined) return position;
      const related = lineCounter.linePos(offsetOfPath(doc, issue.related, 'value'));
      return { ...position, message: `${issue.message} (first defined at line ${related.line})` };
    });
    return { ok: false, errors: errors.sort((a, b) => a.line - b.line || a.column - b.column) };
  };
  const parsed = fileServersSchema.safeParse(raw, { error: zodMessage, reportInput: true });
  if (!parsed.success) return place(fromZodIssues(parsed.error.issues));
  const clashes = duplicates(parsed.data);
  return clashes.length > 0 ? place(clashes) : { ok: true, servers: parsed.data };
}

/** Two entries with one name, or one address, are a mistake in the file. */
function duplicates(servers: readonly ServerConfig[]): PathIssue[] {
  const issues: PathIssue[] = [];
  const names = new Map<string, number>();
  const addresses = new Map<string, number>();
  servers.forEach((server, index) => {
    const sameName = names.get(server.name);
    if (sameName !== undefined) {
      issues.push({ path: [index], at: 'value', message: `duplicate server name "${server.name}"`, related: [sameName] });
    } else names.set(server.name, index);
    const key = addressKey(server.address);
    const sameAddress = addresses.get(key);
    if (sameAddress !== undefined) {
      issues.push({ path: [index, 'address'], at: 'value', message: `duplicate server address ${key}`, related: [sameAddress, 'address'] });
    } else addresses.set(key, index);
  });
  return issues;
}

export interface FileSourceDeps {
  /** Pool name, for logs. */
  readonly pool: string;
  readonly logger?: DiscoveryLogger;
  readonly timers?: Timers;
  readonly clock?: Clock;
  /** Also use change notifications (`fs.watch`), not only polling. Default true. */
  readonly watch?: boolean;
}

/** A {@link DiscoverySource} that follows a server file; see the module comment for the rules. */
export class FileSource implements DiscoverySource {
  private readonly config: FileDiscoveryConfig;
  private readonly logger: DiscoveryLogger;
  private readonly timers: Timers;
  private readonly clock: Clock;
  private readonly pool: string;
  private readonly useWatch: boolean;
  private onChange: (servers: readonly ServerConfig[]) => void = () => undefined;
  /** Text of the last read that was used or rejected; undefined after a failed read. */
  private lastText: string | undefined;
  private readonly ledger: SourceLedger;
  private watcher: FSWatcher | undefined;
  private pollTimer: TimerHandle | undefined;
  private settleTimer: TimerHandle | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private started = false;

  constructor(config: FileDiscoveryConfig, deps: FileSourceDeps) {
    this.config = config;
    this.pool = deps.pool;
    this.logger = deps.logger ?? silentLogger;
    this.timers = deps.timers ?? systemTimers;
    this.clock = deps.clock ?? systemClock;
    this.useWatch = deps.watch ?? true;
    this.ledger = new SourceLedger('file', config.path, this.logger, { pool: this.pool, source: 'file', target: config.path });
  }

  start(onChange: (servers: readonly ServerConfig[]) => void): void {
    if (this.started) throw new Error(`file discovery ${this.config.path} was already started`);
    this.started = true;
    this.onChange = onChange;
    if (this.useWatch) this.startWatching();
    this.refresh();
    this.schedulePoll();
  }

  firstAttempt(): Promise<void> {
    return this.ledger.firstAttempt();
  }

  status(): SourceStatus {
    return this.ledger.status();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.watcher?.close();
    this.watcher = undefined;
    if (this.pollTimer !== undefined) this.timers.clearTimeout(this.pollTimer);
    if (this.settleTimer !== undefined) this.timers.clearTimeout(this.settleTimer);
    this.pollTimer = undefined;
    this.settleTimer = undefined;
    await this.running;
    this.ledger.attemptEnded();
  }

  /**
   * Watches the directory rather than the file: an editor or a deploy tool
   * that replaces the file by rename leaves a watch on the old file deaf.
   */
  private startWatching(): void {
    const name = basename(this.config.path);
    try {
      this.watcher = watch(dirname(this.config.path), { persistent: false }, (_event, filename) => {
        if (filename === null || filename === name) this.changed();
      });
      this.watcher.on('error', (error) => {
        this.logger.warn({ ...this.ledger.fields, error: error.message }, 'discovery: file notifications failed, polling only');
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch (error) {
      // No notifications here (missing directory, unsupported file system): polling covers it.
      this.logger.info({ ...this.ledger.fields, error: error instanceof Error ? error.message : String(error) }, 'discovery: polling the file only');
    }
  }

  private changed(): void {
    if (this.stopped || this.settleTimer !== undefined) return;
    this.settleTimer = this.timers.setTimeout(() => {
      this.settleTimer = undefined;
      this.refresh();
    }, SETTLE_MS);
  }

  private schedulePoll(): void {
    if (this.stopped) return;
    this.pollTimer = this.timers.setTimeout(() => {
      this.pollTimer = undefined;
      this.refresh();
      this.schedulePoll();
    }, this.config.interval);
  }

  /** Reads the file now, or once more after the read in progress. Reads never overlap. */
  private refresh(): void {
    if (this.stopped) return;
    if (this.running !== undefined) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.readOnce();
      } while (this.again && !this.stopped);
      this.running = undefined;
      this.ledger.attemptEnded();
    })();
  }

  private async readOnce(): Promise<void> {
    const path = this.config.path;
    let text: string;
    try {
      const info = await stat(path);
      if (info.size > MAX_FILE_BYTES) throw new Error(`larger than ${MAX_FILE_BYTES} bytes`);
      text = await readFile(path, 'utf8');
    } catch (error) {
      if (this.stopped) return;
      this.lastText = undefined;
      const reason = error instanceof Error ? error.message : String(error);
      this.failed(`cannot read ${path}: ${reason}`, [`cannot read ${path}: ${reason}`]);
      return;
    }
    if (this.stopped || text === this.lastText) return;
    this.lastText = text;
    const result = parseServerFile(text, path);
    if (!result.ok) {
      const lines = result.errors.map(formatConfigIssue);
      this.failed(lines.join('\n'), lines);
      return;
    }
    if (this.ledger.succeeded(this.clock.wallNow(), result.servers, 'discovery: the file is valid again')) this.onChange(result.servers);
  }

  private failed(error: string, lines: readonly string[]): void {
    this.ledger.failed(error, { fields: { errors: lines }, message: `discovery: file not used, keeping the last ${this.ledger.current.length} servers` });
  }
}
