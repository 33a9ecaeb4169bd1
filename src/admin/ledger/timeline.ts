/**
 * The availability history of one entity (a server, pool, site, or the
 * Ballast process itself) as a step function of wall-clock time: up, down,
 * or retired (removed from the configuration, so not observed). Pure
 * in-memory logic; the journal replays the same transitions on open, so the
 * state after replay equals the state that was recorded.
 *
 * Detail kept: the most recent `maxDetail` incidents and retired periods.
 * Older ones still inside the 30-day retention are folded into hourly
 * buckets (down and unobserved milliseconds per hour), so memory and the
 * journal stay bounded even for a server that flaps all month. Lifetime
 * totals (incident count, repaired count and time, unobserved time) are kept
 * exactly and never folded.
 */

export const HOUR_MS = 3_600_000;

/** The uptime windows reported, in milliseconds. */
export const WINDOWS = { '1h': HOUR_MS, '24h': 24 * HOUR_MS, '30d': 30 * 24 * HOUR_MS } as const;
export type WindowName = keyof typeof WINDOWS;

/** Detail older than this cannot change any reported window and is dropped on compaction. */
export const RETENTION_MS = WINDOWS['30d'];

export const ENTITY_KINDS = ['process', 'site', 'pool', 'server'] as const;
export type EntityKind = (typeof ENTITY_KINDS)[number];
export type EntityState = 'up' | 'down' | 'retired';

/** One period during which an entity was down. */
export interface Incident {
  /** Wall-clock ms since the epoch. */
  readonly start: number;
  /** Null while the incident is still open. */
  readonly end: number | null;
  /** `end - start`, or `now - start` while open. */
  readonly durationMs: number;
  /** Why the entity went down, as recorded. */
  readonly cause: string;
}

export interface WindowFigures<T> {
  readonly '1h': T;
  readonly '24h': T;
  readonly '30d': T;
}

export interface EntityAvailability {
  readonly kind: EntityKind;
  /** `pool/server` for servers, the pool name for pools, the site name for sites, `ballast` for the process. */
  readonly id: string;
  readonly state: EntityState;
  /** When the current state began (wall-clock ms). */
  readonly since: number;
  /** Cause recorded with the current state. */
  readonly cause: string;
  /** When the entity was first recorded (wall-clock ms). */
  readonly firstSeen: number;
  /**
   * Percentage of the observed time in each window that the entity was up,
   * in [0, 100]; null when nothing of the window was observed (the entity is
   * newer than that, or was retired throughout).
   */
  readonly uptime: WindowFigures<number | null>;
  /** Milliseconds down within each window. */
  readonly downtimeMs: WindowFigures<number>;
  /** Incidents overlapping the last 30 days that are kept in detail, oldest first. */
  readonly incidents: readonly Incident[];
  /** Incidents ever recorded, including folded and open ones. */
  readonly incidentCount: number;
  /** Mean time to repair over the whole history: repaired downtime / repaired incidents; null before the first repair. */
  readonly mttrMs: number | null;
  /** Mean time between failures over the whole history: observed up time / incidents; null before the first incident. */
  readonly mtbfMs: number | null;
}

interface Span {
  start: number;
  end: number | null;
  cause: string;
}

interface Fold {
  down: number;
  unobserved: number;
}

/** JSON form of a timeline inside a journal snapshot record. */
export interface TimelineSnapshot {
  readonly k: EntityKind;
  readonly i: string;
  readonly f: number;
  readonly s: EntityState;
  readonly t: number;
  readonly c: string;
  /** Detailed incidents: [start, end | null, cause]. */
  readonly inc: readonly (readonly [number, number | null, string])[];
  /** Detailed retired periods: [start, end | null]. */
  readonly gap: readonly (readonly [number, number | null])[];
  /** Folded hours: [hourStart, downMs, unobservedMs]. */
  readonly fold: readonly (readonly [number, number, number])[];
  /** [incidents, repaired, repairedDownMs, closedGapMs]. */
  readonly tot: readonly [number, number, number, number];
}

export class Timeline {
  readonly kind: EntityKind;
  readonly id: string;
  private firstSeen: number;
  private state: EntityState;
  private since: number;
  private cause: string;
  private readonly incidents: Span[] = [];
  private readonly gaps: Span[] = [];
  /** Hour start → folded milliseconds; insertion order is kept through snapshots. */
  private readonly folds = new Map<number, Fold>();
  private incidentTotal = 0;
  private repaired = 0;
  private repairedDownMs = 0;
  private closedGapMs = 0;

  private constructor(kind: EntityKind, id: string, state: EntityState, time: number, cause: string) {
    this.kind = kind;
    this.id = id;
    this.firstSeen = time;
    this.state = state;
    this.since = time;
    this.cause = cause;
  }

  /** A timeline whose first record is `up` or `down` at `time`. */
  static start(kind: EntityKind, id: string, up: boolean, cause: string, time: number, maxDetail: number): Timeline {
    const timeline = new Timeline(kind, id, 'up', time, cause);
    if (!up) timeline.transition('down', cause, time, maxDetail);
    return timeline;
  }

  get currentState(): EntityState {
    return this.state;
  }

  /** Latest time this timeline has recorded. */
  get lastChange(): number {
    return this.since;
  }

  /**
   * Moves to `state` at `time` (clamped so history never runs backwards).
   * Returns false, changing nothing, when the entity is already in `state`.
   * O(1) amortized; folding an evicted span is O(hours it covers).
   */
  transition(state: EntityState, cause: string, time: number, maxDetail: number): boolean {
    if (state === this.state) return false;
    const at = Math.max(time, this.since);
    if (this.state === 'down') {
      const open = this.incidents[this.incidents.length - 1];
      if (open !== undefined && open.end === null) {
        open.end = at;
        this.repaired += 1;
        this.repairedDownMs += at - open.start;
      }
    } else if (this.state === 'retired') {
      const open = this.gaps[this.gaps.length - 1];
      if (open !== undefined && open.end === null) {
        open.end = at;
        this.closedGapMs += at - open.start;
      }
    }
    if (state === 'down') {
      this.incidents.push({ start: at, end: null, cause });
      this.incidentTotal += 1;
      this.evict(this.incidents, 'down', maxDetail);
    } else if (state === 'retired') {
      this.gaps.push({ start: at, end: null, cause: '' });
      this.evict(this.gaps, 'unobserved', maxDetail);
    }
    this.state = state;
    this.since = at;
    this.cause = cause;
    return true;
  }

  /** Folds the oldest closed spans into hourly buckets while more than `maxDetail` are kept. */
  private evict(spans: Span[], field: keyof Fold, maxDetail: number): void {
    while (spans.length > Math.max(1, maxDetail)) {
      const oldest = spans.shift();
      if (oldest === undefined || oldest.end === null) return;
      this.fold(oldest.start, oldest.end, field);
    }
  }

  private fold(start: number, end: number, field: keyof Fold): void {
    let cursor = start;
    while (cursor < end) {
      const hour = Math.floor(cursor / HOUR_MS) * HOUR_MS;
      const until = Math.min(end, hour + HOUR_MS);
      let bucket = this.folds.get(hour);
      if (bucket === undefined) {
        bucket = { down: 0, unobserved: 0 };
        this.folds.set(hour, bucket);
      }
      bucket[field] += until - cursor;
      cursor = until;
    }
  }

  /**
   * Drops detail that ended at or before `now - RETENTION_MS`: it cannot
   * overlap any window reported at `now` or later, so figures stay identical.
   */
  prune(now: number): void {
    const horizon = now - RETENTION_MS;
    dropEndedBefore(this.incidents, horizon);
    dropEndedBefore(this.gaps, horizon);
    for (const hour of [...this.folds.keys()]) {
      if (hour + HOUR_MS <= horizon) this.folds.delete(hour);
    }
  }

  /** True when the entity was retired before the retention horizon: nothing of it is reported any more. */
  expired(now: number): boolean {
    return this.state === 'retired' && this.since <= now - RETENTION_MS;
  }

  /** Figures as of `now`. O(detail + folded hours). */
  report(now: number): EntityAvailability {
    const uptime: Record<WindowName, number | null> = { '1h': null, '24h': null, '30d': null };
    const downtimeMs: Record<WindowName, number> = { '1h': 0, '24h': 0, '30d': 0 };
    for (const name of Object.keys(WINDOWS) as WindowName[]) {
      const figures = this.window(now, WINDOWS[name]);
      uptime[name] = figures.uptime;
      downtimeMs[name] = figures.downMs;
    }
    const horizon = now - RETENTION_MS;
    const incidents: Incident[] = [];
    for (const span of this.incidents) {
      if (span.start > now || (span.end !== null && span.end <= horizon)) continue;
      const end = span.end ?? Math.max(now, span.start);
      incidents.push({ start: span.start, end: span.end, durationMs: end - span.start, cause: span.cause });
    }
    const openIncident = this.state === 'down' ? Math.max(0, now - this.since) : 0;
    const openGap = this.state === 'retired' ? Math.max(0, now - this.since) : 0;
    const observed = Math.max(0, now - this.firstSeen) - this.closedGapMs - openGap;
    const down = this.repairedDownMs + openIncident;
    return {
      kind: this.kind,
      id: this.id,
      state: this.state,
      since: this.since,
      cause: this.cause,
      firstSeen: this.firstSeen,
      uptime,
      downtimeMs,
      incidents,
      incidentCount: this.incidentTotal,
      mttrMs: this.repaired > 0 ? this.repairedDownMs / this.repaired : null,
      mtbfMs: this.incidentTotal > 0 ? Math.max(0, observed - down) / this.incidentTotal : null,
    };
  }

  private window(now: number, length: number): { uptime: number | null; downMs: number } {
    const from = Math.max(now - length, this.firstSeen);
    if (now <= from) return { uptime: null, downMs: 0 };
    let down = 0;
    let unobserved = 0;
    for (const span of this.incidents) down += overlap(span.start, span.end ?? now, from, now);
    for (const span of this.gaps) unobserved += overlap(span.start, span.end ?? now, from, now);
    for (const [hour, bucket] of this.folds) {
      // A folded hour's time lies in [max(hour, firstSeen), min(hour + 1h, now)];
      // assume it is spread evenly there, which is exact unless the window's
      // start cuts that span.
      const bottom = Math.max(hour, this.firstSeen);
      const top = Math.min(hour + HOUR_MS, now);
      if (top <= bottom) continue;
      const share = overlap(bottom, top, from, now) / (top - bottom);
      if (share === 0) continue;
      down += bucket.down * share;
      unobserved += bucket.unobserved * share;
    }
    const observed = now - from - unobserved;
    if (observed <= 0) return { uptime: null, downMs: down };
    const uptime = (100 * (observed - down)) / observed;
    return { uptime: Math.min(100, Math.max(0, uptime)), downMs: down };
  }

  toSnapshot(): TimelineSnapshot {
    return {
      k: this.kind,
      i: this.id,
      f: this.firstSeen,
      s: this.state,
      t: this.since,
      c: this.cause,
      inc: this.incidents.map((span) => [span.start, span.end, span.cause] as const),
      gap: this.gaps.map((span) => [span.start, span.end] as const),
      fold: [...this.folds].map(([hour, bucket]) => [hour, bucket.down, bucket.unobserved] as const),
      tot: [this.incidentTotal, this.repaired, this.repairedDownMs, this.closedGapMs],
    };
  }

  /** Rebuilds a timeline from `toSnapshot()` output; null when `value` is not a well-formed snapshot. */
  static fromSnapshot(value: unknown): Timeline | null {
    if (!isRecord(value)) return null;
    const { k, i, f, s, t, c, inc, gap, fold, tot } = value;
    if (!isEntityKind(k) || typeof i !== 'string' || !isTime(f) || !isState(s) || !isTime(t) || typeof c !== 'string') return null;
    if (!Array.isArray(inc) || !Array.isArray(gap) || !Array.isArray(fold) || !Array.isArray(tot) || tot.length !== 4) return null;
    if (!tot.every(isTime)) return null;
    const timeline = new Timeline(k, i, s, f, c);
    timeline.since = t;
    for (const entry of inc) {
      const span = spanFrom(entry, true);
      if (span === null) return null;
      timeline.incidents.push(span);
    }
    for (const entry of gap) {
      const span = spanFrom(entry, false);
      if (span === null) return null;
      timeline.gaps.push(span);
    }
    for (const entry of fold) {
      if (!Array.isArray(entry) || entry.length !== 3 || !entry.every(isTime)) return null;
      const [hour, down, unobserved] = entry as [number, number, number];
      timeline.folds.set(hour, { down, unobserved });
    }
    [timeline.incidentTotal, timeline.repaired, timeline.repairedDownMs, timeline.closedGapMs] = tot as [number, number, number, number];
    return timeline;
  }
}

function overlap(start: number, end: number, from: number, to: number): number {
  return Math.max(0, Math.min(end, to) - Math.max(start, from));
}

function dropEndedBefore(spans: Span[], horizon: number): void {
  let drop = 0;
  while (drop < spans.length) {
    const end = spans[drop]?.end;
    if (end === null || end === undefined || end > horizon) break;
    drop += 1;
  }
  if (drop > 0) spans.splice(0, drop);
}

function spanFrom(entry: unknown, withCause: boolean): Span | null {
  if (!Array.isArray(entry) || entry.length !== (withCause ? 3 : 2)) return null;
  const [start, end, cause] = entry as unknown[];
  if (!isTime(start) || (end !== null && !isTime(end)) || (end !== null && end < start)) return null;
  if (withCause && typeof cause !== 'string') return null;
  return { start, end, cause: typeof cause === 'string' ? cause : '' };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isTime(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

export function isEntityKind(value: unknown): value is EntityKind {
  return typeof value === 'string' && (ENTITY_KINDS as readonly string[]).includes(value);
}

function isState(value: unknown): value is EntityState {
  return value === 'up' || value === 'down' || value === 'retired';
}
