/**
 * Heartbeats between the sites: the wire format, its HMAC-SHA256
 * authentication, replay and staleness checks, and the UDP socket that sends
 * them to every peer and receives theirs.
 *
 * Wire format, version 1 (all integers big-endian):
 *
 *   offset size
 *   0      4   magic "BLHB"
 *   4      1   version (1)
 *   5      1   flags: bit 0 ready (the sender has healthy servers), bit 1 witness
 *   6      6   incarnation: the sender's wall-clock ms when it started
 *   12     4   sequence number, from 0 within an incarnation
 *   16     6   timestamp: the sender's wall-clock ms when it sent the packet
 *   22     1   length L of the sender's site name, then L bytes UTF-8
 *   ...    1   number K of view entries, then K entries:
 *                1 + n  site name (length-prefixed)
 *                1      flags: bit 0 reachable, bit 1 ready, bit 2 known,
 *                       bits 3-4 state (0 unknown, 1 down, 2 recovering, 3 active)
 *                4      ms the site has been recovering (0 unless recovering)
 *                4      failback epoch of the site (manual failbacks seen)
 *   end-32 32  HMAC-SHA256(secret, every byte before it)
 *
 * A packet is accepted only if the MAC verifies, the sender is a configured
 * peer, the timestamp is within `maxClockSkew` of the receiver's clock, and
 * (incarnation, sequence) was not seen before (a 32-packet sliding window
 * accepts reordering; an older incarnation is always refused). Replays of a
 * captured packet therefore fail on the sequence check, and packets held back
 * longer than the skew allowance fail on the timestamp.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import dgram from 'node:dgram';
import { isIP } from 'node:net';
import type { HostPort } from '../core/server.js';
import type { Clock } from '../core/clock.js';

export const HEARTBEAT_VERSION = 1;
const MAGIC = Buffer.from('BLHB', 'latin1');
const MAC_LENGTH = 32;
const HEADER_LENGTH = 22;
const MAX_NAME_BYTES = 255;
const MAX_ENTRIES = 255;

/** What a site believes about one site (itself included), as carried in its heartbeats. */
export const SITE_STATES = ['unknown', 'down', 'recovering', 'active'] as const;
export type SiteState = (typeof SITE_STATES)[number];

export interface ViewEntry {
  readonly site: string;
  /** The sender hears this site's heartbeats (always true for the sender itself). */
  readonly reachable: boolean;
  /** The site reported healthy servers in its last heartbeat the sender heard. */
  readonly ready: boolean;
  /** The sender has an opinion: it heard the site, or has run long enough to say it cannot. */
  readonly known: boolean;
  /** The sender's traffic state for the site. */
  readonly state: SiteState;
  /** How long the site has been recovering at the sender, ms; 0 unless `state` is recovering. */
  readonly recoveringForMs: number;
  /** Count of manual failbacks of this site the sender has seen; merged by maximum. */
  readonly failbackEpoch: number;
}

export interface HeartbeatMessage {
  readonly site: string;
  readonly ready: boolean;
  readonly witness: boolean;
  readonly incarnation: number;
  readonly sequence: number;
  /** Sender's wall clock, ms since the epoch. */
  readonly timestamp: number;
  readonly view: readonly ViewEntry[];
}

export type HeartbeatRejection = 'malformed' | 'bad-mac' | 'unknown-site' | 'stale' | 'replay';

export type DecodeResult =
  | { readonly ok: true; readonly message: HeartbeatMessage }
  | { readonly ok: false; readonly reason: 'malformed' | 'bad-mac' };

function nameBytes(name: string): Buffer {
  const bytes = Buffer.from(name, 'utf8');
  if (bytes.length === 0 || bytes.length > MAX_NAME_BYTES) throw new RangeError(`site name "${name}" must be 1-255 bytes`);
  return bytes;
}

function mac(key: Buffer | string, data: Buffer): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

/** Serializes and signs a heartbeat. O(sites). Throws RangeError on out-of-range fields. */
export function encodeHeartbeat(message: HeartbeatMessage, secret: Buffer | string): Buffer {
  if (message.view.length > MAX_ENTRIES) throw new RangeError('too many view entries');
  const site = nameBytes(message.site);
  const entries = message.view.map((entry) => ({ entry, name: nameBytes(entry.site) }));
  let length = HEADER_LENGTH + 1 + site.length + 1 + MAC_LENGTH;
  for (const { name } of entries) length += 1 + name.length + 1 + 4 + 4;
  const buf = Buffer.alloc(length);
  MAGIC.copy(buf, 0);
  buf[4] = HEARTBEAT_VERSION;
  buf[5] = (message.ready ? 1 : 0) | (message.witness ? 2 : 0);
  buf.writeUIntBE(message.incarnation, 6, 6);
  buf.writeUInt32BE(message.sequence >>> 0, 12);
  buf.writeUIntBE(message.timestamp, 16, 6);
  let offset = HEADER_LENGTH;
  buf[offset++] = site.length;
  site.copy(buf, offset);
  offset += site.length;
  buf[offset++] = entries.length;
  for (const { entry, name } of entries) {
    buf[offset++] = name.length;
    name.copy(buf, offset);
    offset += name.length;
    const state = SITE_STATES.indexOf(entry.state);
    buf[offset++] = (entry.reachable ? 1 : 0) | (entry.ready ? 2 : 0) | (entry.known ? 4 : 0) | (state << 3);
    buf.writeUInt32BE(Math.min(0xffffffff, Math.max(0, Math.round(entry.recoveringForMs))), offset);
    offset += 4;
    buf.writeUInt32BE(entry.failbackEpoch >>> 0, offset);
    offset += 4;
  }
  mac(secret, buf.subarray(0, offset)).copy(buf, offset);
  return buf;
}

/**
 * Verifies the MAC, then parses. Never throws: any bound violation is
 * `malformed`. The MAC is checked before the body is parsed, so forged
 * packets cost one HMAC and nothing else. O(packet length).
 */
export function decodeHeartbeat(buf: Buffer, secret: Buffer | string): DecodeResult {
  if (buf.length < HEADER_LENGTH + 2 + MAC_LENGTH || !buf.subarray(0, 4).equals(MAGIC) || buf[4] !== HEARTBEAT_VERSION) {
    return { ok: false, reason: 'malformed' };
  }
  const bodyEnd = buf.length - MAC_LENGTH;
  const expected = mac(secret, buf.subarray(0, bodyEnd));
  if (!timingSafeEqual(expected, buf.subarray(bodyEnd))) return { ok: false, reason: 'bad-mac' };

  let offset = HEADER_LENGTH;
  const readName = (): string | undefined => {
    const length = buf[offset];
    if (length === undefined || length === 0 || offset + 1 + length > bodyEnd) return undefined;
    const name = buf.toString('utf8', offset + 1, offset + 1 + length);
    offset += 1 + length;
    return name;
  };
  const flags = buf[5] ?? 0;
  const site = readName();
  if (site === undefined || offset >= bodyEnd) return { ok: false, reason: 'malformed' };
  const count = buf[offset++] ?? 0;
  const view: ViewEntry[] = [];
  for (let i = 0; i < count; i++) {
    const entrySite = readName();
    if (entrySite === undefined || offset + 9 > bodyEnd) return { ok: false, reason: 'malformed' };
    const entryFlags = buf[offset] ?? 0;
    const state = SITE_STATES[(entryFlags >> 3) & 3] ?? 'unknown';
    view.push({
      site: entrySite,
      reachable: (entryFlags & 1) !== 0,
      ready: (entryFlags & 2) !== 0,
      known: (entryFlags & 4) !== 0,
      state,
      recoveringForMs: buf.readUInt32BE(offset + 1),
      failbackEpoch: buf.readUInt32BE(offset + 5),
    });
    offset += 9;
  }
  if (offset !== bodyEnd) return { ok: false, reason: 'malformed' };
  return {
    ok: true,
    message: {
      site,
      ready: (flags & 1) !== 0,
      witness: (flags & 2) !== 0,
      incarnation: buf.readUIntBE(6, 6),
      sequence: buf.readUInt32BE(12),
      timestamp: buf.readUIntBE(16, 6),
      view,
    },
  };
}

const WINDOW = 32;

/**
 * Per-sender anti-replay state: the newest incarnation seen and a sliding
 * window of the last 32 sequence numbers within it (the IPsec scheme).
 * O(1) per check.
 */
export class ReplayGuard {
  private readonly senders = new Map<string, { incarnation: number; highest: number; seen: number }>();

  /** Accepts (and remembers) the pair, or returns false for a replay or an older incarnation. */
  accept(site: string, incarnation: number, sequence: number): boolean {
    const state = this.senders.get(site);
    if (state === undefined || incarnation > state.incarnation) {
      this.senders.set(site, { incarnation, highest: sequence, seen: 1 });
      return true;
    }
    if (incarnation < state.incarnation) return false;
    if (sequence > state.highest) {
      const shift = sequence - state.highest;
      state.seen = shift >= WINDOW ? 1 : ((state.seen << shift) | 1) >>> 0;
      state.highest = sequence;
      return true;
    }
    const age = state.highest - sequence;
    if (age >= WINDOW) return false;
    const bit = (1 << age) >>> 0;
    if ((state.seen & bit) !== 0) return false;
    state.seen = (state.seen | bit) >>> 0;
    return true;
  }
}

export interface HeartbeatCounters {
  sent: number;
  sendErrors: number;
  received: number;
  accepted: number;
  rejected: Record<HeartbeatRejection, number>;
}

export interface HeartbeatLogger {
  warn(message: string): void;
}

export interface HeartbeatTransportOptions {
  readonly site: string;
  readonly listen: HostPort;
  readonly secret: string;
  /** Configured peers: only these site names are accepted, and heartbeats go to these addresses. */
  readonly peers: readonly { readonly site: string; readonly address: HostPort }[];
  /** Largest accepted difference between a packet's timestamp and this clock, ms. */
  readonly maxClockSkew: number;
  readonly clock: Clock;
  readonly logger?: HeartbeatLogger;
  /** Called for every accepted heartbeat, with the monotonic arrival time. */
  readonly onMessage: (message: HeartbeatMessage, arrival: number) => void;
}

/**
 * The UDP endpoint: one socket bound to `listen`, used both to receive and
 * to send. `send` signs one message and sends it to every peer.
 */
export class HeartbeatTransport {
  readonly counters: HeartbeatCounters = {
    sent: 0,
    sendErrors: 0,
    received: 0,
    accepted: 0,
    rejected: { malformed: 0, 'bad-mac': 0, 'unknown-site': 0, stale: 0, replay: 0 },
  };
  private socket: dgram.Socket | undefined;
  private readonly replay = new ReplayGuard();
  private readonly peerSites: ReadonlySet<string>;
  private readonly key: Buffer;
  private readonly lastWarning = new Map<string, number>();

  constructor(private readonly options: HeartbeatTransportOptions) {
    this.peerSites = new Set(options.peers.map((peer) => peer.site));
    this.key = Buffer.from(options.secret, 'utf8');
  }

  /** The bound UDP port (after `start`). */
  get port(): number {
    const address = this.socket?.address();
    return address === undefined ? 0 : address.port;
  }

  async start(): Promise<void> {
    const family = isIP(this.options.listen.host) === 6 ? 'udp6' : 'udp4';
    const socket = dgram.createSocket({ type: family });
    socket.on('message', (buf, remote) => this.receive(buf, remote.address));
    socket.on('error', (error) => this.options.logger?.warn(`gslb heartbeat socket error: ${error.message}`));
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error): void => reject(error);
      socket.once('error', onError);
      socket.bind(this.options.listen.port, this.options.listen.host, () => {
        socket.off('error', onError);
        resolve();
      });
    });
    this.socket = socket;
  }

  /** Signs `message` once and sends it to every peer. Send errors are counted, never thrown. */
  send(message: HeartbeatMessage): void {
    const socket = this.socket;
    if (socket === undefined) return;
    const packet = encodeHeartbeat(message, this.key);
    for (const peer of this.options.peers) {
      socket.send(packet, peer.address.port, peer.address.host, (error) => {
        if (error) this.counters.sendErrors++;
        else this.counters.sent++;
      });
    }
  }

  async close(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    if (socket === undefined) return;
    await new Promise<void>((resolve) => socket.close(() => resolve()));
  }

  private receive(buf: Buffer, from: string): void {
    this.counters.received++;
    const decoded = decodeHeartbeat(buf, this.key);
    if (!decoded.ok) {
      this.reject(decoded.reason, from);
      return;
    }
    const message = decoded.message;
    if (!this.peerSites.has(message.site)) {
      this.reject('unknown-site', from);
      return;
    }
    if (Math.abs(message.timestamp - this.options.clock.wallNow()) > this.options.maxClockSkew) {
      this.reject('stale', from);
      return;
    }
    if (!this.replay.accept(message.site, message.incarnation, message.sequence)) {
      this.reject('replay', from);
      return;
    }
    this.counters.accepted++;
    this.options.onMessage(message, this.options.clock.now());
  }

  /** Counts a rejection; logs at most one warning per reason every 10 s so a flood cannot flood the log. */
  private reject(reason: HeartbeatRejection, from: string): void {
    this.counters.rejected[reason]++;
    const now = this.options.clock.now();
    const last = this.lastWarning.get(reason);
    if (last !== undefined && now - last < 10_000) return;
    this.lastWarning.set(reason, now);
    this.options.logger?.warn(`gslb heartbeat from ${from} rejected: ${reason}`);
  }
}
