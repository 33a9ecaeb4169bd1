/**
 * The authoritative DNS server for the GSLB zone, over UDP and TCP on one
 * address and port.
 *
 * Contract (what `DnsResponder.respond` guarantees for any input bytes):
 * - never throws; input shorter than a header, or a response (QR set), is
 *   dropped (null);
 * - opcode other than QUERY → NOTIMP; undecodable body, not exactly one
 *   question, or several OPT records → FORMERR;
 * - EDNS(0) is answered with an OPT record; an EDNS version above 0 → BADVERS;
 * - a name outside the zone, a class other than IN, or a zone transfer →
 *   REFUSED (no recursion is ever offered: RA is never set);
 * - inside the zone: SOA and NS at the apex, the configured records by
 *   policy with the configured TTL, NODATA (NOERROR + SOA) for a name that
 *   exists without that type, NXDOMAIN + SOA otherwise; AA set;
 * - ANY is answered minimally (RFC 8482): one RRset of the name, or its SOA
 *   at the apex;
 * - over UDP an answer larger than the client's buffer (512 bytes without
 *   EDNS, its advertised size capped by ours with EDNS) is replaced by an
 *   empty answer with TC set, so the client retries over TCP.
 *
 * Cost: one decode and one encode of small messages per query (dns-packet);
 * O(1) lookups in maps built when answers change.
 */
import dgram from 'node:dgram';
import net, { isIP } from 'node:net';
import dnsPacket from 'dns-packet';
import type { Answer, Packet, Question, OptAnswer } from 'dns-packet';
import type { HostPort } from '../core/server.js';
import type { Clock } from '../core/clock.js';
import type { Random } from '../core/random.js';
import { normalizeName, pickWeighted, type RecordAnswer, type TargetAnswer } from './dns-answers.js';

const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
/** BADVERS (16) is an extended rcode: its upper 8 bits travel in the OPT record. */
const BADVERS_EXTENDED = 1;
const FLAG_AA = 1 << 10;
const FLAG_TC = 1 << 9;
const FLAG_RD = 1 << 8;
const OPCODE_QUERY = 0;
const SOA_TIMERS = { refresh: 3600, retry: 600, expire: 604800 } as const;
/** TTL of the SOA and NS records and the name servers' addresses, seconds. */
const INFRASTRUCTURE_TTL = 3600;
const MAX_LABEL = 63;
const MAX_NAME = 253;

export interface NameServer {
  /** Host name, absolute, without trailing dot. */
  readonly name: string;
  /** Address served for `name` when it lies inside the zone (glue). */
  readonly address: string | undefined;
}

export interface DnsResponderOptions {
  readonly zone: string;
  /** TTL of the GSLB records, ms (sent in whole seconds). */
  readonly ttl: number;
  readonly nameservers: readonly NameServer[];
  /** Responsible mailbox as a domain name (`hostmaster.example.com`). */
  readonly hostmaster: string;
  /** EDNS UDP payload size this server advertises and accepts at most. */
  readonly udpPayloadSize: number;
  readonly random: Random;
}

export type DnsRcodeName = 'NOERROR' | 'FORMERR' | 'SERVFAIL' | 'NXDOMAIN' | 'NOTIMP' | 'REFUSED' | 'BADVERS';

export interface DnsCounters {
  queries: number;
  /** Input dropped: shorter than a header, a response, or over the rate limit. */
  dropped: number;
  rateLimited: number;
  truncated: number;
  tcpConnections: number;
  responses: Record<DnsRcodeName, number>;
}

interface NameNode {
  /** RRsets by type; one entry per configured record. */
  readonly records: Map<string, RecordAnswer>;
}

/** The zone's content and the query → response logic, without sockets. */
export class DnsResponder {
  readonly counters: DnsCounters = {
    queries: 0,
    dropped: 0,
    rateLimited: 0,
    truncated: 0,
    tcpConnections: 0,
    responses: { NOERROR: 0, FORMERR: 0, SERVFAIL: 0, NXDOMAIN: 0, NOTIMP: 0, REFUSED: 0, BADVERS: 0 },
  };
  private readonly zone: string;
  private readonly ttlSeconds: number;
  private readonly options: DnsResponderOptions;
  /** Every name that exists in the zone (records, name servers, apex, empty non-terminals). */
  private names = new Map<string, NameNode>();
  private soa: Answer;
  private negativeSoa: Answer;
  private readonly nsAnswers: Answer[];
  private readonly glue = new Map<string, Answer>();

  constructor(options: DnsResponderOptions) {
    this.options = options;
    this.zone = normalizeName(options.zone);
    this.ttlSeconds = Math.max(0, Math.round(options.ttl / 1000));
    this.nsAnswers = options.nameservers.map((ns) => ({ type: 'NS', name: this.zone, ttl: INFRASTRUCTURE_TTL, data: ns.name }));
    for (const ns of options.nameservers) {
      const name = normalizeName(ns.name);
      if (ns.address === undefined || !this.inZone(name)) continue;
      this.glue.set(name, { type: isIP(ns.address) === 6 ? 'AAAA' : 'A', name, ttl: INFRASTRUCTURE_TTL, data: ns.address });
    }
    this.soa = this.buildSoa(0, INFRASTRUCTURE_TTL);
    this.negativeSoa = this.buildSoa(0, this.ttlSeconds);
    this.setAnswers([], 0);
  }

  /** Replaces the served records. O(records). */
  setAnswers(answers: readonly RecordAnswer[], serial: number): void {
    const names = new Map<string, NameNode>();
    const ensure = (name: string): NameNode => {
      let node = names.get(name);
      if (node === undefined) {
        node = { records: new Map() };
        names.set(name, node);
      }
      return node;
    };
    ensure(this.zone);
    for (const name of this.glue.keys()) this.addWithAncestors(name, ensure);
    for (const answer of answers) {
      this.addWithAncestors(answer.fqdn, ensure);
      ensure(answer.fqdn).records.set(answer.type, answer);
    }
    this.names = names;
    this.soa = this.buildSoa(serial, INFRASTRUCTURE_TTL);
    this.negativeSoa = this.buildSoa(serial, this.ttlSeconds);
  }

  /**
   * Answers one DNS message received over UDP or TCP. Returns the response
   * bytes, or null to send nothing. Never throws.
   */
  respond(query: Buffer, overTcp: boolean): Buffer | null {
    this.counters.queries++;
    try {
      return this.answer(query, overTcp);
    } catch {
      // A bug must cost one query, never the listener.
      return query.length >= 12 ? this.headerOnly(query.readUInt16BE(0), 0, 0, RCODE.SERVFAIL, 'SERVFAIL') : null;
    }
  }

  private answer(query: Buffer, overTcp: boolean): Buffer | null {
    if (query.length < 12 || (query[2] ?? 0) & 0x80) {
      this.counters.dropped++;
      return null;
    }
    const id = query.readUInt16BE(0);
    const flags = query.readUInt16BE(2);
    const rd = flags & FLAG_RD;
    const opcode = (flags >> 11) & 0xf;
    if (opcode !== OPCODE_QUERY) return this.headerOnly(id, flags & 0x7800, rd, RCODE.NOTIMP, 'NOTIMP');

    let decoded: ReturnType<typeof dnsPacket.decode>;
    try {
      decoded = dnsPacket.decode(query);
    } catch {
      return this.headerOnly(id, 0, rd, RCODE.FORMERR, 'FORMERR');
    }
    const questions = decoded.questions ?? [];
    const question = questions[0];
    let opt: OptAnswer | undefined;
    let optCount = 0;
    for (const record of decoded.additionals ?? []) {
      if (record.type === 'OPT') {
        opt = record;
        optCount++;
      }
    }
    if (questions.length !== 1 || question === undefined || optCount > 1) {
      return this.headerOnly(id, 0, rd, RCODE.FORMERR, 'FORMERR');
    }
    const name = normalizeName(question.name);
    // A name outside host-name syntax, or a class dns-packet cannot re-encode, is never ours: refuse without echoing it.
    if (!validName(question.name) || question.class === undefined || question.class.startsWith('UNKNOWN')) {
      return this.headerOnly(id, 0, rd, RCODE.REFUSED, 'REFUSED');
    }

    const responseOpt: OptAnswer[] =
      opt === undefined
        ? []
        : [{ type: 'OPT', name: '.', udpPayloadSize: this.options.udpPayloadSize, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }];
    const packet: Packet = {
      id,
      type: 'response',
      flags: rd,
      questions: [question],
      answers: [],
      authorities: [],
      additionals: responseOpt,
    };
    if (opt !== undefined && opt.ednsVersion > 0) {
      const badvers = responseOpt[0];
      if (badvers !== undefined) responseOpt[0] = { ...badvers, extendedRcode: BADVERS_EXTENDED };
      return this.finish(packet, 'BADVERS', overTcp, 512);
    }
    const maxUdp = opt === undefined ? 512 : Math.min(Math.max(opt.udpPayloadSize, 512), this.options.udpPayloadSize);

    if (question.class !== 'IN' || !this.inZone(name) || question.type === 'AXFR' || question.type === 'IXFR') {
      packet.flags = rd | RCODE.REFUSED;
      return this.finish(packet, 'REFUSED', overTcp, maxUdp);
    }
    packet.flags = rd | FLAG_AA;
    const rcode = this.lookup(name, question, packet);
    packet.flags = rd | FLAG_AA | RCODE[rcode];
    return this.finish(packet, rcode, overTcp, maxUdp);
  }

  private lookup(name: string, question: Question, packet: Packet): 'NOERROR' | 'NXDOMAIN' {
    const answers = packet.answers ?? [];
    const node = this.names.get(name);
    if (node === undefined) {
      packet.authorities = [this.negativeSoa];
      return 'NXDOMAIN';
    }
    const apex = name === this.zone;
    const type: string = question.type;
    const cname = node.records.get('CNAME');
    if (cname !== undefined && type !== 'CNAME') {
      const target = this.valueOf(cname);
      answers.push(this.rr(question.name, cname.type, target.address));
      // Follow the alias when it stays inside this zone; otherwise the resolver does.
      const inner = type === 'ANY' ? undefined : this.names.get(target.address)?.records.get(type);
      if (inner !== undefined) this.addRecord(answers, target.address, inner);
      return 'NOERROR';
    }
    if (type === 'ANY') {
      const first = node.records.values().next();
      if (!first.done) this.addRecord(answers, question.name, first.value);
      else if (apex) answers.push({ ...this.soa, name: question.name });
      else {
        const glue = this.glue.get(name);
        if (glue !== undefined) answers.push({ ...glue, name: question.name } as Answer);
      }
      if (answers.length > 0) return 'NOERROR';
    } else {
      const record = node.records.get(type);
      if (record !== undefined) {
        this.addRecord(answers, question.name, record);
        return 'NOERROR';
      }
      if (apex && type === 'SOA') {
        answers.push({ ...this.soa, name: question.name });
        return 'NOERROR';
      }
      if (apex && type === 'NS') {
        for (const ns of this.nsAnswers) answers.push({ ...ns, name: question.name } as Answer);
        const additionals = packet.additionals ?? [];
        for (const glue of this.glue.values()) additionals.unshift(glue);
        packet.additionals = additionals;
        return 'NOERROR';
      }
      const glue = this.glue.get(name);
      if (glue !== undefined && glue.type === type) {
        answers.push({ ...glue, name: question.name } as Answer);
        return 'NOERROR';
      }
    }
    packet.authorities = [this.negativeSoa];
    return 'NOERROR';
  }

  private addRecord(answers: Answer[], owner: string, record: RecordAnswer): void {
    if (record.policy === 'weighted' || record.type === 'CNAME') {
      answers.push(this.rr(owner, record.type, this.valueOf(record).address));
      return;
    }
    for (const target of record.targets) answers.push(this.rr(owner, record.type, target.address));
  }

  private valueOf(record: RecordAnswer): TargetAnswer {
    const first = record.targets[0];
    if (record.policy !== 'weighted' || record.targets.length < 2 || first === undefined) {
      if (first === undefined) throw new RangeError(`record ${record.fqdn} has no targets`);
      return first;
    }
    return pickWeighted(record.targets, this.options.random);
  }

  private rr(owner: string, type: RecordAnswer['type'], data: string): Answer {
    return { type, name: owner, ttl: this.ttlSeconds, data };
  }

  /** Encodes; over UDP replaces an oversized answer by an empty one with TC set. */
  private finish(packet: Packet, rcode: DnsRcodeName, overTcp: boolean, maxUdp: number): Buffer | null {
    try {
      let bytes = dnsPacket.encode(packet);
      if (bytes.length > (overTcp ? 65535 : maxUdp)) {
        this.counters.truncated++;
        bytes = dnsPacket.encode({ ...packet, flags: (packet.flags ?? 0) | FLAG_TC, answers: [], authorities: [], additionals: packet.additionals?.filter((rr) => rr.type === 'OPT') ?? [] });
      }
      this.counters.responses[rcode]++;
      return bytes;
    } catch {
      // Only a question that cannot be re-encoded gets here; answer without it.
      const id = packet.id ?? 0;
      return this.headerOnly(id, 0, (packet.flags ?? 0) & FLAG_RD, RCODE.FORMERR, 'FORMERR');
    }
  }

  private headerOnly(id: number, opcodeBits: number, rd: number, rcode: number, name: DnsRcodeName): Buffer {
    this.counters.responses[name]++;
    const buf = Buffer.alloc(12);
    buf.writeUInt16BE(id, 0);
    buf.writeUInt16BE(0x8000 | opcodeBits | rd | rcode, 2);
    return buf;
  }

  private inZone(name: string): boolean {
    return name === this.zone || (name.length > this.zone.length && name.endsWith(this.zone) && name.charCodeAt(name.length - this.zone.length - 1) === 46);
  }

  /** Registers `name` and every ancestor up to the apex, so empty non-terminals answer NODATA. */
  private addWithAncestors(name: string, ensure: (name: string) => NameNode): void {
    let current = name;
    while (this.inZone(current)) {
      ensure(current);
      if (current === this.zone) return;
      current = current.slice(current.indexOf('.') + 1);
    }
  }

  private buildSoa(serial: number, ttl: number): Answer {
    const primary = this.options.nameservers[0]?.name ?? `ns1.${this.zone}`;
    return {
      type: 'SOA',
      name: this.zone,
      ttl,
      data: {
        mname: primary,
        rname: this.options.hostmaster,
        serial: serial >>> 0,
        ...SOA_TIMERS,
        minimum: this.ttlSeconds,
      },
    };
  }
}

/**
 * Host-name syntax check of a decoded name: labels of 1-63 printable ASCII
 * characters without spaces, 253 characters at most. Names outside this
 * syntax are never in a GSLB zone, and echoing them is not worth the risk.
 */
function validName(name: string): boolean {
  if (name === '.' || name === '') return true;
  if (name.length > MAX_NAME + 1) return false;
  let labelLength = 0;
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i);
    if (code === 46) {
      if (labelLength === 0 && i !== name.length - 1) return false;
      labelLength = 0;
      continue;
    }
    if (code <= 32 || code >= 127) return false;
    if (++labelLength > MAX_LABEL) return false;
  }
  return true;
}

export interface RateLimit {
  /** Sustained queries per second allowed from one client address. */
  readonly perSecond: number;
  /** Queries allowed in a burst above the sustained rate. */
  readonly burst: number;
}

/**
 * A token bucket per client address (UDP only: TCP clients have proven their
 * address). Idle buckets are swept every 10 s. O(1) per query.
 */
export class ClientRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private lastSweep: number;

  constructor(
    private readonly limit: RateLimit,
    private readonly clock: Clock,
  ) {
    this.lastSweep = clock.now();
  }

  allow(client: string): boolean {
    const now = this.clock.now();
    if (now - this.lastSweep > 10_000) this.sweep(now);
    let bucket = this.buckets.get(client);
    if (bucket === undefined) {
      bucket = { tokens: this.limit.burst, at: now };
      this.buckets.set(client, bucket);
    } else {
      bucket.tokens = Math.min(this.limit.burst, bucket.tokens + ((now - bucket.at) * this.limit.perSecond) / 1000);
      bucket.at = now;
    }
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [client, bucket] of this.buckets) {
      if (bucket.tokens + ((now - bucket.at) * this.limit.perSecond) / 1000 >= this.limit.burst) this.buckets.delete(client);
    }
  }
}

export interface DnsServerOptions extends DnsResponderOptions {
  readonly listen: HostPort;
  readonly clock: Clock;
  readonly rateLimit: RateLimit | undefined;
  /** A TCP connection idle this long is closed, ms. */
  readonly tcpIdleTimeout: number;
  readonly maxTcpConnections: number;
  readonly logger?: { warn(message: string): void };
}

const MAX_PORT_ATTEMPTS = 20;
/** Unsent response bytes tolerated per TCP connection. */
const MAX_TCP_BACKLOG = 1 << 20;

/** UDP and TCP listeners on the same address and port around a `DnsResponder`. */
export class DnsServer {
  readonly responder: DnsResponder;
  private udp: dgram.Socket | undefined;
  private tcp: net.Server | undefined;
  private readonly connections = new Set<net.Socket>();
  private readonly limiter: ClientRateLimiter | undefined;

  constructor(private readonly options: DnsServerOptions) {
    this.responder = new DnsResponder(options);
    this.limiter = options.rateLimit === undefined ? undefined : new ClientRateLimiter(options.rateLimit, options.clock);
  }

  /** The bound port (UDP and TCP share it), 0 before `listen`. */
  get port(): number {
    return this.udp?.address().port ?? 0;
  }

  setAnswers(answers: readonly RecordAnswer[], serial: number): void {
    this.responder.setAnswers(answers, serial);
  }

  /**
   * Binds UDP, then TCP on the same port. With port 0 a free port is chosen
   * for both (retrying when TCP finds the UDP port taken). Resolves with the port.
   */
  async listen(): Promise<number> {
    const { host, port } = this.options.listen;
    for (let attempt = 0; ; attempt++) {
      const udp = await this.bindUdp(host, port);
      const bound = udp.address().port;
      try {
        this.tcp = await this.bindTcp(host, bound);
        this.udp = udp;
        return bound;
      } catch (error) {
        await new Promise<void>((resolve) => udp.close(() => resolve()));
        const code = (error as NodeJS.ErrnoException).code;
        if (port !== 0 || code !== 'EADDRINUSE' || attempt >= MAX_PORT_ATTEMPTS) throw error;
      }
    }
  }

  async close(): Promise<void> {
    const udp = this.udp;
    const tcp = this.tcp;
    this.udp = undefined;
    this.tcp = undefined;
    for (const socket of this.connections) socket.destroy();
    this.connections.clear();
    await Promise.all([
      udp === undefined ? undefined : new Promise<void>((resolve) => udp.close(() => resolve())),
      tcp === undefined ? undefined : new Promise<void>((resolve) => tcp.close(() => resolve())),
    ]);
  }

  private bindUdp(host: string, port: number): Promise<dgram.Socket> {
    const socket = dgram.createSocket({ type: isIP(host) === 6 ? 'udp6' : 'udp4' });
    socket.on('message', (message, remote) => {
      if (this.limiter !== undefined && !this.limiter.allow(remote.address)) {
        this.responder.counters.rateLimited++;
        this.responder.counters.dropped++;
        return;
      }
      const response = this.responder.respond(message, false);
      if (response !== null) socket.send(response, remote.port, remote.address);
    });
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, host, () => {
        socket.off('error', reject);
        socket.on('error', (error) => this.options.logger?.warn(`gslb dns udp error: ${error.message}`));
        resolve(socket);
      });
    });
  }

  private bindTcp(host: string, port: number): Promise<net.Server> {
    const server = net.createServer((socket) => this.serveTcp(socket));
    server.maxConnections = this.options.maxTcpConnections;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port, exclusive: true }, () => {
        server.off('error', reject);
        server.on('error', (error) => this.options.logger?.warn(`gslb dns tcp error: ${error.message}`));
        resolve(server);
      });
    });
  }

  /** RFC 7766 framing: 2-byte length prefix; several queries per connection, answered in order. */
  private serveTcp(socket: net.Socket): void {
    this.responder.counters.tcpConnections++;
    this.connections.add(socket);
    socket.setNoDelay(true);
    socket.setTimeout(this.options.tcpIdleTimeout, () => socket.destroy());
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.connections.delete(socket));
    let pending: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= 2) {
        const length = pending.readUInt16BE(0);
        if (pending.length < 2 + length) break;
        const message = pending.subarray(2, 2 + length);
        pending = pending.subarray(2 + length);
        const response = this.responder.respond(message, true);
        if (response === null) {
          socket.destroy();
          return;
        }
        const framed = Buffer.allocUnsafe(2 + response.length);
        framed.writeUInt16BE(response.length, 0);
        response.copy(framed, 2);
        socket.write(framed);
        // A client that sends queries but never reads its answers would grow this buffer without bound.
        if (socket.writableLength > MAX_TCP_BACKLOG) {
          socket.destroy();
          return;
        }
      }
    });
  }
}
