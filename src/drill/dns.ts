/**
 * DNS for site drills: a small UDP stub client (dns-packet on the wire), a
 * watcher that asks every DNS server for the drill's name at a fixed interval
 * and keeps each change of answer, and a TTL-honouring resolver the load
 * generator uses to find where to send requests, as a user's resolver would.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import dnsPacket from 'dns-packet';
import { formatHostPort, type HostPort } from '../core/server.js';

export interface DnsAnswer {
  /** Addresses in the answer section (A or AAAA), sorted. Empty for NXDOMAIN or NODATA. */
  readonly addresses: readonly string[];
  /** Smallest TTL of those records, ms. */
  readonly ttlMs: number;
  readonly rcode: string;
}

interface Pending {
  readonly server: HostPort;
  readonly name: string;
  readonly resolve: (answer: DnsAnswer | undefined) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * Sends queries from one UDP socket per address family and matches replies
 * by id, source address and question. At most 65 536 queries may be pending.
 */
export class DnsClient {
  private readonly sockets = new Map<4 | 6, Socket>();
  private readonly pending = new Map<number, Pending>();
  private nextId = Math.floor(Math.random() * 0x10000);
  private closed = false;

  /** Asks `server` for `name`; resolves with the answer, or undefined after `timeoutMs` without a valid reply. */
  query(server: HostPort, name: string, type: 'A' | 'AAAA', timeoutMs: number): Promise<DnsAnswer | undefined> {
    if (this.closed) return Promise.resolve(undefined);
    const id = this.allocateId();
    if (id === undefined) return Promise.resolve(undefined);
    const message = dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name, class: 'IN' }] });
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve(undefined);
      }, timeoutMs);
      this.pending.set(id, { server, name: name.toLowerCase().replace(/\.$/, ''), resolve, timer });
      this.socket(isIPv6(server.host) ? 6 : 4).send(message, server.port, server.host, (error) => {
        if (error !== null && error !== undefined) this.settle(id, undefined);
      });
    });
  }

  close(): void {
    this.closed = true;
    for (const id of [...this.pending.keys()]) this.settle(id, undefined);
    for (const socket of this.sockets.values()) socket.close();
    this.sockets.clear();
  }

  private allocateId(): number | undefined {
    for (let tries = 0; tries < 0x10000; tries++) {
      const id = this.nextId;
      this.nextId = (this.nextId + 1) & 0xffff;
      if (!this.pending.has(id)) return id;
    }
    return undefined;
  }

  private socket(family: 4 | 6): Socket {
    let socket = this.sockets.get(family);
    if (socket === undefined) {
      socket = createSocket(family === 4 ? 'udp4' : 'udp6');
      socket.on('message', (message, remote) => this.onMessage(message, remote.address, remote.port));
      socket.on('error', () => undefined);
      socket.unref();
      this.sockets.set(family, socket);
    }
    return socket;
  }

  private onMessage(message: Buffer, address: string, port: number): void {
    let packet: dnsPacket.DecodedPacket;
    try {
      packet = dnsPacket.decode(message);
    } catch {
      return;
    }
    const pending = packet.id === undefined || !packet.flag_qr ? undefined : this.pending.get(packet.id);
    if (pending === undefined || pending.server.port !== port || !sameHost(pending.server.host, address)) return;
    const question = packet.questions?.[0];
    if (question === undefined || question.name.toLowerCase().replace(/\.$/, '') !== pending.name) return;
    const addresses: string[] = [];
    let ttl = Number.POSITIVE_INFINITY;
    for (const answer of packet.answers ?? []) {
      if ((answer.type === 'A' || answer.type === 'AAAA') && typeof answer.data === 'string') {
        addresses.push(answer.data);
        ttl = Math.min(ttl, answer.ttl ?? 0);
      }
    }
    addresses.sort();
    this.settle(packet.id as number, { addresses, ttlMs: Number.isFinite(ttl) ? ttl * 1000 : 0, rcode: rcodeName((packet.flags ?? 0) & 0xf) });
  }

  private settle(id: number, answer: DnsAnswer | undefined): void {
    const pending = this.pending.get(id);
    if (pending === undefined) return;
    this.pending.delete(id);
    clearTimeout(pending.timer);
    pending.resolve(answer);
  }
}

const RCODES: Readonly<Record<number, string>> = { 0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED' };

function rcodeName(code: number): string {
  return RCODES[code] ?? `RCODE${code}`;
}

function sameHost(expected: string, actual: string): boolean {
  return expected === actual || actual === `::ffff:${expected}`;
}

/** One change of what a DNS server answers. `answer` null: the server did not answer. */
export interface DnsObservation {
  /** ms from the start of the load. */
  readonly atMs: number;
  readonly server: string;
  readonly answer: readonly string[] | null;
}

/**
 * Asks every server every `intervalMs` and records the first answer of each
 * server and every change after it. A server still busy with the previous
 * query is skipped for one round. Cost per round: one query per server.
 */
export class DnsWatcher {
  private readonly last = new Map<string, string>();
  private readonly busy = new Set<string>();
  private readonly list: DnsObservation[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly client: DnsClient,
    private readonly servers: readonly HostPort[],
    private readonly name: string,
    private readonly type: 'A' | 'AAAA',
    private readonly intervalMs: number,
    /** ms from the start of the load. */
    private readonly now: () => number,
  ) {}

  get observations(): readonly DnsObservation[] {
    return this.list;
  }

  /** Queries once at once and then every interval until `stop`. */
  start(): void {
    this.round();
    this.timer = setInterval(() => this.round(), this.intervalMs);
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private round(): void {
    const timeout = Math.max(250, Math.min(1000, this.intervalMs * 3));
    for (const server of this.servers) {
      const key = formatHostPort(server);
      if (this.busy.has(key)) continue;
      this.busy.add(key);
      void this.client.query(server, this.name, this.type, timeout).then((answer) => {
        this.busy.delete(key);
        if (this.timer === undefined) return;
        const value = answer === undefined ? null : answer.addresses;
        const text = value === null ? '-' : value.join(',');
        if (this.last.get(key) === text) return;
        this.last.set(key, text);
        this.list.push({ atMs: this.now(), server: key, answer: value });
      });
    }
  }
}

/** Lower bound on the time an answer is kept, so a TTL of 0 does not turn into a query per request. */
const MIN_TTL_MS = 100;

/**
 * Where a user's resolver would send requests now: the first address of the
 * answer of the first server that answers, kept for the answer's TTL, then
 * asked again (in the background; until the new answer arrives the old one
 * is used, and if no server answers the old one stays).
 */
export class DnsResolver {
  private address: string | undefined;
  private expiresAt = 0;
  private refreshing = false;
  private closed = false;

  constructor(
    private readonly client: DnsClient,
    private readonly servers: readonly HostPort[],
    private readonly name: string,
    private readonly type: 'A' | 'AAAA',
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Resolves once before the load starts; false when no server gave an address. */
  async prime(): Promise<boolean> {
    await this.refresh();
    return this.address !== undefined;
  }

  /** The address to use now (starts a refresh when the TTL ran out). O(1). */
  current(): string | undefined {
    if (!this.refreshing && !this.closed && this.now() >= this.expiresAt) void this.refresh();
    return this.address;
  }

  close(): void {
    this.closed = true;
  }

  private async refresh(): Promise<void> {
    this.refreshing = true;
    try {
      for (const server of this.servers) {
        const answer = await this.client.query(server, this.name, this.type, 500);
        if (answer === undefined || answer.addresses.length === 0) continue;
        this.address = answer.addresses[0];
        this.expiresAt = this.now() + Math.max(MIN_TTL_MS, answer.ttlMs);
        return;
      }
      this.expiresAt = this.now() + MIN_TTL_MS;
    } finally {
      this.refreshing = false;
    }
  }
}
