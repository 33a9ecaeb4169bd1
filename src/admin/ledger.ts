/**
 * The availability ledger: a durable record of every state change of
 * servers, pools and sites (and of the Ballast process itself), from which
 * uptime over 1 h / 24 h / 30 d, incidents, MTTR and MTBF are computed. It
 * backs `GET /api/v1/availability` and survives restarts and crashes.
 *
 * Storage is an append-only, CRC-checked journal in `<dataDir>/ledger.journal`
 * (see `ledger/journal.ts`), compacted into a snapshot when it grows past
 * `maxJournalBytes`. The journal was chosen over an embedded SQLite
 * database: state changes are few and append-only, a full scan on open is
 * cheap at the bounded size, and it needs no native module to build or
 * download.
 *
 * Record formats (JSON arrays inside journal frames):
 *   ["e", time, kind, id, state, cause]   a state change; state is "u" | "d" | "r" (retired)
 *   ["a", time]                           the process was alive at `time`
 *   ["m", { "v": 1, "t": time }]          start of a snapshot (compaction)
 *   ["s", TimelineSnapshot]               one entity's compacted history
 *
 * Precondition: one process owns a data directory at a time (in a
 * multi-process deployment, the primary process).
 */
import { systemClock } from '../core/clock.js';
import type { Clock } from '../core/clock.js';
import type { BallastEvent } from '../core/events.js';
import { Journal } from './ledger/journal.js';
import type { JournalRecovery } from './ledger/journal.js';
import { ENTITY_KINDS, Timeline, isEntityKind } from './ledger/timeline.js';
import type { EntityAvailability, EntityKind, EntityState } from './ledger/timeline.js';

export { RETENTION_MS, WINDOWS, ENTITY_KINDS } from './ledger/timeline.js';
export type { EntityAvailability, EntityKind, EntityState, Incident, WindowFigures, WindowName } from './ledger/timeline.js';
export { JOURNAL_FILE } from './ledger/journal.js';

/** Kinds callers record; the `process` entity is kept by the ledger itself. */
export type RecordedKind = Exclude<EntityKind, 'process'>;

export interface LedgerRecord {
  readonly kind: RecordedKind;
  /** `pool/server` for a server, the pool name for a pool, the site name for a site. */
  readonly id: string;
  readonly up: boolean;
  /** Why: "timeout", "503", "refused", "heartbeat lost", "recovered", ... (at most 200 characters kept). */
  readonly cause: string;
  /** Wall-clock ms since the epoch; defaults to the clock's `wallNow()`. */
  readonly time?: number;
}

export interface LedgerRetirement {
  readonly kind: RecordedKind;
  readonly id: string;
  readonly cause?: string;
  readonly time?: number;
}

export interface LedgerOptions {
  /** Source of `wallNow()` for records without a time and for reports. Default the system clock. */
  readonly clock?: Clock;
  /** Compact when the journal passes this size (or twice the last snapshot, whichever is larger). Default 4 MiB. */
  readonly maxJournalBytes?: number;
  /** Incidents (and retired periods) kept in detail per entity; older ones within 30 days are folded into hourly totals. Default 1000. */
  readonly maxIncidentsPerEntity?: number;
  /** Upper bound on how long an appended record may wait for fdatasync. Default 100 ms. */
  readonly syncIntervalMs?: number;
  /**
   * How often an otherwise idle ledger writes an "alive" mark, which bounds
   * how much process downtime an unclean shutdown can hide. 0 disables. Default 30 s.
   */
  readonly aliveIntervalMs?: number;
  /** Failures to persist (disk full, fsync errors). The ledger keeps working in memory. Default: a process warning. */
  readonly onError?: (error: Error) => void;
}

export interface LedgerRecovery extends JournalRecovery {
  /** True when the previous run ended without `close()` (crash, SIGKILL, power loss). */
  readonly uncleanShutdown: boolean;
  /** Last time the previous run was known alive (wall-clock ms), or null on first start. */
  readonly lastAlive: number | null;
}

export interface AvailabilityReport {
  /** The time the figures are computed for (wall-clock ms). */
  readonly now: number;
  /** Every entity with history in the last 30 days, ordered by kind (process, site, pool, server) then id. */
  readonly entities: readonly EntityAvailability[];
}

/** The id of the process entity. */
export const PROCESS_ID = 'ballast';
const MAX_CAUSE_LENGTH = 200;
const DEFAULT_MAX_JOURNAL_BYTES = 4 * 1024 * 1024;
const DEFAULT_MAX_INCIDENTS = 1000;
const DEFAULT_SYNC_INTERVAL_MS = 100;
const DEFAULT_ALIVE_INTERVAL_MS = 30_000;
const SNAPSHOT_VERSION = 1;
const STATE_CODES: Record<EntityState, string> = { up: 'u', down: 'd', retired: 'r' };
const CODE_STATES: Readonly<Record<string, EntityState>> = { u: 'up', d: 'down', r: 'retired' };

export class AvailabilityLedger {
  /** What opening found: records recovered, bytes cut, whether the last run crashed. */
  readonly recovery: LedgerRecovery;
  private readonly clock: Clock;
  private readonly journal: Journal;
  private readonly entities: Map<string, Timeline>;
  private readonly maxJournalBytes: number;
  private readonly maxDetail: number;
  private readonly onError: (error: Error) => void;
  private readonly aliveTimer: NodeJS.Timeout | null;
  private lastAlive: number;
  private lastSnapshotBytes = 0;
  private wroteSinceAlive = false;
  private closed = false;

  private constructor(init: {
    clock: Clock;
    journal: Journal;
    entities: Map<string, Timeline>;
    options: LedgerOptions;
    maxDetail: number;
    onError: (error: Error) => void;
    recovery: LedgerRecovery;
    lastAlive: number;
  }) {
    this.clock = init.clock;
    this.journal = init.journal;
    this.entities = init.entities;
    this.recovery = init.recovery;
    this.lastAlive = init.lastAlive;
    this.onError = init.onError;
    this.maxJournalBytes = init.options.maxJournalBytes ?? DEFAULT_MAX_JOURNAL_BYTES;
    this.maxDetail = init.maxDetail;
    const aliveIntervalMs = init.options.aliveIntervalMs ?? DEFAULT_ALIVE_INTERVAL_MS;
    this.aliveTimer = aliveIntervalMs > 0 ? setInterval(() => this.markAlive(), aliveIntervalMs) : null;
    this.aliveTimer?.unref();
  }

  /**
   * Opens the ledger in `dir` (created if missing), recovering from a crash
   * if needed, and records the process as up. After an unclean shutdown the
   * process is recorded down from the last sign of life to now, with cause
   * "unclean shutdown"; every other entity keeps its last recorded state
   * (a server that was down stays down until told otherwise).
   * O(journal size). Throws only on file-system errors (permissions, I/O).
   */
  static open(dir: string, options: LedgerOptions = {}): AvailabilityLedger {
    const clock = options.clock ?? systemClock;
    const onError = options.onError ?? ((error: Error) => process.emitWarning(error, { code: 'BALLAST_LEDGER' }));
    const maxDetail = Math.max(1, options.maxIncidentsPerEntity ?? DEFAULT_MAX_INCIDENTS);
    const entities = new Map<string, Timeline>();
    const replay: { lastAlive: number | null } = { lastAlive: null };
    const seen = (time: number): void => {
      replay.lastAlive = replay.lastAlive === null ? time : Math.max(replay.lastAlive, time);
    };
    const accept = (payload: unknown): boolean => {
      if (!Array.isArray(payload)) return false;
      switch (payload[0]) {
        case 'e': {
          const [, time, kind, id, code, cause] = payload as unknown[];
          const state = typeof code === 'string' ? CODE_STATES[code] : undefined;
          if (!isFiniteNumber(time) || !isEntityKind(kind) || typeof id !== 'string' || state === undefined || typeof cause !== 'string') {
            return false;
          }
          applyChange(entities, kind, id, state, cause, time, maxDetail);
          seen(time);
          return true;
        }
        case 'a': {
          const time: unknown = payload[1];
          if (!isFiniteNumber(time)) return false;
          seen(time);
          return true;
        }
        case 'm': {
          const meta: unknown = payload[1];
          if (typeof meta !== 'object' || meta === null) return false;
          const { v, t } = meta as { v?: unknown; t?: unknown };
          if (v !== SNAPSHOT_VERSION || !isFiniteNumber(t)) return false;
          // A snapshot is a complete replacement of everything before it.
          entities.clear();
          seen(t);
          return true;
        }
        case 's': {
          const timeline = Timeline.fromSnapshot(payload[1]);
          if (timeline === null) return false;
          entities.set(entityKey(timeline.kind, timeline.id), timeline);
          seen(timeline.lastChange);
          return true;
        }
        default:
          return false;
      }
    };
    const { journal, recovery } = Journal.open(dir, { syncIntervalMs: options.syncIntervalMs ?? DEFAULT_SYNC_INTERVAL_MS, now: clock.wallNow(), onError }, accept);
    const previous = entities.get(entityKey('process', PROCESS_ID));
    const uncleanShutdown = previous !== undefined && previous.currentState === 'up';
    const ledger = new AvailabilityLedger({
      clock,
      journal,
      entities,
      options,
      maxDetail,
      onError,
      recovery: { ...recovery, uncleanShutdown, lastAlive: replay.lastAlive },
      lastAlive: replay.lastAlive ?? clock.wallNow(),
    });
    if (uncleanShutdown) ledger.change('process', PROCESS_ID, 'down', 'unclean shutdown', ledger.lastAlive);
    ledger.change('process', PROCESS_ID, 'up', 'started', clock.wallNow());
    return ledger;
  }

  /**
   * Records the state of a server, pool or site. Only changes are stored: a
   * record repeating the current state returns false and writes nothing.
   * A time earlier than the entity's last change is moved up to it. Records
   * after `close()` are ignored. O(1) plus one file write; may compact.
   */
  record(entry: LedgerRecord): boolean {
    return this.change(entry.kind, entry.id, entry.up ? 'up' : 'down', entry.cause, entry.time ?? this.clock.wallNow());
  }

  /**
   * Marks an entity as removed from the configuration: from now on it is
   * not observed (neither up nor down time accrues), and an open incident
   * ends. Recording it again resumes its history. Unknown entities are
   * ignored. Returns whether anything changed.
   */
  retire(entry: LedgerRetirement): boolean {
    if (!this.entities.has(entityKey(entry.kind, entry.id))) return false;
    return this.change(entry.kind, entry.id, 'retired', entry.cause ?? 'removed from configuration', entry.time ?? this.clock.wallNow());
  }

  /**
   * Records the availability meaning of a Ballast event: server up/restored
   * and down/ejected, pool empty/restored, site up/down. Other events
   * (draining, disabled, weight, degraded pool, DNS, reloads) do not change
   * availability and return false.
   */
  recordEvent(event: BallastEvent): boolean {
    const entry = ledgerRecordForEvent(event);
    return entry === null ? false : this.record(entry);
  }

  /** Figures for every entity as of `now` (default: the clock's wall time). O(total detail kept). */
  availability(now: number = this.clock.wallNow()): AvailabilityReport {
    const entities: EntityAvailability[] = [];
    for (const timeline of this.entities.values()) {
      if (!timeline.expired(now)) entities.push(timeline.report(now));
    }
    entities.sort(compareEntities);
    return { now, entities };
  }

  /** Figures for one entity, or undefined when it was never recorded. */
  entity(kind: EntityKind, id: string, now: number = this.clock.wallNow()): EntityAvailability | undefined {
    return this.entities.get(entityKey(kind, id))?.report(now);
  }

  /** Journal size in bytes now. */
  get journalBytes(): number {
    return this.journal.size;
  }

  /**
   * Rewrites the journal as a snapshot of the current history (dropping
   * detail older than 30 days and entities retired that long ago) and
   * replaces the file atomically. Runs by itself when the journal outgrows
   * its limit. O(total detail kept). Failures go to `onError`; the old
   * journal then stays in use.
   */
  compact(): void {
    if (this.closed) return;
    const now = Math.max(this.clock.wallNow(), this.lastAlive);
    for (const [key, timeline] of this.entities) {
      if (timeline.expired(now)) this.entities.delete(key);
      else timeline.prune(now);
    }
    const payloads: unknown[] = [['m', { v: SNAPSHOT_VERSION, t: now }]];
    for (const timeline of this.entities.values()) payloads.push(['s', timeline.toSnapshot()]);
    try {
      this.journal.rewrite(payloads);
      this.lastSnapshotBytes = this.journal.size;
      this.lastAlive = now;
    } catch (error) {
      this.onError(error as Error);
    }
  }

  /** Records the process as stopped, flushes everything to stable storage and closes. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.change('process', PROCESS_ID, 'down', 'stopped', this.clock.wallNow());
    this.closed = true;
    if (this.aliveTimer !== null) clearInterval(this.aliveTimer);
    this.journal.close();
  }

  private change(kind: EntityKind, id: string, state: EntityState, cause: string, time: number): boolean {
    if (this.closed) return false;
    const shortCause = cause.length > MAX_CAUSE_LENGTH ? cause.slice(0, MAX_CAUSE_LENGTH) : cause;
    const existing = this.entities.get(entityKey(kind, id));
    // Stored times are the clamped ones, so replay reproduces the same history.
    const at = Math.max(time, existing?.lastChange ?? time);
    if (!applyChange(this.entities, kind, id, state, shortCause, at, this.maxDetail)) return false;
    this.append(['e', at, kind, id, STATE_CODES[state], shortCause], at);
    return true;
  }

  private append(payload: unknown, time: number): void {
    this.lastAlive = Math.max(this.lastAlive, time);
    this.wroteSinceAlive = true;
    try {
      this.journal.append(payload);
    } catch (error) {
      this.onError(error as Error);
      return;
    }
    if (this.journal.size > Math.max(this.maxJournalBytes, 2 * this.lastSnapshotBytes)) this.compact();
  }

  private markAlive(): void {
    if (this.closed) return;
    if (!this.wroteSinceAlive) {
      const now = this.clock.wallNow();
      if (now > this.lastAlive) this.append(['a', now], now);
    }
    this.wroteSinceAlive = false;
  }
}

/**
 * The ledger record a Ballast event implies, or null when the event does not
 * change availability. Server ids are `pool/server`.
 */
export function ledgerRecordForEvent(event: BallastEvent): LedgerRecord | null {
  const cause = event.reason ?? event.type;
  switch (event.type) {
    case 'server-up':
    case 'server-restored':
    case 'server-down':
    case 'server-ejected': {
      if (event.pool === undefined || event.server === undefined) return null;
      const up = event.type === 'server-up' || event.type === 'server-restored';
      return { kind: 'server', id: `${event.pool}/${event.server}`, up, cause, time: event.time };
    }
    case 'pool-empty':
    case 'pool-degraded':
    case 'pool-restored':
      // A pool is up while at least one server serves it: degraded (or on backups) counts as up.
      if (event.pool === undefined) return null;
      return { kind: 'pool', id: event.pool, up: event.type !== 'pool-empty', cause, time: event.time };
    case 'site-up':
    case 'site-down':
      if (event.site === undefined) return null;
      return { kind: 'site', id: event.site, up: event.type === 'site-up', cause, time: event.time };
    case 'server-draining':
    case 'server-disabled':
    case 'server-enabled':
    case 'server-weight':
    case 'dns-changed':
    case 'config-reloaded':
    case 'config-reload-failed':
      return null;
    default:
      return unclassified(event.type);
  }
}

/** Exhaustiveness: an event type added without being classified above fails to type-check. */
function unclassified(type: never): null {
  void type;
  return null;
}

/** Applies one change to the in-memory history; shared by live recording and replay so both agree. */
function applyChange(
  entities: Map<string, Timeline>,
  kind: EntityKind,
  id: string,
  state: EntityState,
  cause: string,
  time: number,
  maxDetail: number,
): boolean {
  const key = entityKey(kind, id);
  const timeline = entities.get(key);
  if (timeline === undefined) {
    if (state === 'retired') return false;
    entities.set(key, Timeline.start(kind, id, state === 'up', cause, time, maxDetail));
    return true;
  }
  return timeline.transition(state, cause, time, maxDetail);
}

function entityKey(kind: EntityKind, id: string): string {
  return `${kind}:${id}`;
}

function compareEntities(a: EntityAvailability, b: EntityAvailability): number {
  const byKind = ENTITY_KINDS.indexOf(a.kind) - ENTITY_KINDS.indexOf(b.kind);
  if (byKind !== 0) return byKind;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}
