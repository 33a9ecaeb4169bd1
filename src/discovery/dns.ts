/**
 * DNS discovery: a pool's servers from SRV records (port, weight and
 * priority from each record, targets resolved to addresses) or from A/AAAA
 * records on a configured port, re-resolved as the TTLs say.
 *
 * Schedule: the next resolution starts `clamp(least TTL seen, minInterval,
 * interval)` after the previous one ended, so records are never used past
 * their TTL (unless the TTL is below `minInterval`) and are looked at least
 * every `interval`. Negative answers use the SOA's negative TTL (RFC 2308).
 * After a failure the next try comes after `minInterval`, doubling up to
 * `interval`.
 *
 * Failure behaviour: a failed resolution (no resolver answered, SERVFAIL,
 * REFUSED, a target that could not be resolved) keeps the last servers. So
 * does an answer without servers (NXDOMAIN, NODATA, targets without
 * addresses): an empty or missing record set is far more often a mistake or
 * a zone being reloaded than a wish to drop all traffic, and health checks
 * take dead servers out anyway. The one exception is the explicit "service
 * not available" of RFC 2782, an SRV record whose target is ".": it empties
 * this source's servers.
 */
import { getServers } from 'node:dns';
import { isIPv4, isIPv6 } from 'node:net';
import type { Answer } from 'dns-packet';
import type { ServerConfig } from '../config/types.js';
import { systemClock, type Clock } from '../core/clock.js';
import type { HostPort } from '../core/server.js';
import { systemTimers, type TimerHandle, type Timers } from '../core/timers.js';
import { addressKey, serverNameFor } from './diff.js';
import { DnsResolver, normalizeDnsName, RCODE, type DnsResponse, type QueryType } from './dns-client.js';
import { DNS_PORT, parseResolver } from './schema.js';
import { silentLogger, SourceLedger, type DiscoveryLogger, type DiscoverySource, type SourceStatus } from './source.js';
import type { DnsDiscoveryConfig } from './types.js';

/** CNAME hops followed before a lookup gives up. */
const MAX_CNAME_HOPS = 8;
/** SRV targets resolved at the same time. */
const TARGET_CONCURRENCY = 8;

/** What `DnsResolver.query` offers; the lookups need nothing more. */
export interface DnsQuerier {
  query(name: string, type: QueryType, signal?: AbortSignal): Promise<DnsResponse>;
}

export type LookupResult =
  | {
      readonly kind: 'records';
      /** Records of the asked type owned by the end of the CNAME chain. */
      readonly records: readonly Answer[];
      /** Least TTL of the records and of the CNAMEs that led to them, seconds. */
      readonly ttl: number;
      /** Additional section of the response that carried the records. */
      readonly additionals: readonly Answer[];
    }
  | {
      readonly kind: 'empty';
      readonly reason: 'NXDOMAIN' | 'NODATA';
      /** Negative TTL from the SOA (RFC 2308), seconds; undefined without an SOA. */
      readonly ttl: number | undefined;
    };

function minTtl(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}

/** A record's TTL in seconds (0 for the OPT pseudo-record, which has none). */
function ttlOf(record: Answer): number {
  return record.type === 'OPT' ? 0 : (record.ttl ?? 0);
}

function negativeTtl(response: DnsResponse): number | undefined {
  for (const record of response.authorities) {
    if (record.type === 'SOA') return Math.min(record.ttl ?? 0, record.data.minimum ?? record.ttl ?? 0);
  }
  return undefined;
}

/**
 * Records of `type` at `name`, following CNAMEs inside each answer and with
 * further queries when an answer stops at a CNAME (at most 8 hops).
 * Rejects when no resolver answers or the chain is too long or loops.
 */
export async function lookup(querier: DnsQuerier, name: string, type: QueryType, signal?: AbortSignal): Promise<LookupResult> {
  let current = normalizeDnsName(name);
  let chainTtl: number | undefined;
  const seen = new Set<string>([current]);
  for (let query = 0; query <= MAX_CNAME_HOPS; query++) {
    const response = await querier.query(current, type, signal);
    if (response.rcode === RCODE.NXDOMAIN) {
      return { kind: 'empty', reason: 'NXDOMAIN', ttl: minTtl(chainTtl, negativeTtl(response)) };
    }
    let owner = current;
    for (let hop = 0; hop <= MAX_CNAME_HOPS; hop++) {
      const records = response.answers.filter((record) => record.type === type && normalizeDnsName(record.name) === owner);
      if (records.length > 0) {
        const ttl = records.reduce<number | undefined>((least, record) => minTtl(least, ttlOf(record)), chainTtl) ?? 0;
        return { kind: 'records', records, ttl, additionals: response.additionals };
      }
      const alias = response.answers.find((record) => record.type === 'CNAME' && normalizeDnsName(record.name) === owner);
      if (alias === undefined || alias.type !== 'CNAME') break;
      owner = normalizeDnsName(alias.data);
      chainTtl = minTtl(chainTtl, alias.ttl ?? 0);
      if (seen.has(owner)) throw new Error(`${type} ${name}: CNAME loop at ${owner}`);
      seen.add(owner);
    }
    if (owner === current) return { kind: 'empty', reason: 'NODATA', ttl: minTtl(chainTtl, negativeTtl(response)) };
    current = owner;
  }
  throw new Error(`${type} ${name}: more than ${MAX_CNAME_HOPS} CNAMEs`);
}

/** The outcome of one resolution of a source. */
export interface Resolution {
  /** Sorted by name; empty when nothing usable was found. */
  readonly servers: readonly ServerConfig[];
  /** Least TTL of everything used, seconds; undefined when the answers carried none. */
  readonly ttl: number | undefined;
  /**
   * Why `servers` is empty: no such name, no record of the type, records
   * whose targets have no address, or an SRV "service not available" (`.`).
   */
  readonly empty: 'NXDOMAIN' | 'NODATA' | 'no-address' | 'declined' | undefined;
  /** Parts that were skipped (a target without addresses, a record with port 0). */
  readonly notes: readonly string[];
}

function byName(a: ServerConfig, b: ServerConfig): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function addressOf(record: Answer, type: 'A' | 'AAAA'): string | undefined {
  if (record.type !== type) return undefined;
  const valid = type === 'A' ? isIPv4(record.data) : isIPv6(record.data);
  return valid ? record.data : undefined;
}

async function resolveAddressRecords(
  config: Extract<DnsDiscoveryConfig, { recordType: 'A' | 'AAAA' }>,
  querier: DnsQuerier,
  signal: AbortSignal | undefined,
): Promise<Resolution> {
  const result = await lookup(querier, config.name, config.recordType, signal);
  if (result.kind === 'empty') return { servers: [], ttl: result.ttl, empty: result.reason, notes: [] };
  const servers = new Map<string, ServerConfig>();
  for (const record of result.records) {
    const host = addressOf(record, config.recordType);
    if (host === undefined) continue;
    const address = { host, port: config.port };
    servers.set(addressKey(address), { name: serverNameFor(address), address, weight: config.weight, backup: config.backup });
  }
  const list = [...servers.values()].sort(byName);
  return { servers: list, ttl: result.ttl, empty: list.length === 0 ? 'no-address' : undefined, notes: [] };
}

/**
 * Runs `task` over `items` with at most `limit` running at once. Rejects with
 * the first failure; no task starts after it.
 */
async function mapLimit<T, R>(items: readonly T[], limit: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (next < items.length && !failed) {
      const index = next++;
      try {
        results[index] = await task(items[index] as T);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

interface TargetAddresses {
  readonly addresses: readonly string[];
  readonly ttl: number | undefined;
}

async function resolveSrv(
  config: Extract<DnsDiscoveryConfig, { recordType: 'SRV' }>,
  querier: DnsQuerier,
  signal: AbortSignal | undefined,
): Promise<Resolution> {
  const result = await lookup(querier, config.name, 'SRV', signal);
  if (result.kind === 'empty') return { servers: [], ttl: result.ttl, empty: result.reason, notes: [] };
  const notes: string[] = [];
  let declined = false;
  const usable: { priority: number; weight: number; port: number; target: string }[] = [];
  for (const record of result.records) {
    if (record.type !== 'SRV') continue;
    const target = normalizeDnsName(record.data.target);
    if (target === '' || target === '.') {
      declined = true;
      continue;
    }
    if (record.data.port === 0) {
      notes.push(`SRV record for ${target} has port 0`);
      continue;
    }
    usable.push({ priority: record.data.priority ?? 0, weight: record.data.weight ?? 0, port: record.data.port, target });
  }
  if (usable.length === 0) {
    return { servers: [], ttl: result.ttl, empty: declined ? 'declined' : 'no-address', notes };
  }

  const types: ('A' | 'AAAA')[] = config.family === 'ipv4' ? ['A'] : config.family === 'ipv6' ? ['AAAA'] : ['A', 'AAAA'];
  const targets = [...new Set(usable.map((record) => record.target))];
  const resolved = await mapLimit(targets, TARGET_CONCURRENCY, async (target): Promise<TargetAddresses> => {
    const addresses: string[] = [];
    let ttl: number | undefined;
    for (const type of types) {
      // Addresses the server sent along in the additional section save a query.
      let records: readonly Answer[] = result.additionals.filter(
        (record) => record.type === type && normalizeDnsName(record.name) === target,
      );
      if (records.length > 0) {
        for (const record of records) ttl = minTtl(ttl, ttlOf(record));
      } else {
        const answer = await lookup(querier, target, type, signal);
        ttl = minTtl(ttl, answer.ttl);
        if (answer.kind === 'empty') continue;
        records = answer.records;
      }
      for (const record of records) {
        const host = addressOf(record, type);
        if (host !== undefined) addresses.push(host);
      }
    }
    return { addresses, ttl };
  });

  let ttl: number | undefined = result.ttl;
  const addressesOf = new Map<string, readonly string[]>();
  targets.forEach((target, index) => {
    const entry = resolved[index] as TargetAddresses;
    ttl = minTtl(ttl, entry.ttl);
    addressesOf.set(target, entry.addresses);
    if (entry.addresses.length === 0) notes.push(`SRV target ${target} has no ${types.join('/')} record`);
  });

  const lowest = Math.min(...usable.map((record) => record.priority));
  // Lower priority first, then heavier: an address listed twice keeps its most preferred record.
  usable.sort((a, b) => a.priority - b.priority || b.weight - a.weight);
  const servers = new Map<string, ServerConfig>();
  for (const record of usable) {
    for (const host of addressesOf.get(record.target) ?? []) {
      const address: HostPort = { host, port: record.port };
      const key = addressKey(address);
      if (servers.has(key)) continue;
      servers.set(key, {
        name: serverNameFor(address),
        address,
        // SRV weight 0 means "rarely" next to heavier records; a pool weight of 0 would mean never.
        weight: Math.max(1, record.weight),
        backup: config.backup || record.priority > lowest,
      });
    }
  }
  const list = [...servers.values()].sort(byName);
  return { servers: list, ttl, empty: list.length === 0 ? 'no-address' : undefined, notes };
}

/** One resolution of `config` through `querier`. Rejects when the DNS could not be asked. */
export function resolveServers(config: DnsDiscoveryConfig, querier: DnsQuerier, signal?: AbortSignal): Promise<Resolution> {
  return config.recordType === 'SRV' ? resolveSrv(config, querier, signal) : resolveAddressRecords(config, querier, signal);
}

/** Delay after a resolution whose least TTL was `ttlSeconds`: the TTL, kept within [minInterval, interval]. */
export function refreshDelay(ttlSeconds: number | undefined, config: Pick<DnsDiscoveryConfig, 'interval' | 'minInterval'>): number {
  if (ttlSeconds === undefined) return config.interval;
  return Math.min(config.interval, Math.max(config.minInterval, ttlSeconds * 1000));
}

/** Delay after the `failures`-th failure in a row (1, 2, ...): minInterval doubling up to interval. */
export function retryDelay(failures: number, config: Pick<DnsDiscoveryConfig, 'interval' | 'minInterval'>): number {
  const exponent = Math.min(Math.max(failures - 1, 0), 30);
  return Math.min(config.interval, config.minInterval * 2 ** exponent);
}

/** The DNS servers of the system (as Node read them from /etc/resolv.conf); 127.0.0.1:53 when none. */
export function systemResolvers(): readonly HostPort[] {
  const servers: HostPort[] = [];
  for (const entry of getServers()) {
    try {
      servers.push(parseResolver(entry));
    } catch {
      // An entry Node accepted but we cannot parse (a scoped IPv6 address) is skipped.
    }
  }
  return servers.length > 0 ? servers : [{ host: '127.0.0.1', port: DNS_PORT }];
}

export interface DnsSourceDeps {
  /** Pool name, for logs. */
  readonly pool: string;
  readonly logger?: DiscoveryLogger;
  readonly timers?: Timers;
  readonly clock?: Clock;
  /** Resolvers used when the config names none. Default {@link systemResolvers}. */
  readonly systemResolvers?: () => readonly HostPort[];
}

/** A {@link DiscoverySource} that follows DNS records; see the module comment for the rules. */
export class DnsSource implements DiscoverySource {
  private readonly config: DnsDiscoveryConfig;
  private readonly querier: DnsQuerier;
  private readonly logger: DiscoveryLogger;
  private readonly timers: Timers;
  private readonly clock: Clock;
  private readonly pool: string;
  private readonly target: string;
  private onChange: (servers: readonly ServerConfig[]) => void = () => undefined;
  private readonly ledger: SourceLedger;
  private lastNotes = '';
  private timer: TimerHandle | undefined;
  private controller: AbortController | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private started = false;

  constructor(config: DnsDiscoveryConfig, deps: DnsSourceDeps) {
    this.config = config;
    this.pool = deps.pool;
    this.logger = deps.logger ?? silentLogger;
    this.timers = deps.timers ?? systemTimers;
    this.clock = deps.clock ?? systemClock;
    this.target = `${config.recordType} ${config.name}`;
    const configured = config.resolvers.length > 0 ? config.resolvers : (deps.systemResolvers ?? systemResolvers)();
    const servers = configured.length > 0 ? configured : [{ host: '127.0.0.1', port: DNS_PORT }];
    this.querier = new DnsResolver(servers, { timeout: config.timeout });
    this.ledger = new SourceLedger('dns', this.target, this.logger, { pool: this.pool, source: 'dns', target: this.target });
  }

  start(onChange: (servers: readonly ServerConfig[]) => void): void {
    if (this.started) throw new Error(`dns discovery ${this.target} was already started`);
    this.started = true;
    this.onChange = onChange;
    this.run();
  }

  firstAttempt(): Promise<void> {
    return this.ledger.firstAttempt();
  }

  status(): SourceStatus {
    return this.ledger.status();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    this.controller?.abort();
    await this.running;
    this.ledger.attemptEnded();
  }

  private run(): void {
    this.timer = undefined;
    if (this.stopped) return;
    const controller = new AbortController();
    this.controller = controller;
    this.running = this.attempt(controller.signal);
  }

  private async attempt(signal: AbortSignal): Promise<void> {
    let delay: number;
    try {
      const resolution = await resolveServers(this.config, this.querier, signal);
      if (this.stopped) return;
      delay = this.accept(resolution);
    } catch (error) {
      if (this.stopped) return;
      delay = this.fail(error instanceof Error ? error.message : String(error));
    }
    this.ledger.attemptEnded();
    this.timer = this.timers.setTimeout(() => this.run(), delay);
  }

  /** Uses a resolution (or explains why not); returns the delay to the next one. */
  private accept(resolution: Resolution): number {
    const notes = resolution.notes.join('; ');
    if (notes !== '' && notes !== this.lastNotes) this.logger.warn({ ...this.ledger.fields, notes: resolution.notes }, 'discovery: parts of the answer were skipped');
    this.lastNotes = notes;
    if (resolution.servers.length === 0 && resolution.empty !== 'declined') {
      // An answer without servers is not acted on (see the module comment).
      const what = resolution.empty === 'no-address' ? 'no usable address' : (resolution.empty ?? 'no servers');
      const kept = this.ledger.current.length;
      const error = kept > 0 ? `${what}: keeping the last ${kept} servers` : what;
      this.ledger.declined(this.clock.wallNow(), error, { fields: { reason: resolution.empty }, message: `discovery: ${error}` });
      return refreshDelay(resolution.ttl, this.config);
    }
    if (this.ledger.succeeded(this.clock.wallNow(), resolution.servers, 'discovery: resolving again')) this.onChange(resolution.servers);
    return refreshDelay(resolution.ttl, this.config);
  }

  private fail(message: string): number {
    const failures = this.ledger.consecutiveFailures + 1;
    this.ledger.failed(message, { fields: { error: message, failures }, message: 'discovery: resolution failed, keeping the last servers' });
    return retryDelay(failures, this.config);
  }
}
