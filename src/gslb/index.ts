/**
 * Cross-region failover: one `GslbNode` per Ballast instance ties together
 * the heartbeats (heartbeat.ts), the site state machine (sites.ts), the
 * answers by policy (dns-answers.ts), the authoritative DNS server
 * (dns-server.ts) and dynamic updates of an external primary (dns-update.ts).
 *
 * Who sends dynamic updates: for each record, the first site in the record's
 * target order that is up (recovering or active) in this site's view. Every
 * site computes the same sender from the same shared state, so in normal
 * operation exactly one site writes each record. A site isolated from a
 * majority (three or more sites) counts itself down and never sends. With two
 * sites, a partition makes each side see itself as the first site up; both
 * then write once, and the last write wins (see docs/gslb.md).
 */
import { isIP } from 'node:net';
import { BallastError, ErrorCodes } from '../core/errors.js';
import { systemClock, type Clock } from '../core/clock.js';
import { systemRandom, type Random } from '../core/random.js';
import type { BallastEvent } from '../core/events.js';
import { formatHostPort } from '../core/server.js';
import type { DnsRecordConfig, GslbConfig } from '../config/types.js';
import { HeartbeatTransport, type HeartbeatCounters, type HeartbeatMessage } from './heartbeat.js';
import { SiteTable, type QuorumStatus, type SiteChange, type SiteStatus } from './sites.js';
import { computeAnswers, describeAnswer, recordFqdn, sameAnswer, staticValues, normalizeName, type RecordAnswer } from './dns-answers.js';
import { DnsServer, type DnsCounters, type NameServer, type RateLimit } from './dns-server.js';
import { DynamicUpdater, type DynamicUpdateStatus, type UpdateRRset } from './dns-update.js';

export type { SiteState, SiteStatus, QuorumStatus } from './sites.js';
export type { DynamicUpdateStatus } from './dns-update.js';
export type { DnsCounters, NameServer, RateLimit } from './dns-server.js';
export type { HeartbeatCounters } from './heartbeat.js';

export interface GslbLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface GslbDeps {
  /** Does this site have healthy servers for the records it serves? Polled every tick; must be cheap. */
  readonly localReady: () => boolean;
  readonly clock?: Clock;
  readonly random?: Random;
  readonly logger?: GslbLogger;
  /** `site-up`, `site-down` and `dns-changed` events. */
  readonly onEvent?: (event: BallastEvent) => void;
}

/** Settings beyond `GslbConfig`, each with a default. */
export interface GslbOptions {
  /** NS records of the zone. Default: `ns1.<zone>`, with the DNS listen address as its address when that is a specific IP. */
  readonly nameservers?: readonly NameServer[];
  /** SOA RNAME. Default `hostmaster.<zone>`. */
  readonly hostmaster?: string;
  /** Per-client UDP query limit. Default none. */
  readonly rateLimit?: RateLimit;
  /** EDNS UDP payload size advertised and accepted at most. Default 1232. */
  readonly udpPayloadSize?: number;
  /** Floor of the failure detectors' fitted deviation, ms. Default 0.6 × heartbeat interval. */
  readonly minStdDeviation?: number;
  /** Pause tolerated on top of the detectors' fitted arrival time, ms. Default 0. */
  readonly acceptablePause?: number;
  /** Largest accepted heartbeat timestamp difference, ms. Default 30 s. */
  readonly maxClockSkew?: number;
  /** How long a starting site waits for its peers' states, ms. Default 4 × heartbeat interval. */
  readonly bootstrapTime?: number;
  /** Dynamic update reply timeout, ms. Default 5 s. */
  readonly updateTimeout?: number;
  /** First retry delay of a failed dynamic update, ms; doubles up to `updateRetryMax`. Default 1 s. */
  readonly updateRetryMin?: number;
  /** Default 60 s. */
  readonly updateRetryMax?: number;
}

export interface RecordStatus {
  /** Owner name, e.g. `www.example.com`. */
  readonly name: string;
  readonly type: DnsRecordConfig['type'];
  readonly policy: DnsRecordConfig['policy'];
  /** Values answered now (weighted: the candidates of the per-query draw). */
  readonly answer: readonly string[];
  /** Weighted records: the weight of each candidate, in `answer` order. */
  readonly weights: readonly number[] | null;
  /** Every target is down: answering in configured order. */
  readonly allTargetsDown: boolean;
  /** `answering configured order` when every target is down, else null. */
  readonly note: string | null;
  /** The site that sends this record's dynamic updates in this site's view, or null. */
  readonly updateSender: string | null;
}

export interface GslbStatus {
  readonly site: string;
  readonly witness: boolean;
  readonly failback: 'auto' | 'manual';
  readonly failbackDelayMs: number;
  readonly heartbeat: {
    readonly listen: string;
    readonly intervalMs: number;
    readonly phiThreshold: number;
    readonly counters: HeartbeatCounters;
  };
  readonly quorum: QuorumStatus;
  readonly sites: readonly SiteStatus[];
  readonly records: readonly RecordStatus[];
  readonly dns: {
    readonly listen: string;
    readonly zone: string;
    /** SOA serial, bumped whenever an answer changes. */
    readonly serial: number;
    readonly counters: DnsCounters;
  } | null;
  readonly dynamicUpdate: DynamicUpdateStatus | null;
}

const DEFAULT_UDP_PAYLOAD = 1232;

/** Checks what the config schema cannot see across keys. Throws `BallastError` (CONFIG_INVALID). */
export function validateGslbConfig(config: GslbConfig): void {
  const problems: string[] = [];
  const sites = new Set<string>([config.site]);
  for (const peer of config.peers) {
    if (sites.has(peer.site)) problems.push(`gslb.peers: site "${peer.site}" appears twice (or is this site)`);
    sites.add(peer.site);
  }
  if (config.heartbeat.secret.length < 16) problems.push('gslb.heartbeat.secret: use at least 16 characters');
  const dns = config.dns;
  if (dns !== undefined) {
    const seen = new Map<string, Set<string>>();
    for (const record of dns.records) {
      const fqdn = recordFqdn(record.name, dns.zone);
      const types = seen.get(fqdn) ?? new Set<string>();
      if (types.has(record.type)) problems.push(`gslb.dns.records: ${fqdn} ${record.type} is defined twice`);
      if ((record.type === 'CNAME' && types.size > 0) || (record.type !== 'CNAME' && types.has('CNAME'))) {
        problems.push(`gslb.dns.records: ${fqdn} has a CNAME and other types`);
      }
      if (record.type === 'CNAME' && fqdn === normalizeName(dns.zone)) problems.push('gslb.dns.records: a CNAME cannot be at the zone apex');
      types.add(record.type);
      seen.set(fqdn, types);
      if (record.targets.length === 0) problems.push(`gslb.dns.records: ${fqdn} has no targets`);
      for (const target of record.targets) {
        if (!sites.has(target.site)) problems.push(`gslb.dns.records: ${fqdn} targets unknown site "${target.site}"`);
        if (config.witness && target.site === config.site) problems.push(`gslb.dns.records: ${fqdn} targets witness site "${target.site}"`);
        if (record.type === 'A' && isIP(target.address) !== 4) problems.push(`gslb.dns.records: ${fqdn}: "${target.address}" is not an IPv4 address`);
        if (record.type === 'AAAA' && isIP(target.address) !== 6) problems.push(`gslb.dns.records: ${fqdn}: "${target.address}" is not an IPv6 address`);
        if (record.type === 'CNAME' && isIP(target.address) !== 0) problems.push(`gslb.dns.records: ${fqdn}: a CNAME target must be a host name`);
        if (target.weight < 0) problems.push(`gslb.dns.records: ${fqdn}: weights cannot be negative`);
      }
      const update = dns.dynamicUpdate;
      if (update !== undefined) {
        const zone = normalizeName(update.zone);
        if (fqdn !== zone && !fqdn.endsWith(`.${zone}`)) problems.push(`gslb.dns.dynamicUpdate.zone: ${fqdn} lies outside ${zone}`);
      }
    }
    const secret = dns.dynamicUpdate?.tsig.secret;
    if (secret !== undefined && (secret.length === 0 || Buffer.from(secret, 'base64').length === 0)) {
      problems.push('gslb.dns.dynamicUpdate.tsig.secret: must be base64, as in a BIND key file');
    }
  }
  if (problems.length > 0) throw new BallastError(ErrorCodes.CONFIG_INVALID, problems.join('\n'));
}

/**
 * One site's GSLB: heartbeats to the peers, site state, the DNS listener and
 * dynamic updates. Lifecycle: `start()` once, `close()` once.
 */
export class GslbNode {
  private readonly config: GslbConfig;
  private readonly deps: GslbDeps;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly table: SiteTable;
  private readonly transport: HeartbeatTransport;
  private readonly dnsServer: DnsServer | undefined;
  private readonly updater: DynamicUpdater | undefined;
  private readonly incarnation: number;
  private readonly bootstrapTime: number;
  private readonly tickInterval: number;
  private sequence = 0;
  private localReady = false;
  private answers: RecordAnswer[] = [];
  private serial: number;
  /** Per record key, the values this site last asked the updater to write. */
  private readonly requested = new Map<string, string>();
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private tickTimer: ReturnType<typeof setInterval> | undefined;
  private started = false;
  private closed = false;
  private answering = false;

  constructor(config: GslbConfig, deps: GslbDeps, options: GslbOptions = {}) {
    validateGslbConfig(config);
    this.config = config;
    this.deps = deps;
    this.clock = deps.clock ?? systemClock;
    this.random = deps.random ?? systemRandom;
    const interval = config.heartbeat.interval;
    this.bootstrapTime = options.bootstrapTime ?? 4 * interval;
    this.tickInterval = Math.max(10, Math.min(50, interval / 5));
    this.incarnation = Math.round(this.clock.wallNow());
    this.serial = Math.floor(this.clock.wallNow() / 1000) >>> 0;
    this.table = new SiteTable({
      self: config.site,
      witness: config.witness,
      peers: config.peers.map((peer) => peer.site),
      interval,
      phiThreshold: config.heartbeat.phiThreshold,
      minStdDeviation: options.minStdDeviation ?? 0.6 * interval,
      acceptablePause: options.acceptablePause ?? 0,
      failbackDelay: config.failbackDelay,
      failback: config.failback,
      bootstrapTime: this.bootstrapTime,
      clock: this.clock,
    });
    this.transport = new HeartbeatTransport({
      site: config.site,
      listen: config.heartbeat.listen,
      secret: config.heartbeat.secret,
      peers: config.peers,
      maxClockSkew: options.maxClockSkew ?? 30_000,
      clock: this.clock,
      ...(deps.logger === undefined ? {} : { logger: deps.logger }),
      onMessage: (message, arrival) => this.onHeartbeat(message, arrival),
    });
    const dns = config.dns;
    if (dns !== undefined) {
      const zone = normalizeName(dns.zone);
      const listenHost = dns.listen.host;
      const specific = isIP(listenHost) !== 0 && listenHost !== '0.0.0.0' && listenHost !== '::';
      this.dnsServer = new DnsServer({
        listen: dns.listen,
        zone,
        ttl: dns.ttl,
        nameservers: options.nameservers ?? [{ name: `ns1.${zone}`, address: specific ? listenHost : undefined }],
        hostmaster: options.hostmaster ?? `hostmaster.${zone}`,
        udpPayloadSize: options.udpPayloadSize ?? DEFAULT_UDP_PAYLOAD,
        random: this.random,
        clock: this.clock,
        rateLimit: options.rateLimit,
        tcpIdleTimeout: 10_000,
        maxTcpConnections: 256,
        ...(deps.logger === undefined ? {} : { logger: deps.logger }),
      });
      const update = dns.dynamicUpdate;
      if (update !== undefined) {
        this.updater = new DynamicUpdater({
          server: update.server,
          zone: update.zone,
          key: update.tsig,
          timeout: options.updateTimeout ?? 5000,
          retryMin: options.updateRetryMin ?? 1000,
          retryMax: options.updateRetryMax ?? 60_000,
          clock: this.clock,
          random: this.random,
          ...(deps.logger === undefined ? {} : { logger: deps.logger }),
        });
      }
    }
  }

  /** The bound heartbeat UDP port (after `start`). */
  get heartbeatPort(): number {
    return this.transport.port;
  }

  /** The bound DNS port, UDP and TCP (after `start`), or undefined without `dns`. */
  get dnsPort(): number | undefined {
    return this.dnsServer?.port;
  }

  /**
   * Binds the heartbeat socket, exchanges heartbeats until every site's
   * state is settled (at most the bootstrap time), then opens the DNS
   * listener and sends the start-up dynamic update. Resolves when serving.
   */
  async start(): Promise<void> {
    if (this.started) throw new BallastError(ErrorCodes.BAD_REQUEST, 'gslb node already started');
    this.started = true;
    try {
      await this.serve();
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  private async serve(): Promise<void> {
    await this.transport.start();
    this.pollReady();
    this.sendHeartbeat();
    this.heartbeatTimer = setInterval(() => this.sendHeartbeat(), this.config.heartbeat.interval);
    this.tickTimer = setInterval(() => this.tick(), this.tickInterval);
    // Bounded in real time, whatever clock drives the state machine.
    const deadline = performance.now() + this.bootstrapTime + this.tickInterval;
    while (!this.table.settled() && performance.now() < deadline && !this.closed) {
      await new Promise((resolve) => setTimeout(resolve, this.tickInterval));
    }
    if (this.closed) return;
    this.tick();
    if (this.dnsServer !== undefined) {
      this.dnsServer.setAnswers(this.answers, this.serial);
      await this.dnsServer.listen();
      this.deps.logger?.info(`gslb ${this.config.site}: DNS for ${this.config.dns?.zone ?? ''} on ${formatHostPort({ host: this.config.dns?.listen.host ?? '', port: this.dnsServer.port })}`);
    }
    this.answering = true;
    this.syncUpdates();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeatTimer !== undefined) clearInterval(this.heartbeatTimer);
    if (this.tickTimer !== undefined) clearInterval(this.tickTimer);
    await Promise.all([this.transport.close(), this.dnsServer?.close(), this.updater?.close()]);
  }

  /**
   * Manual failback: the recovering `site` receives traffic again now, here
   * and (through heartbeats) at every site. Also cuts the delay short with
   * `failback: auto`. Throws BAD_REQUEST for an unknown site or one that is
   * not recovering.
   */
  failback(site: string): SiteStatus {
    if (!this.table.has(site)) throw new BallastError(ErrorCodes.BAD_REQUEST, `unknown gslb site "${site}"`, 404);
    const state = this.table.stateOf(site);
    if (state !== 'recovering') {
      throw new BallastError(ErrorCodes.BAD_REQUEST, `gslb site "${site}" is ${state ?? 'unknown'}, not recovering`, 409);
    }
    this.table.grantFailback(site);
    this.tick();
    const status = this.table.status().find((entry) => entry.site === site);
    if (status === undefined) throw new BallastError(ErrorCodes.BAD_REQUEST, `unknown gslb site "${site}"`, 404);
    return status;
  }

  status(): GslbStatus {
    const dns = this.config.dns;
    const senders = this.updateSenders();
    return {
      site: this.config.site,
      witness: this.config.witness,
      failback: this.config.failback,
      failbackDelayMs: this.config.failbackDelay,
      heartbeat: {
        listen: formatHostPort({ host: this.config.heartbeat.listen.host, port: this.transport.port || this.config.heartbeat.listen.port }),
        intervalMs: this.config.heartbeat.interval,
        phiThreshold: this.config.heartbeat.phiThreshold,
        counters: structuredClone(this.transport.counters),
      },
      quorum: this.table.quorumStatus(),
      sites: this.table.status(),
      records: this.answers.map((answer, index) => ({
        name: answer.fqdn,
        type: answer.type,
        policy: answer.policy,
        answer: answer.targets.map((target) => target.address),
        weights: answer.policy === 'weighted' ? answer.targets.map((target) => target.weight) : null,
        allTargetsDown: answer.allTargetsDown,
        note: answer.allTargetsDown ? 'answering configured order' : null,
        updateSender: senders[index] ?? null,
      })),
      dns:
        dns === undefined || this.dnsServer === undefined
          ? null
          : {
              listen: formatHostPort({ host: dns.listen.host, port: this.dnsServer.port || dns.listen.port }),
              zone: normalizeName(dns.zone),
              serial: this.serial,
              counters: structuredClone(this.dnsServer.responder.counters),
            },
      dynamicUpdate: this.updater?.status() ?? null,
    };
  }

  private onHeartbeat(message: HeartbeatMessage, arrival: number): void {
    this.table.receive(message, arrival);
    this.tick();
  }

  private pollReady(): void {
    try {
      this.localReady = this.deps.localReady();
    } catch (error) {
      this.localReady = false;
      this.deps.logger?.error(`gslb localReady failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    this.table.setLocalReady(this.localReady);
  }

  private sendHeartbeat(): void {
    if (this.closed) return;
    this.transport.send({
      site: this.config.site,
      ready: this.config.witness || this.localReady,
      witness: this.config.witness,
      incarnation: this.incarnation,
      sequence: this.sequence,
      timestamp: Math.round(this.clock.wallNow()),
      view: this.table.view(),
    });
    this.sequence = (this.sequence + 1) >>> 0;
  }

  /** Polls readiness, advances the state machine, publishes changes. O(sites² + records). */
  private tick(): void {
    if (this.closed) return;
    this.pollReady();
    const changes = this.table.evaluate();
    for (const change of changes) this.publishSite(change);
    this.refreshAnswers(changes);
  }

  private publishSite(change: SiteChange): void {
    const message = `gslb site ${change.site}: ${change.from} → ${change.to} (${change.reason})`;
    if (change.to === 'down') this.deps.logger?.warn(message);
    else this.deps.logger?.info(message);
    this.emit({
      type: change.to === 'down' ? 'site-down' : 'site-up',
      time: this.clock.wallNow(),
      site: change.site,
      reason: change.reason,
      detail: { state: change.to, previous: change.from },
    });
  }

  /**
   * Recomputes every record's answer; on a change bumps the SOA serial,
   * hands the answers to the DNS server and, once serving, emits
   * `dns-changed`. Then queues any dynamic update this site owes.
   */
  private refreshAnswers(changes: readonly SiteChange[]): void {
    const dns = this.config.dns;
    if (dns === undefined) return;
    const next = computeAnswers(
      dns.records,
      dns.zone,
      (site) => this.table.isActive(site),
      (site) => this.table.isUp(site),
    );
    const previous = this.answers;
    let changed = previous.length !== next.length;
    const reason = changes.map((change) => `${change.site} ${change.to}`).join(', ') || 'refresh';
    for (let i = 0; i < next.length && !changed; i++) {
      const now = next[i];
      const before = previous[i];
      if (now !== undefined && before !== undefined && !sameAnswer(before, now)) changed = true;
    }
    if (changed) {
      if (this.answering) {
        next.forEach((now, i) => {
          const before = previous[i];
          if (before === undefined || sameAnswer(before, now)) return;
          this.deps.logger?.info(
            `gslb ${now.fqdn} ${now.type}: ${describeAnswer(before)} → ${describeAnswer(now)}${now.allTargetsDown ? ' (all targets down: answering configured order)' : ''}`,
          );
          this.emit({
            type: 'dns-changed',
            time: this.clock.wallNow(),
            reason,
            detail: { record: now.fqdn, type: now.type, answer: describeAnswer(now), previous: describeAnswer(before), allTargetsDown: now.allTargetsDown },
          });
        });
        this.serial = Math.max((this.serial + 1) >>> 0, Math.floor(this.clock.wallNow() / 1000) >>> 0);
      }
      this.answers = next;
      if (this.answering) this.dnsServer?.setAnswers(next, this.serial);
    }
    this.syncUpdates();
  }

  /** Per record (in `answers` order): the site that sends its dynamic updates, in this site's view. */
  private updateSenders(): (string | null)[] {
    const records = this.config.dns?.records ?? [];
    return records.map((record) => record.targets.find((target) => this.table.isUp(target.site))?.site ?? null);
  }

  /** Queues dynamic updates for records this site is the sender of and whose values it has not yet requested. */
  private syncUpdates(): void {
    const updater = this.updater;
    const dns = this.config.dns;
    if (updater === undefined || dns === undefined || !this.answering) return;
    const senders = this.updateSenders();
    const ttl = Math.max(0, Math.round(dns.ttl / 1000));
    const batch: UpdateRRset[] = [];
    const owned: string[] = [];
    this.answers.forEach((answer, index) => {
      const key = `${answer.fqdn}/${answer.type}`;
      if (senders[index] !== this.config.site) {
        this.requested.delete(key);
        return;
      }
      owned.push(`${answer.fqdn} ${answer.type}`);
      const values = staticValues(answer);
      const signature = values.join(',');
      if (this.requested.get(key) === signature) return;
      this.requested.set(key, signature);
      batch.push({ name: answer.fqdn, type: answer.type, ttl, values });
    });
    updater.setOwned(owned);
    updater.push(batch);
  }

  private emit(event: BallastEvent): void {
    try {
      this.deps.onEvent?.(event);
    } catch (error) {
      this.deps.logger?.error(`gslb event hook failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

/** Creates and starts a node; see `GslbNode`. */
export async function startGslb(config: GslbConfig, deps: GslbDeps, options?: GslbOptions): Promise<GslbNode> {
  const node = new GslbNode(config, deps, options);
  await node.start();
  return node;
}
