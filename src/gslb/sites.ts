/**
 * Site state: who is up, who serves traffic, and when traffic may return.
 *
 * Three layers, recomputed by `evaluate()` on every tick:
 *
 * 1. Opinion — what this site sees by itself. A peer is `up` while its
 *    heartbeats arrive (phi below the threshold) and it reports healthy
 *    servers; this site is `up` while `localReady` says so. A witness is
 *    always ready: it serves no traffic, it only votes.
 *
 * 2. Health — the verdict. With one or two sites the verdict is this site's
 *    own opinion (a partition cannot be told from a failure; see the docs).
 *    With three or more, every site that this site can hear votes with the
 *    opinions carried in its heartbeats, and a site is declared down (or up)
 *    only when at least a majority of *all* configured sites vote so; a tie or
 *    a minority keeps the previous verdict. A site that cannot hear a majority
 *    is isolated: it declares itself down (the majority will have done the
 *    same) and freezes its verdicts on the others.
 *
 * 3. Traffic state — `unknown` → `down` | `recovering` | `active`. Failover is
 *    immediate: health down makes a site `down`. Failback has hysteresis: a
 *    site declared up again is `recovering` and becomes `active` (receives
 *    traffic) only after `failbackDelay` of continuous health, or, with
 *    `failback: manual`, when an operator grants it. A grant is a counter
 *    per site carried in heartbeats and merged by maximum, so a grant made at
 *    any site reaches all of them.
 *
 * Start-up: every site starts `unknown`. A restarted site must not pull
 * traffic back before the hysteresis has run, so it adopts the state its
 * peers report (the most conservative one); only when no reachable peer knows
 * anything within `bootstrapTime` (a cold start) does it decide alone.
 * Isolation is not declared within `bootstrapTime` either: not having heard
 * anyone yet is not being cut off.
 *
 * Pure: time comes from the injected clock; no sockets, no timers.
 */
import type { Clock } from '../core/clock.js';
import type { HeartbeatMessage, SiteState, ViewEntry } from './heartbeat.js';
import { PhiAccrualDetector } from './phi-accrual.js';

export type { SiteState } from './heartbeat.js';

export interface SiteTableOptions {
  /** This site's name. */
  readonly self: string;
  /** This site only votes and serves no traffic. */
  readonly witness: boolean;
  /** The other configured sites. */
  readonly peers: readonly string[];
  /** Heartbeat interval, ms: seeds each peer's failure detector. */
  readonly interval: number;
  readonly phiThreshold: number;
  /** Floor of the detectors' fitted deviation, ms. */
  readonly minStdDeviation: number;
  /** Pause tolerated on top of the fitted arrival distribution, ms. */
  readonly acceptablePause: number;
  readonly failbackDelay: number;
  readonly failback: 'auto' | 'manual';
  /** How long a starting site waits for its peers' states before deciding alone, ms. */
  readonly bootstrapTime: number;
  readonly clock: Clock;
}

/** One traffic-state transition, for events and logs. */
export interface SiteChange {
  readonly site: string;
  readonly from: SiteState;
  readonly to: SiteState;
  /**
   * `startup`, `peer-state` (adopted at start-up), `no-heartbeat`,
   * `no-healthy-servers`, `majority`, `isolated`, `healthy`,
   * `failback-delay` or `admin`.
   */
  readonly reason: string;
}

/** A site as `status()` reports it. */
export interface SiteStatus {
  readonly site: string;
  readonly self: boolean;
  readonly witness: boolean;
  readonly state: SiteState;
  /** The verdict: up, down, or undecided (no majority either way yet). */
  readonly health: 'up' | 'down' | 'undecided';
  /** This site hears it (true for itself). */
  readonly reachable: boolean;
  /** It reported healthy servers in its last heartbeat (for itself: `localReady`); null if never heard. */
  readonly ready: boolean | null;
  /** Wall-clock ms of its last accepted heartbeat; null for itself or if never heard. */
  readonly lastHeartbeat: number | null;
  /** Current suspicion level; null for itself or if never heard. */
  readonly phi: number | null;
  /** Elapsed silence after which it would be suspected now, ms; null for itself. */
  readonly detectionTimeMs: number | null;
  /** Wall-clock ms when the state was entered. */
  readonly since: number;
  /** Why it entered the state. */
  readonly reason: string;
  /** Wall-clock ms when it becomes active (auto failback), or null. */
  readonly failbackAt: number | null;
  /** With manual failback: recovering and waiting for an operator. */
  readonly awaitingFailback: boolean;
}

export interface QuorumStatus {
  /** Configured sites, this one included. */
  readonly sites: number;
  /** Votes needed to change a verdict (a majority), or 1 when fewer than three sites. */
  readonly needed: number;
  /** Sites this one can hear, itself included. */
  readonly reachable: number;
  /** False when this site is isolated from a majority (three or more sites). */
  readonly has: boolean;
}

type Health = 'up' | 'down' | undefined;

interface PeerRecord {
  readonly detector: PhiAccrualDetector;
  report: HeartbeatMessage | undefined;
}

interface SiteRecord {
  readonly name: string;
  state: SiteState;
  /** Monotonic time the current state began. */
  since: number;
  reason: string;
  health: Health;
  healthReason: string;
  /** Manual failbacks granted, merged by maximum across sites. */
  epoch: number;
  /** `epoch` when the site last went down; a grant is a larger epoch. */
  downEpoch: number;
}

export class SiteTable {
  private readonly options: SiteTableOptions;
  private readonly peers = new Map<string, PeerRecord>();
  private readonly sites = new Map<string, SiteRecord>();
  private readonly order: readonly string[];
  private readonly quorum: number;
  private readonly started: number;
  private localReady = false;
  private hasQuorum = true;

  constructor(options: SiteTableOptions) {
    if (options.peers.includes(options.self)) throw new RangeError(`site "${options.self}" lists itself as a peer`);
    if (new Set(options.peers).size !== options.peers.length) throw new RangeError('duplicate peer site');
    this.options = options;
    this.order = [options.self, ...options.peers];
    const total = this.order.length;
    this.quorum = total >= 3 ? Math.floor(total / 2) + 1 : 1;
    this.started = options.clock.now();
    for (const peer of options.peers) {
      this.peers.set(peer, {
        detector: new PhiAccrualDetector({
          threshold: options.phiThreshold,
          expectedInterval: options.interval,
          minStdDeviation: options.minStdDeviation,
          acceptablePause: options.acceptablePause,
        }),
        report: undefined,
      });
    }
    for (const name of this.order) {
      this.sites.set(name, {
        name,
        state: 'unknown',
        since: this.started,
        reason: 'startup',
        health: undefined,
        healthReason: 'startup',
        epoch: 0,
        downEpoch: 0,
      });
    }
  }

  /** Site names, this one first, then peers in configured order. */
  get siteNames(): readonly string[] {
    return this.order;
  }

  setLocalReady(ready: boolean): void {
    this.localReady = ready;
  }

  /** Records an accepted heartbeat. Unknown senders are ignored. O(sites). */
  receive(message: HeartbeatMessage, arrival: number): void {
    const peer = this.peers.get(message.site);
    if (peer === undefined) return;
    peer.detector.heartbeat(arrival);
    peer.report = message;
    for (const entry of message.view) {
      const site = this.sites.get(entry.site);
      if (site !== undefined && entry.failbackEpoch > site.epoch) site.epoch = entry.failbackEpoch;
    }
  }

  /**
   * Recomputes opinions, verdicts and traffic states at the clock's now and
   * returns the transitions, in site order. O(sites²).
   */
  evaluate(): SiteChange[] {
    const now = this.options.clock.now();
    const reachable = new Set<string>();
    for (const [name, peer] of this.peers) {
      if (peer.detector.isAvailable(now)) reachable.add(name);
    }
    const total = this.order.length;
    this.hasQuorum = total < 3 || 1 + reachable.size >= this.quorum;

    for (const record of this.sites.values()) this.updateHealth(record, reachable, now);

    const changes: SiteChange[] = [];
    for (const name of this.order) {
      const record = this.sites.get(name);
      if (record === undefined) continue;
      const change = this.updateState(record, reachable, now);
      if (change !== undefined) changes.push(change);
    }
    return changes;
  }

  /** True when the site receives traffic. */
  isActive(site: string): boolean {
    return this.sites.get(site)?.state === 'active';
  }

  /** True when the site is declared healthy (recovering or active). */
  isUp(site: string): boolean {
    const state = this.sites.get(site)?.state;
    return state === 'active' || state === 'recovering';
  }

  has(site: string): boolean {
    return this.sites.has(site);
  }

  stateOf(site: string): SiteState | undefined {
    return this.sites.get(site)?.state;
  }

  /** True once no site is `unknown`: start-up has settled. */
  settled(): boolean {
    for (const record of this.sites.values()) if (record.state === 'unknown') return false;
    return true;
  }

  /**
   * Grants failback of `site`: a recovering site becomes active at the next
   * `evaluate()`, here and (through heartbeats) at every other site.
   * Precondition: `has(site)`.
   */
  grantFailback(site: string): void {
    const record = this.sites.get(site);
    if (record === undefined) throw new RangeError(`unknown site "${site}"`);
    record.epoch++;
  }

  /** What this site tells its peers: its opinion and state of every site. O(sites). */
  view(): ViewEntry[] {
    const now = this.options.clock.now();
    const bootstrapOver = now - this.started >= this.options.bootstrapTime;
    const entries: ViewEntry[] = [];
    for (const name of this.order) {
      const record = this.sites.get(name);
      if (record === undefined) continue;
      const peer = this.peers.get(name);
      const reachable = peer === undefined ? true : peer.detector.isAvailable(now);
      const ready = peer === undefined ? this.selfReady() : (peer.report?.ready ?? false);
      entries.push({
        site: name,
        reachable,
        ready,
        known: peer === undefined || peer.report !== undefined || bootstrapOver,
        state: record.state,
        recoveringForMs: record.state === 'recovering' ? now - record.since : 0,
        failbackEpoch: record.epoch,
      });
    }
    return entries;
  }

  /** Every site's state, for status. O(sites). */
  status(): SiteStatus[] {
    const now = this.options.clock.now();
    const wallOffset = this.options.clock.wallNow() - now;
    const result: SiteStatus[] = [];
    for (const name of this.order) {
      const record = this.sites.get(name);
      if (record === undefined) continue;
      const peer = this.peers.get(name);
      const last = peer?.detector.lastHeartbeat;
      const recovering = record.state === 'recovering';
      const granted = record.epoch > record.downEpoch;
      const auto = this.options.failback === 'auto';
      result.push({
        site: name,
        self: peer === undefined,
        witness: peer === undefined ? this.options.witness : (peer.report?.witness ?? false),
        state: record.state,
        health: record.health ?? 'undecided',
        reachable: peer === undefined ? true : peer.detector.isAvailable(now),
        ready: peer === undefined ? this.selfReady() : (peer.report?.ready ?? null),
        lastHeartbeat: last === undefined ? null : Math.round(last + wallOffset),
        phi: peer === undefined || last === undefined ? null : round3(peer.detector.phi(now)),
        detectionTimeMs: peer === undefined ? null : Math.round(peer.detector.detectionTime()),
        since: Math.round(record.since + wallOffset),
        reason: record.reason,
        failbackAt: recovering && auto && !granted ? Math.round(record.since + this.options.failbackDelay + wallOffset) : null,
        awaitingFailback: recovering && !auto && !granted,
      });
    }
    return result;
  }

  quorumStatus(): QuorumStatus {
    const now = this.options.clock.now();
    let reachable = 1;
    for (const peer of this.peers.values()) if (peer.detector.isAvailable(now)) reachable++;
    return { sites: this.order.length, needed: this.quorum, reachable, has: this.hasQuorum };
  }

  private selfReady(): boolean {
    return this.options.witness || this.localReady;
  }

  /** This site's own opinion of `site`, or undefined while it cannot have one yet. */
  private opinion(site: string, reachable: ReadonlySet<string>, now: number): { up: boolean; reason: string } | undefined {
    const peer = this.peers.get(site);
    if (peer === undefined) {
      return this.selfReady() ? { up: true, reason: 'healthy' } : { up: false, reason: 'no-healthy-servers' };
    }
    if (!reachable.has(site)) {
      if (peer.report === undefined && now - this.started < this.options.bootstrapTime) return undefined;
      return { up: false, reason: 'no-heartbeat' };
    }
    const ready = peer.report?.witness === true || peer.report?.ready === true;
    return ready ? { up: true, reason: 'healthy' } : { up: false, reason: 'no-healthy-servers' };
  }

  /** Layer 2: sets `record.health` from opinions (and votes with three or more sites). */
  private updateHealth(record: SiteRecord, reachable: ReadonlySet<string>, now: number): void {
    const own = this.opinion(record.name, reachable, now);
    if (this.order.length < 3) {
      if (own === undefined) return;
      record.health = own.up ? 'up' : 'down';
      record.healthReason = own.reason;
      return;
    }
    if (!this.hasQuorum) {
      // At start-up nobody has been heard yet: that is not isolation.
      if (now - this.started < this.options.bootstrapTime) return;
      if (record.name === this.options.self) {
        record.health = 'down';
        record.healthReason = 'isolated';
      }
      return;
    }
    let up = own === undefined ? 0 : own.up ? 1 : 0;
    let down = own === undefined ? 0 : own.up ? 0 : 1;
    for (const voter of reachable) {
      const report = this.peers.get(voter)?.report;
      if (report === undefined) continue;
      if (voter === record.name) {
        if (report.witness || report.ready) up++;
        else down++;
        continue;
      }
      const entry = report.view.find((candidate) => candidate.site === record.name);
      if (entry === undefined || !entry.known) continue;
      if (entry.reachable && entry.ready) up++;
      else down++;
    }
    if (down >= this.quorum) {
      record.health = 'down';
      record.healthReason = own !== undefined && !own.up ? own.reason : 'majority';
    } else if (up >= this.quorum) {
      record.health = 'up';
      record.healthReason = 'healthy';
    }
  }

  /** Layer 3: the traffic-state machine. Returns the transition, if any. */
  private updateState(record: SiteRecord, reachable: ReadonlySet<string>, now: number): SiteChange | undefined {
    const from = record.state;
    switch (record.state) {
      case 'unknown': {
        if (record.health === undefined) {
          if (now - this.started < this.options.bootstrapTime) return undefined;
          return this.enter(record, 'down', 'startup', now);
        }
        if (record.health === 'down') return this.enter(record, 'down', record.healthReason, now);
        const adopted = this.peerState(record.name, reachable);
        if (adopted === undefined) {
          if (now - this.started < this.options.bootstrapTime) return undefined;
          return this.enter(record, 'active', 'startup', now);
        }
        if (adopted.state === 'active') return this.enter(record, 'active', 'peer-state', now);
        const change = this.enter(record, 'recovering', 'peer-state', now);
        record.since = now - adopted.recoveringForMs;
        record.downEpoch = record.epoch;
        return this.maybeActivate(record, now) ?? change;
      }
      case 'down':
        if (record.health !== 'up') return undefined;
        this.enter(record, 'recovering', 'healthy', now);
        return { ...(this.maybeActivate(record, now) ?? { site: record.name, to: 'recovering', reason: 'healthy' }), from };
      case 'recovering':
        if (record.health === 'down') return this.enter(record, 'down', record.healthReason, now);
        return this.maybeActivate(record, now);
      case 'active':
        if (record.health === 'down') return this.enter(record, 'down', record.healthReason, now);
        return undefined;
      default: {
        const exhaustive: never = record.state;
        throw new Error(`unhandled site state ${String(exhaustive)}`);
      }
    }
  }

  private maybeActivate(record: SiteRecord, now: number): SiteChange | undefined {
    if (record.state !== 'recovering') return undefined;
    if (record.epoch > record.downEpoch) return this.enter(record, 'active', 'admin', now);
    if (this.options.failback === 'auto' && now - record.since >= this.options.failbackDelay) {
      return this.enter(record, 'active', 'failback-delay', now);
    }
    return undefined;
  }

  private enter(record: SiteRecord, to: SiteState, reason: string, now: number): SiteChange {
    const from = record.state;
    record.state = to;
    record.since = now;
    record.reason = reason;
    if (to === 'down') record.downEpoch = record.epoch;
    return { site: record.name, from, to, reason };
  }

  /**
   * The most conservative state the reachable peers report for `site`
   * (down, then the shortest recovery, then active), or undefined when none
   * of them knows it. A peer reporting `down` while this site sees it healthy
   * means it is recovering from now.
   */
  private peerState(site: string, reachable: ReadonlySet<string>): { state: 'active' | 'recovering'; recoveringForMs: number } | undefined {
    let result: { state: 'active' | 'recovering'; recoveringForMs: number } | undefined;
    for (const voter of reachable) {
      const entry = this.peers.get(voter)?.report?.view.find((candidate) => candidate.site === site);
      if (entry === undefined || entry.state === 'unknown') continue;
      if (entry.state === 'down') return { state: 'recovering', recoveringForMs: 0 };
      if (entry.state === 'recovering') {
        if (result === undefined || result.state === 'active' || entry.recoveringForMs < result.recoveringForMs) {
          result = { state: 'recovering', recoveringForMs: entry.recoveringForMs };
        }
      } else if (result === undefined) {
        result = { state: 'active', recoveringForMs: 0 };
      }
    }
    return result;
  }
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}
