/**
 * The PROXY protocol (HAProxy, versions 1 and 2): a header a proxy writes at
 * the start of a TCP connection to tell the next hop who the real client is.
 *
 * - Version 1 is one text line: `PROXY TCP4 <src> <dst> <sport> <dport>\r\n`,
 *   at most 107 bytes; `PROXY UNKNOWN\r\n` when the addresses are not known.
 * - Version 2 is binary: a 12-byte signature, a version/command byte, a
 *   family/transport byte, a 16-bit big-endian length, then the addresses
 *   and optional TLVs. The LOCAL command (connections a proxy opens itself,
 *   such as health checks) carries no client address.
 *
 * Encoders allocate one small buffer per header. The parser is incremental:
 * it accepts the header in any split across reads, never holds more than its
 * byte bound, and hands back the bytes that followed the header.
 */
import { isIPv4, isIPv6, type Socket } from 'node:net';
import { normalizeIp } from '../core/address.js';

/** An address and port as carried in a PROXY header. */
export interface ProxyEndpoint {
  readonly address: string;
  readonly port: number;
}

export type ProxyProtocolVersion = 'v1' | 'v2';

/** A parsed PROXY header. */
export interface ProxyHeader {
  readonly version: 1 | 2;
  /** `local`: a v2 connection opened by the proxy itself; use the peer address. */
  readonly command: 'proxy' | 'local';
  /** The original client; undefined for LOCAL and for unknown or non-IP families. */
  readonly source: ProxyEndpoint | undefined;
  /** The address the client connected to; undefined exactly when `source` is. */
  readonly destination: ProxyEndpoint | undefined;
  /** Bytes the header occupied on the wire, TLVs included. */
  readonly length: number;
}

export type ProxyParseResult =
  | { readonly kind: 'incomplete' }
  | { readonly kind: 'header'; readonly header: ProxyHeader; readonly rest: Buffer }
  | { readonly kind: 'invalid'; readonly reason: string };

/** v2 signature: `\r\n\r\n\0\r\nQUIT\n`. */
export const PROXY_V2_SIGNATURE: Buffer = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

/** Longest v1 line the specification allows, CRLF included. */
export const PROXY_V1_MAX_BYTES = 107;

/**
 * Default bound on a v2 header (16-byte preamble, addresses and TLVs). Cloud
 * load balancers send well under this; a larger header is refused.
 */
export const PROXY_V2_DEFAULT_MAX_BYTES = 2048;

const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
const V1_UNKNOWN = Buffer.from('PROXY UNKNOWN\r\n', 'latin1');
const V2_PREAMBLE = 16;
const V2_VERSION = 0x20;
const V2_COMMAND_LOCAL = 0x0;
const V2_COMMAND_PROXY = 0x1;
const V2_FAMILY_UNSPEC = 0x0;
const V2_FAMILY_INET = 0x1;
const V2_FAMILY_INET6 = 0x2;
const V2_FAMILY_UNIX = 0x3;
const V2_TRANSPORT_STREAM = 0x1;
const V2_ADDRESS_BYTES = [0, 12, 36, 216] as const;

const PORT_PATTERN = /^(?:0|[1-9][0-9]{0,4})$/;

const INCOMPLETE: ProxyParseResult = Object.freeze({ kind: 'incomplete' });

// ---------------------------------------------------------------- encoding

type Family = 4 | 6;

/** Both endpoints in one family: IPv4 when both are (or map to) IPv4, else IPv6 with IPv4 mapped. */
function commonFamily(source: ProxyEndpoint, destination: ProxyEndpoint): { family: Family; src: string; dst: string } | undefined {
  if (!validPort(source.port) || !validPort(destination.port)) return undefined;
  const src = normalizeIp(stripZone(source.address));
  const dst = normalizeIp(stripZone(destination.address));
  const srcFamily = isIPv4(src) ? 4 : isIPv6(src) ? 6 : 0;
  const dstFamily = isIPv4(dst) ? 4 : isIPv6(dst) ? 6 : 0;
  if (srcFamily === 0 || dstFamily === 0) return undefined;
  if (srcFamily === 4 && dstFamily === 4) return { family: 4, src, dst };
  return { family: 6, src: srcFamily === 4 ? `::ffff:${src}` : src, dst: dstFamily === 4 ? `::ffff:${dst}` : dst };
}

function validPort(port: number): boolean {
  return Number.isInteger(port) && port >= 0 && port <= 65535;
}

/** Drops an IPv6 zone index (`fe80::1%eth0`), which has no meaning to the next hop. */
function stripZone(address: string): string {
  const percent = address.indexOf('%');
  return percent === -1 ? address : address.slice(0, percent);
}

/**
 * The v1 text header for a connection from `source` to `destination`.
 * Addresses that are not IP literals, or invalid ports, give `PROXY UNKNOWN`.
 */
export function encodeProxyV1(source: ProxyEndpoint, destination: ProxyEndpoint): Buffer {
  const both = commonFamily(source, destination);
  if (both === undefined) return Buffer.from(V1_UNKNOWN);
  const protocol = both.family === 4 ? 'TCP4' : 'TCP6';
  return Buffer.from(`PROXY ${protocol} ${both.src} ${both.dst} ${source.port} ${destination.port}\r\n`, 'latin1');
}

/**
 * The v2 binary header (command PROXY, transport STREAM, no TLVs) for a
 * connection from `source` to `destination`. Addresses that are not IP
 * literals give family UNSPEC with no addresses, which tells the receiver to
 * use the connection's own addresses.
 */
export function encodeProxyV2(source: ProxyEndpoint, destination: ProxyEndpoint): Buffer {
  const both = commonFamily(source, destination);
  const family = both === undefined ? V2_FAMILY_UNSPEC : both.family === 4 ? V2_FAMILY_INET : V2_FAMILY_INET6;
  const addressBytes = V2_ADDRESS_BYTES[family];
  const out = Buffer.alloc(V2_PREAMBLE + addressBytes);
  PROXY_V2_SIGNATURE.copy(out, 0);
  out[12] = V2_VERSION | V2_COMMAND_PROXY;
  out[13] = both === undefined ? 0 : (family << 4) | V2_TRANSPORT_STREAM;
  out.writeUInt16BE(addressBytes, 14);
  if (both === undefined) return out;
  if (both.family === 4) {
    writeIpv4(both.src, out, 16);
    writeIpv4(both.dst, out, 20);
    out.writeUInt16BE(source.port, 24);
    out.writeUInt16BE(destination.port, 26);
  } else {
    writeIpv6(both.src, out, 16);
    writeIpv6(both.dst, out, 32);
    out.writeUInt16BE(source.port, 48);
    out.writeUInt16BE(destination.port, 50);
  }
  return out;
}

export function encodeProxyHeader(version: ProxyProtocolVersion, source: ProxyEndpoint, destination: ProxyEndpoint): Buffer {
  return version === 'v1' ? encodeProxyV1(source, destination) : encodeProxyV2(source, destination);
}

/** Precondition: `address` is a dotted-quad IPv4 literal. */
function writeIpv4(address: string, out: Buffer, offset: number): void {
  let part = 0;
  let value = 0;
  for (let i = 0; i < address.length; i++) {
    const code = address.charCodeAt(i);
    if (code === 46 /* '.' */) {
      out[offset + part++] = value;
      value = 0;
    } else value = value * 10 + (code - 48);
  }
  out[offset + part] = value;
}

/** The 16-bit groups of one side of an IPv6 literal; an embedded IPv4 tail gives two groups. */
function ipv6Groups(text: string): number[] {
  if (text === '') return [];
  const groups: number[] = [];
  for (const group of text.split(':')) {
    if (group.includes('.')) {
      const quad = Buffer.alloc(4);
      writeIpv4(group, quad, 0);
      groups.push(quad.readUInt16BE(0), quad.readUInt16BE(2));
    } else groups.push(parseInt(group, 16));
  }
  return groups;
}

/** Precondition: `isIPv6(address)` holds and the address has no zone index. */
function writeIpv6(address: string, out: Buffer, offset: number): void {
  out.fill(0, offset, offset + 16);
  const gap = address.indexOf('::');
  const head = ipv6Groups(gap === -1 ? address : address.slice(0, gap));
  const tail = gap === -1 ? [] : ipv6Groups(address.slice(gap + 2));
  head.forEach((group, i) => out.writeUInt16BE(group, offset + 2 * i));
  const tailStart = offset + 16 - 2 * tail.length;
  tail.forEach((group, i) => out.writeUInt16BE(group, tailStart + 2 * i));
}

function readIpv4(buf: Buffer, offset: number): string {
  return `${buf[offset]}.${buf[offset + 1]}.${buf[offset + 2]}.${buf[offset + 3]}`;
}

/**
 * RFC 5952 text of the IPv6 address at `offset`: lower-case hex, the longest
 * run of two or more zero groups (the first on a tie) written `::`, and
 * IPv4-mapped addresses as `::ffff:a.b.c.d`.
 */
function readIpv6(buf: Buffer, offset: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(buf.readUInt16BE(offset + 2 * i));
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) return `::ffff:${readIpv4(buf, offset + 12)}`;
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number): string =>
    groups
      .slice(from, to)
      .map((g) => g.toString(16))
      .join(':');
  if (bestStart === -1) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLength, 8)}`;
}

// ---------------------------------------------------------------- parsing

/**
 * Incremental PROXY header parser for one connection. Feed it every chunk
 * read until it answers `header` or `invalid`; afterwards it must not be fed.
 * It keeps at most the header's bound in memory (107 bytes for v1,
 * `maxBytes` for v2); re-scanning on each chunk costs O(bound) per chunk.
 */
export class ProxyHeaderParser {
  private pending: Buffer | undefined;

  constructor(private readonly maxBytes: number = PROXY_V2_DEFAULT_MAX_BYTES) {}

  push(chunk: Buffer): ProxyParseResult {
    const data = this.pending === undefined ? chunk : Buffer.concat([this.pending, chunk]);
    const result = parseProxyHeader(data, this.maxBytes);
    this.pending = result.kind === 'incomplete' ? data : undefined;
    return result;
  }
}

/**
 * Parses a PROXY header at the start of `data`. `incomplete` means the bytes
 * so far are a valid prefix of a header within the bounds.
 */
export function parseProxyHeader(data: Buffer, maxBytes: number = PROXY_V2_DEFAULT_MAX_BYTES): ProxyParseResult {
  if (data.length === 0) return INCOMPLETE;
  if (data[0] === V1_PREFIX[0]) return parseV1(data);
  if (data[0] === PROXY_V2_SIGNATURE[0]) return parseV2(data, maxBytes);
  return invalid('not a PROXY protocol header');
}

function invalid(reason: string): ProxyParseResult {
  return { kind: 'invalid', reason };
}

function matchesPrefix(data: Buffer, expected: Buffer): boolean {
  const n = Math.min(data.length, expected.length);
  return data.compare(expected, 0, n, 0, n) === 0;
}

function parseV1(data: Buffer): ProxyParseResult {
  if (!matchesPrefix(data, V1_PREFIX)) return invalid('not a PROXY protocol header');
  const newline = data.subarray(0, PROXY_V1_MAX_BYTES).indexOf(0x0a);
  if (newline === -1) return data.length >= PROXY_V1_MAX_BYTES ? invalid('PROXY v1 header longer than 107 bytes') : INCOMPLETE;
  if (newline === 0 || data[newline - 1] !== 0x0d) return invalid('PROXY v1 header does not end with CRLF');
  const length = newline + 1;
  const rest = data.subarray(length);
  const fields = data.toString('latin1', 0, newline - 1).split(' ');
  if (fields[1] === 'UNKNOWN') {
    return { kind: 'header', header: { version: 1, command: 'proxy', source: undefined, destination: undefined, length }, rest };
  }
  if (fields.length !== 6 || (fields[1] !== 'TCP4' && fields[1] !== 'TCP6')) return invalid('malformed PROXY v1 header');
  const isFamily = fields[1] === 'TCP4' ? isIPv4 : isIPv6;
  const [, , src = '', dst = '', srcPort = '', dstPort = ''] = fields;
  if (!isFamily(src) || !isFamily(dst)) return invalid('PROXY v1 header has an invalid address');
  const sport = parsePort(srcPort);
  const dport = parsePort(dstPort);
  if (sport === undefined || dport === undefined) return invalid('PROXY v1 header has an invalid port');
  return {
    kind: 'header',
    header: {
      version: 1,
      command: 'proxy',
      source: { address: src, port: sport },
      destination: { address: dst, port: dport },
      length,
    },
    rest,
  };
}

/** A decimal port 0-65535 without sign or leading zeros, as the v1 grammar requires. */
function parsePort(text: string): number | undefined {
  if (!PORT_PATTERN.test(text)) return undefined;
  const port = Number(text);
  return port <= 65535 ? port : undefined;
}

function parseV2(data: Buffer, maxBytes: number): ProxyParseResult {
  if (!matchesPrefix(data, PROXY_V2_SIGNATURE)) return invalid('not a PROXY protocol header');
  if (data.length < V2_PREAMBLE) return INCOMPLETE;
  const versionCommand = data[12] as number;
  if ((versionCommand & 0xf0) !== V2_VERSION) return invalid('unsupported PROXY v2 version');
  const command = versionCommand & 0x0f;
  if (command !== V2_COMMAND_LOCAL && command !== V2_COMMAND_PROXY) return invalid('unknown PROXY v2 command');
  const family = (data[13] as number) >> 4;
  const transport = (data[13] as number) & 0x0f;
  if (family > V2_FAMILY_UNIX || transport > 2) return invalid('unknown PROXY v2 address family');
  const bodyLength = data.readUInt16BE(14);
  const length = V2_PREAMBLE + bodyLength;
  if (length > maxBytes) return invalid(`PROXY v2 header of ${length} bytes exceeds ${maxBytes}`);
  if (data.length < length) return INCOMPLETE;
  if (bodyLength < V2_ADDRESS_BYTES[family as 0 | 1 | 2 | 3]) return invalid('PROXY v2 header too short for its address family');
  const rest = data.subarray(length);
  const carriesAddresses = command === V2_COMMAND_PROXY && transport === V2_TRANSPORT_STREAM;
  if (carriesAddresses && family === V2_FAMILY_INET) {
    return v2Header(length, rest, readIpv4(data, 16), readIpv4(data, 20), data.readUInt16BE(24), data.readUInt16BE(26));
  }
  if (carriesAddresses && family === V2_FAMILY_INET6) {
    return v2Header(length, rest, readIpv6(data, 16), readIpv6(data, 32), data.readUInt16BE(48), data.readUInt16BE(50));
  }
  const header: ProxyHeader = {
    version: 2,
    command: command === V2_COMMAND_LOCAL ? 'local' : 'proxy',
    source: undefined,
    destination: undefined,
    length,
  };
  return { kind: 'header', header, rest };
}

function v2Header(length: number, rest: Buffer, src: string, dst: string, sport: number, dport: number): ProxyParseResult {
  return {
    kind: 'header',
    header: { version: 2, command: 'proxy', source: { address: src, port: sport }, destination: { address: dst, port: dport }, length },
    rest,
  };
}

// ---------------------------------------------------------------- reading from a socket

export interface ReadProxyHeaderOptions {
  /** The whole header must arrive within this many milliseconds of the call. */
  readonly timeoutMs: number;
  /** Bound on a v2 header; default {@link PROXY_V2_DEFAULT_MAX_BYTES}. */
  readonly maxBytes?: number;
}

export type ReadProxyHeaderResult =
  | { readonly header: ProxyHeader; readonly error?: undefined }
  | { readonly header?: undefined; readonly error: string };

/**
 * Reads a PROXY header from the start of `socket`, calling `done` exactly
 * once. On success the socket is left paused with the bytes that followed
 * the header put back at the front of its readable side, so the next reader
 * sees the stream exactly as the client sent it. On failure (garbage,
 * oversize, timeout, the peer closing first) the socket is left as it is:
 * the caller decides how to close it.
 *
 * Precondition: nothing has read from `socket` yet, and the caller keeps an
 * `error` listener on it.
 */
export function readProxyHeader(socket: Socket, options: ReadProxyHeaderOptions, done: (result: ReadProxyHeaderResult) => void): void {
  const parser = new ProxyHeaderParser(options.maxBytes);
  let settled = false;
  const settle = (result: ReadProxyHeaderResult): void => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('end', onEnd);
    socket.off('close', onEnd);
    done(result);
  };
  const onData = (chunk: Buffer): void => {
    const result = parser.push(chunk);
    if (result.kind === 'incomplete') return;
    if (result.kind === 'invalid') {
      socket.pause();
      settle({ error: result.reason });
      return;
    }
    socket.pause();
    if (result.rest.length > 0) socket.unshift(result.rest);
    settle({ header: result.header });
  };
  const onEnd = (): void => settle({ error: 'connection closed before the PROXY header ended' });
  const timer = setTimeout(() => {
    socket.pause();
    settle({ error: 'PROXY header timeout' });
  }, options.timeoutMs);
  socket.on('data', onData);
  socket.on('end', onEnd);
  socket.on('close', onEnd);
  socket.resume();
}
