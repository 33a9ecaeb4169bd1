/**
 * A small authoritative DNS server for the discovery tests, over UDP and TCP
 * on one port of 127.0.0.1. The test sets its records and TTLs at run time,
 * can make it silent, answer SERVFAIL, or truncate every UDP answer, and
 * reads the log of queries it received.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import dnsPacket from 'dns-packet';
import type { Answer, Packet, SrvData } from 'dns-packet';

export type RecordData = string | SrvData;

export interface TestRecord {
  readonly type: 'A' | 'AAAA' | 'SRV' | 'CNAME';
  readonly ttl: number;
  readonly data: RecordData;
}

export interface LoggedQuery {
  readonly name: string;
  readonly type: string;
  readonly transport: 'udp' | 'tcp';
  /** Date.now() when it arrived. */
  readonly at: number;
}

export type ServerMode = 'answer' | 'silent' | 'servfail' | 'refused';

export class TestDnsServer {
  readonly port: number;
  readonly queries: LoggedQuery[] = [];
  mode: ServerMode = 'answer';
  /** Answer every UDP query with an empty truncated response (TC), so clients retry over TCP. */
  truncateUdp = false;
  /** Put the addresses of SRV targets in the additional section. */
  glue = true;
  private readonly records = new Map<string, TestRecord[]>();
  private readonly tcpSockets = new Set<net.Socket>();

  private constructor(
    private readonly udp: dgram.Socket,
    private readonly tcp: net.Server,
    readonly zone: string,
  ) {
    this.port = (udp.address() as AddressInfo).port;
    udp.on('message', (message, rinfo) => {
      const response = this.respond(message, 'udp');
      if (response !== undefined) udp.send(response, rinfo.port, rinfo.address);
    });
    tcp.on('connection', (socket) => this.serveTcp(socket));
  }

  /**
   * Starts on 127.0.0.1 with a free port shared by UDP and TCP: TCP takes a
   * free port first (TCP ports are the busier space), UDP then binds the
   * same number, and both are tried again elsewhere when UDP finds it taken.
   */
  static async start(zone = 'example.com'): Promise<TestDnsServer> {
    for (let attempt = 0; ; attempt++) {
      const tcp = net.createServer();
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(0, '127.0.0.1', () => resolve());
      });
      const port = (tcp.address() as AddressInfo).port;
      const udp = dgram.createSocket('udp4');
      try {
        await new Promise<void>((resolve, reject) => {
          udp.once('error', reject);
          udp.bind(port, '127.0.0.1', () => resolve());
        });
        return new TestDnsServer(udp, tcp, zone);
      } catch (error) {
        udp.close();
        await new Promise<void>((resolve) => tcp.close(() => resolve()));
        if (attempt >= 20) throw error;
      }
    }
  }

  /** Replaces the records of one type at `name`; an empty list deletes them. */
  set(name: string, type: TestRecord['type'], ttl: number, data: readonly RecordData[]): void {
    const key = name.toLowerCase();
    const others = (this.records.get(key) ?? []).filter((record) => record.type !== type);
    const next = [...others, ...data.map((value) => ({ type, ttl, data: value }))];
    if (next.length === 0) this.records.delete(key);
    else this.records.set(key, next);
  }

  /** Deletes every record at `name`. */
  remove(name: string): void {
    this.records.delete(name.toLowerCase());
  }

  /** Queries received for `name` and `type` since `since` (Date.now() ms). */
  queriesFor(name: string, type: string, since = 0): LoggedQuery[] {
    return this.queries.filter((query) => query.name === name.toLowerCase() && query.type === type && query.at >= since);
  }

  async close(): Promise<void> {
    for (const socket of this.tcpSockets) socket.destroy();
    await Promise.all([
      new Promise<void>((resolve) => this.udp.close(() => resolve())),
      new Promise<void>((resolve) => this.tcp.close(() => resolve())),
    ]);
  }

  private serveTcp(socket: net.Socket): void {
    this.tcpSockets.add(socket);
    socket.on('close', () => this.tcpSockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2) {
        const length = buffered.readUInt16BE(0);
        if (buffered.length < 2 + length) return;
        const response = this.respond(buffered.subarray(2, 2 + length), 'tcp');
        buffered = buffered.subarray(2 + length);
        if (response === undefined) continue;
        const framed = Buffer.alloc(2 + response.length);
        framed.writeUInt16BE(response.length, 0);
        response.copy(framed, 2);
        socket.write(framed);
      }
    });
  }

  private respond(message: Buffer, transport: 'udp' | 'tcp'): Buffer | undefined {
    let query: ReturnType<typeof dnsPacket.decode>;
    try {
      query = dnsPacket.decode(message);
    } catch {
      return undefined;
    }
    const question = query.questions?.[0];
    if (question === undefined) return undefined;
    const name = question.name.toLowerCase();
    this.queries.push({ name, type: question.type, transport, at: Date.now() });
    if (this.mode === 'silent') return undefined;
    const base: Packet = { id: query.id ?? 0, type: 'response', flags: 1 << 10, questions: [question], answers: [], authorities: [], additionals: [] };
    if (this.mode === 'servfail') return dnsPacket.encode({ ...base, flags: (base.flags ?? 0) | 2 });
    if (this.mode === 'refused') return dnsPacket.encode({ ...base, flags: (base.flags ?? 0) | 5 });
    if (transport === 'udp' && this.truncateUdp) return dnsPacket.encode({ ...base, flags: (base.flags ?? 0) | (1 << 9) });

    const answers: Answer[] = [];
    const additionals: Answer[] = [];
    let owner = name;
    // Follow CNAMEs within the zone, as an authoritative server does.
    for (let hop = 0; hop < 10; hop++) {
      const here = this.records.get(owner) ?? [];
      const matching = here.filter((record) => record.type === question.type);
      if (matching.length > 0) {
        for (const record of matching) answers.push(this.toAnswer(owner, record));
        break;
      }
      const alias = here.find((record) => record.type === 'CNAME');
      if (alias === undefined) break;
      answers.push(this.toAnswer(owner, alias));
      owner = String(alias.data).toLowerCase();
      // Out-of-zone targets are left to the client, as an authoritative server leaves them.
      if (!owner.endsWith(`.${this.zone}`) && owner !== this.zone) break;
    }
    if (question.type === 'SRV' && this.glue) {
      for (const answer of answers) {
        if (answer.type !== 'SRV') continue;
        const target = answer.data.target.toLowerCase();
        for (const record of this.records.get(target) ?? []) {
          if (record.type === 'A' || record.type === 'AAAA') additionals.push(this.toAnswer(target, record));
        }
      }
    }
    const exists = this.records.has(name) || answers.length > 0;
    const rcode = exists ? 0 : 3;
    const authorities: Answer[] =
      answers.length === 0
        ? [{ type: 'SOA', name: this.zone, ttl: 60, data: { mname: `ns1.${this.zone}`, rname: `hostmaster.${this.zone}`, serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: 2 } }]
        : [];
    return dnsPacket.encode({ ...base, flags: (base.flags ?? 0) | rcode, answers, authorities, additionals });
  }

  private toAnswer(name: string, record: TestRecord): Answer {
    switch (record.type) {
      case 'SRV':
        return { type: 'SRV', name, ttl: record.ttl, data: record.data as SrvData };
      case 'A':
      case 'AAAA':
      case 'CNAME':
        return { type: record.type, name, ttl: record.ttl, data: String(record.data) };
    }
  }
}
