/**
 * A minimal stub resolver: asks configured DNS servers directly, over UDP
 * with EDNS(0) and over TCP when an answer is truncated, and hands back the
 * whole response with its TTLs (which `node:dns` hides for SRV).
 *
 * Each UDP query uses its own connected socket on a fresh ephemeral port and
 * a random ID, and a response counts only when it comes from the server
 * asked, carries that ID and echoes the question: an off-path attacker must
 * guess both port and ID. A closed port on the server side fails at once
 * (ICMP port unreachable) instead of waiting for the timeout.
 */
import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import { isIP } from 'node:net';
import dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, Packet } from 'dns-packet';
import { formatHostPort, type HostPort } from '../core/server.js';

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
const RCODE_NAMES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED', 'YXDOMAIN', 'YXRRSET', 'NXRRSET', 'NOTAUTH', 'NOTZONE'];

/** EDNS UDP payload size we advertise (the 2020 DNS flag day value: no IP fragmentation). */
export const UDP_PAYLOAD_SIZE = 1232;
const FLAG_RD = 1 << 8;

export type QueryType = 'A' | 'AAAA' | 'SRV';

export interface DnsResponse {
  /** Response code (0-15); `RCODE` names the usual ones. */
  readonly rcode: number;
  readonly answers: readonly Answer[];
  readonly authorities: readonly Answer[];
  readonly additionals: readonly Answer[];
  readonly transport: 'udp' | 'tcp';
  readonly server: HostPort;
}

export function rcodeName(rcode: number): string {
  return RCODE_NAMES[rcode] ?? `RCODE${rcode}`;
}

export interface QueryOptions {
  /** Time allowed for the UDP exchange, and again for the TCP one if the answer was truncated, ms. */
  readonly timeout: number;
  readonly signal?: AbortSignal;
}

/** Lower case without the trailing dot. */
export function normalizeDnsName(name: string): string {
  return (name.endsWith('.') ? name.slice(0, -1) : name).toLowerCase();
}

function encodeQuery(id: number, name: string, type: QueryType, edns: boolean): Buffer {
  const packet: Packet = {
    type: 'query',
    id,
    flags: FLAG_RD,
    questions: [{ type, name, class: 'IN' }],
    additionals: edns
      ? [{ type: 'OPT', name: '.', udpPayloadSize: UDP_PAYLOAD_SIZE, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }]
      : [],
  };
  return dnsPacket.encode(packet);
}

/**
 * The decoded message when it answers query `id` for `name`/`type`, else
 * undefined. A response without a question section is accepted only with
 * an error rcode (some servers drop it from FORMERR and NOTIMP answers).
 */
function matchResponse(message: Buffer, id: number, name: string, type: QueryType): DecodedPacket | undefined {
  let decoded: DecodedPacket;
  try {
    decoded = dnsPacket.decode(message);
  } catch {
    return undefined;
  }
  if (decoded.id !== id || !decoded.flag_qr) return undefined;
  const questions = decoded.questions ?? [];
  if (questions.length === 0) return ((decoded.flags ?? 0) & 0xf) === RCODE.NOERROR ? undefined : decoded;
  const question = questions[0];
  if (questions.length !== 1 || question === undefined) return undefined;
  return question.type === type && normalizeDnsName(question.name) === normalizeDnsName(name) ? decoded : undefined;
}

function toResponse(decoded: DecodedPacket, transport: 'udp' | 'tcp', server: HostPort): DnsResponse {
  return {
    rcode: (decoded.flags ?? 0) & 0xf,
    answers: decoded.answers ?? [],
    authorities: decoded.authorities ?? [],
    additionals: decoded.additionals ?? [],
    transport,
    server,
  };
}

/** Runs `body` with a deadline and an abort signal; `cleanup` always runs once. */
function exchange<T>(
  what: string,
  options: QueryOptions,
  body: (settle: (error: Error | undefined, value?: T) => void) => () => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (options.signal?.aborted === true) {
      reject(new Error(`${what}: aborted`));
      return;
    }
    let done = false;
    let cleanup: () => void = () => undefined;
    const settle = (error: Error | undefined, value?: T): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      cleanup();
      if (error !== undefined) reject(error);
      else resolve(value as T);
    };
    const onAbort = (): void => settle(new Error(`${what}: aborted`));
    const timer = setTimeout(() => settle(new Error(`${what}: no answer within ${options.timeout} ms`)), options.timeout);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    cleanup = body(settle);
    if (done) cleanup();
  });
}

function udpExchange(server: HostPort, name: string, type: QueryType, edns: boolean, options: QueryOptions): Promise<DecodedPacket> {
  const id = randomInt(0, 65536);
  const query = encodeQuery(id, name, type, edns);
  const what = `${type} ${name} @${formatHostPort(server)} (udp)`;
  return exchange<DecodedPacket>(what, options, (settle) => {
    const socket = dgram.createSocket(isIP(server.host) === 6 ? 'udp6' : 'udp4');
    socket.on('error', (error) => settle(new Error(`${what}: ${error.message}`)));
    socket.on('message', (message) => {
      const decoded = matchResponse(message, id, name, type);
      if (decoded !== undefined) settle(undefined, decoded);
    });
    socket.connect(server.port, server.host, () => {
      socket.send(query, (error) => {
        if (error) settle(new Error(`${what}: ${error.message}`));
      });
    });
    return () => socket.close();
  });
}

function tcpExchange(server: HostPort, name: string, type: QueryType, options: QueryOptions): Promise<DecodedPacket> {
  const id = randomInt(0, 65536);
  const query = encodeQuery(id, name, type, true);
  const framed = Buffer.alloc(2 + query.length);
  framed.writeUInt16BE(query.length, 0);
  query.copy(framed, 2);
  const what = `${type} ${name} @${formatHostPort(server)} (tcp)`;
  return exchange<DecodedPacket>(what, options, (settle) => {
    const socket = net.connect({ host: server.host, port: server.port });
    let buffered = Buffer.alloc(0);
    socket.on('connect', () => socket.write(framed));
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      // One message of at most 65 535 bytes, after its 2-byte length.
      while (buffered.length >= 2) {
        const length = buffered.readUInt16BE(0);
        if (buffered.length < 2 + length) return;
        const decoded = matchResponse(buffered.subarray(2, 2 + length), id, name, type);
        if (decoded !== undefined) {
          settle(undefined, decoded);
          return;
        }
        buffered = buffered.subarray(2 + length);
      }
    });
    socket.on('error', (error) => settle(new Error(`${what}: ${error.message}`)));
    socket.on('close', () => settle(new Error(`${what}: connection closed without an answer`)));
    return () => socket.destroy();
  });
}

/**
 * Asks `server` one question: UDP with EDNS(0); again without EDNS when the
 * server answers FORMERR to it; over TCP when the answer is truncated.
 * Resolves with any matching response, whatever its rcode; rejects on a
 * timeout, a network error or an abort.
 */
export async function queryServer(server: HostPort, name: string, type: QueryType, options: QueryOptions): Promise<DnsResponse> {
  let decoded = await udpExchange(server, name, type, true, options);
  if (((decoded.flags ?? 0) & 0xf) === RCODE.FORMERR) decoded = await udpExchange(server, name, type, false, options);
  if (!decoded.flag_tc) return toResponse(decoded, 'udp', server);
  return toResponse(await tcpExchange(server, name, type, options), 'tcp', server);
}

export interface ResolverOptions {
  /** Per query and server, ms. */
  readonly timeout: number;
  /** Passes over the server list before giving up. Default 2. */
  readonly attempts?: number;
}

/**
 * Asks a list of servers in order. NOERROR and NXDOMAIN are answers; any
 * other rcode, a timeout or a network error moves on to the next server,
 * for `attempts` passes over the list. Worst case
 * `attempts × servers × 2 × timeout` (UDP then TCP).
 */
export class DnsResolver {
  readonly servers: readonly HostPort[];
  private readonly timeout: number;
  private readonly attempts: number;

  constructor(servers: readonly HostPort[], options: ResolverOptions) {
    if (servers.length === 0) throw new RangeError('a resolver needs at least one DNS server');
    this.servers = servers;
    this.timeout = options.timeout;
    this.attempts = options.attempts ?? 2;
  }

  async query(name: string, type: QueryType, signal?: AbortSignal): Promise<DnsResponse> {
    const problems: string[] = [];
    for (let pass = 0; pass < this.attempts; pass++) {
      for (const server of this.servers) {
        if (signal?.aborted === true) throw new Error(`${type} ${name}: aborted`);
        try {
          const response = await queryServer(server, name, type, { timeout: this.timeout, ...(signal === undefined ? {} : { signal }) });
          if (response.rcode === RCODE.NOERROR || response.rcode === RCODE.NXDOMAIN) return response;
          problems.push(`${type} ${name} @${formatHostPort(server)}: ${rcodeName(response.rcode)}`);
        } catch (error) {
          problems.push(error instanceof Error ? error.message : String(error));
        }
      }
    }
    throw new Error(unique(problems).join('; '));
  }
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}
