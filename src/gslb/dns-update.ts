/**
 * Dynamic DNS updates (RFC 2136) signed with TSIG (RFC 8945, hmac-sha256),
 * sent to an external primary server when an answer changes.
 *
 * One UPDATE message carries every changed record: for each, "delete the
 * RRset" then "add" its current values, which the server applies atomically.
 * Messages go over TCP (no size limit, no spoofed replies). The response must
 * carry a valid TSIG signature over our request MAC; anything else (an error
 * rcode, an unsigned or badly signed reply, a timeout) is a failure that is
 * logged, shown in status and retried with exponential backoff. A newer
 * change supersedes a pending retry: the latest values are what is sent.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import net, { isIP } from 'node:net';
import type { Clock } from '../core/clock.js';
import type { Random } from '../core/random.js';
import type { HostPort } from '../core/server.js';

const TYPE = { A: 1, CNAME: 5, SOA: 6, AAAA: 28, TSIG: 250 } as const;
const CLASS_IN = 1;
const CLASS_ANY = 255;
const OPCODE_UPDATE = 5;
const ALGORITHM = 'hmac-sha256';
/** Allowed clock difference between us and the server, seconds (RFC 8945 recommends 300). */
const FUDGE = 300;

const RCODE_NAMES: Record<number, string> = {
  0: 'NOERROR',
  1: 'FORMERR',
  2: 'SERVFAIL',
  3: 'NXDOMAIN',
  4: 'NOTIMP',
  5: 'REFUSED',
  6: 'YXDOMAIN',
  7: 'YXRRSET',
  8: 'NXRRSET',
  9: 'NOTAUTH',
  10: 'NOTZONE',
};
const TSIG_ERROR_NAMES: Record<number, string> = { 16: 'BADSIG', 17: 'BADKEY', 18: 'BADTIME', 22: 'BADTRUNC' };

export interface TsigKey {
  /** Key name as the server knows it. */
  readonly name: string;
  readonly algorithm: 'hmac-sha256';
  /** The shared secret, base64 as in BIND key files. */
  readonly secret: string;
}

/** The full content one owner name and type should have. */
export interface UpdateRRset {
  /** Absolute owner name, no trailing dot. */
  readonly name: string;
  readonly type: 'A' | 'AAAA' | 'CNAME';
  /** Seconds. */
  readonly ttl: number;
  readonly values: readonly string[];
}

/** Uncompressed wire form of a name in lower case (canonical form, RFC 4034 §6.2). */
export function encodeName(name: string): Buffer {
  const trimmed = name.replace(/^\.+|\.+$/g, '').toLowerCase();
  const labels = trimmed === '' ? [] : trimmed.split('.');
  const parts: Buffer[] = [];
  for (const label of labels) {
    const bytes = Buffer.from(label, 'ascii');
    if (bytes.length === 0 || bytes.length > 63) throw new RangeError(`bad label in name "${name}"`);
    parts.push(Buffer.from([bytes.length]), bytes);
  }
  parts.push(Buffer.from([0]));
  const wire = Buffer.concat(parts);
  if (wire.length > 255) throw new RangeError(`name "${name}" is too long`);
  return wire;
}

function encodeIpv6(address: string): Buffer {
  let text = address;
  const out = Buffer.alloc(16);
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two 16-bit groups.
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    const v4 = tail.split('.').map(Number);
    text = `${text.slice(0, lastColon + 1)}${(((v4[0] ?? 0) << 8) | (v4[1] ?? 0)).toString(16)}:${(((v4[2] ?? 0) << 8) | (v4[3] ?? 0)).toString(16)}`;
  }
  const [head = '', rest] = text.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const restGroups = rest === undefined || rest === '' ? [] : rest.split(':');
  const zeros = 8 - headGroups.length - restGroups.length;
  const groups = rest === undefined ? headGroups : [...headGroups, ...new Array<string>(zeros).fill('0'), ...restGroups];
  groups.forEach((group, index) => out.writeUInt16BE(parseInt(group, 16), index * 2));
  return out;
}

function encodeRdata(type: UpdateRRset['type'], value: string): Buffer {
  switch (type) {
    case 'A':
      return Buffer.from(value.split('.').map(Number));
    case 'AAAA':
      return encodeIpv6(value);
    case 'CNAME':
      return encodeName(value);
    default: {
      const exhaustive: never = type;
      throw new Error(`unsupported type ${String(exhaustive)}`);
    }
  }
}

function rr(name: Buffer, type: number, klass: number, ttl: number, rdata: Buffer): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(type, 0);
  fixed.writeUInt16BE(klass, 2);
  fixed.writeUInt32BE(ttl >>> 0, 4);
  fixed.writeUInt16BE(rdata.length, 8);
  return Buffer.concat([name, fixed, rdata]);
}

/** The unsigned UPDATE message replacing each RRset. O(total values). */
export function buildUpdate(zone: string, rrsets: readonly UpdateRRset[], id: number): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(OPCODE_UPDATE << 11, 2);
  const updates: Buffer[] = [];
  for (const set of rrsets) {
    const owner = encodeName(set.name);
    updates.push(rr(owner, TYPE[set.type], CLASS_ANY, 0, Buffer.alloc(0)));
    for (const value of set.values) updates.push(rr(owner, TYPE[set.type], CLASS_IN, set.ttl, encodeRdata(set.type, value)));
  }
  header.writeUInt16BE(1, 4); // ZOCOUNT
  header.writeUInt16BE(0, 6); // PRCOUNT
  header.writeUInt16BE(updates.length, 8); // UPCOUNT
  header.writeUInt16BE(0, 10); // ADCOUNT
  const zoneSection = Buffer.concat([encodeName(zone), Buffer.from([0, TYPE.SOA, 0, CLASS_IN])]);
  return Buffer.concat([header, zoneSection, ...updates]);
}

function writeUint48(buf: Buffer, value: number, offset: number): void {
  buf.writeUIntBE(value, offset, 6);
}

/** The TSIG variables of RFC 8945 §4.3.3 (key name, class, TTL, algorithm, time, fudge, error, other). */
function tsigVariables(key: TsigKey, timeSigned: number, fudge: number, error: number, other: Buffer): Buffer {
  const fixed = Buffer.alloc(6);
  fixed.writeUInt16BE(CLASS_ANY, 0);
  fixed.writeUInt32BE(0, 2);
  const timers = Buffer.alloc(8);
  writeUint48(timers, timeSigned, 0);
  timers.writeUInt16BE(fudge, 6);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(error, 0);
  tail.writeUInt16BE(other.length, 2);
  return Buffer.concat([encodeName(key.name), fixed, encodeName(ALGORITHM), timers, tail, other]);
}

function hmac(key: TsigKey, parts: readonly Buffer[]): Buffer {
  const h = createHmac('sha256', Buffer.from(key.secret, 'base64'));
  for (const part of parts) h.update(part);
  return h.digest();
}

/**
 * Appends a TSIG record to `message` (whose ARCOUNT must not count it yet).
 * `timeSigned` is in seconds since the epoch. Returns the signed message and
 * the MAC, which the response's signature covers.
 */
export function signMessage(message: Buffer, key: TsigKey, timeSigned: number): { signed: Buffer; mac: Buffer } {
  const mac = hmac(key, [message, tsigVariables(key, timeSigned, FUDGE, 0, Buffer.alloc(0))]);
  const rdataHead = Buffer.alloc(10);
  writeUint48(rdataHead, timeSigned, 0);
  rdataHead.writeUInt16BE(FUDGE, 6);
  rdataHead.writeUInt16BE(mac.length, 8);
  const rdataTail = Buffer.alloc(6);
  rdataTail.writeUInt16BE(message.readUInt16BE(0), 0); // original ID
  rdataTail.writeUInt16BE(0, 2); // error
  rdataTail.writeUInt16BE(0, 4); // other len
  const rdata = Buffer.concat([encodeName(ALGORITHM), rdataHead, mac, rdataTail]);
  const signed = Buffer.concat([message, rr(encodeName(key.name), TYPE.TSIG, CLASS_ANY, 0, rdata)]);
  signed.writeUInt16BE(message.readUInt16BE(10) + 1, 10);
  return { signed, mac };
}

/** Reads a possibly compressed name; bounded by 128 pointer hops. Returns the name and the offset after it. */
function readName(buf: Buffer, start: number): { name: string; end: number } {
  const labels: string[] = [];
  let offset = start;
  let end = -1;
  for (let hops = 0; hops < 128; hops++) {
    const length = buf[offset];
    if (length === undefined) throw new RangeError('name runs past the message');
    if (length === 0) {
      return { name: labels.join('.').toLowerCase(), end: end === -1 ? offset + 1 : end };
    }
    if ((length & 0xc0) === 0xc0) {
      const low = buf[offset + 1];
      if (low === undefined) throw new RangeError('name runs past the message');
      if (end === -1) end = offset + 2;
      offset = ((length & 0x3f) << 8) | low;
      continue;
    }
    if (length > 63 || offset + 1 + length > buf.length) throw new RangeError('bad label');
    labels.push(buf.toString('latin1', offset + 1, offset + 1 + length));
    offset += 1 + length;
  }
  throw new RangeError('name compression loop');
}

export interface UpdateResponse {
  readonly id: number;
  readonly rcode: number;
  readonly rcodeName: string;
  /** TSIG error of the response's TSIG record (0 = none), or undefined when unsigned. */
  readonly tsigError: number | undefined;
  /** The response carries a TSIG record whose MAC verifies against our request. */
  readonly signatureValid: boolean;
}

/**
 * Parses an UPDATE response and verifies its TSIG signature (RFC 8945 §5.3:
 * MAC over the request MAC, the response without its TSIG record, and the
 * TSIG variables). Throws RangeError on malformed input.
 */
export function parseUpdateResponse(response: Buffer, key: TsigKey, requestMac: Buffer, nowSeconds: number): UpdateResponse {
  if (response.length < 12) throw new RangeError('response shorter than a header');
  const id = response.readUInt16BE(0);
  const rcode = response.readUInt16BE(2) & 0xf;
  const counts = [response.readUInt16BE(4), response.readUInt16BE(6), response.readUInt16BE(8), response.readUInt16BE(10)];
  let offset = 12;
  for (let i = 0; i < (counts[0] ?? 0); i++) offset = readName(response, offset).end + 4;
  const records = (counts[1] ?? 0) + (counts[2] ?? 0) + (counts[3] ?? 0);
  let tsigStart = -1;
  let tsig: { name: string; rdataStart: number; rdataEnd: number } | undefined;
  for (let i = 0; i < records; i++) {
    const start = offset;
    const owner = readName(response, offset);
    offset = owner.end;
    if (offset + 10 > response.length) throw new RangeError('record runs past the message');
    const type = response.readUInt16BE(offset);
    const rdlength = response.readUInt16BE(offset + 8);
    const rdataStart = offset + 10;
    offset = rdataStart + rdlength;
    if (offset > response.length) throw new RangeError('record runs past the message');
    if (type === TYPE.TSIG && i === records - 1) {
      tsigStart = start;
      tsig = { name: owner.name, rdataStart, rdataEnd: offset };
    }
  }
  const rcodeName = RCODE_NAMES[rcode] ?? `RCODE${rcode}`;
  if (tsig === undefined) return { id, rcode, rcodeName, tsigError: undefined, signatureValid: false };

  const algorithm = readName(response, tsig.rdataStart);
  let p = algorithm.end;
  if (p + 10 > tsig.rdataEnd) throw new RangeError('short TSIG record');
  const timeSigned = response.readUIntBE(p, 6);
  const fudge = response.readUInt16BE(p + 6);
  const macSize = response.readUInt16BE(p + 8);
  p += 10;
  const mac = response.subarray(p, p + macSize);
  p += macSize;
  if (p + 6 > tsig.rdataEnd) throw new RangeError('short TSIG record');
  const tsigError = response.readUInt16BE(p + 2);
  const otherLength = response.readUInt16BE(p + 4);
  const other = response.subarray(p + 6, p + 6 + otherLength);

  let signatureValid = false;
  if (
    macSize === 32 &&
    tsig.name === key.name.toLowerCase().replace(/\.$/, '') &&
    algorithm.name === ALGORITHM &&
    Math.abs(nowSeconds - timeSigned) <= fudge
  ) {
    const unsigned = Buffer.from(response.subarray(0, tsigStart));
    unsigned.writeUInt16BE((counts[3] ?? 1) - 1, 10);
    const requestMacPart = Buffer.alloc(2);
    requestMacPart.writeUInt16BE(requestMac.length, 0);
    const expected = hmac(key, [requestMacPart, requestMac, unsigned, tsigVariables(key, timeSigned, fudge, tsigError, other)]);
    signatureValid = timingSafeEqual(expected, mac);
  }
  return { id, rcode, rcodeName, tsigError, signatureValid };
}

/** Sends one message over TCP (2-byte length framing) and resolves with the first framed reply. */
export function exchangeTcp(server: HostPort, message: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: server.host, port: server.port, family: isIP(server.host) === 6 ? 6 : 4 });
    let received: Buffer = Buffer.alloc(0);
    let settled = false;
    const finish = (error: Error | undefined, reply?: Buffer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error !== undefined) reject(error);
      else if (reply !== undefined) resolve(reply);
    };
    const timer = setTimeout(() => finish(new Error(`no reply within ${timeoutMs} ms`)), timeoutMs);
    socket.on('connect', () => {
      const length = Buffer.alloc(2);
      length.writeUInt16BE(message.length, 0);
      socket.write(Buffer.concat([length, message]));
    });
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length >= 2 && received.length >= 2 + received.readUInt16BE(0)) {
        finish(undefined, received.subarray(2, 2 + received.readUInt16BE(0)));
      }
    });
    socket.on('error', (error) => finish(error));
    socket.on('close', () => finish(new Error('connection closed before a reply')));
  });
}

export interface DynamicUpdateStatus {
  /** `host:port` of the primary server. */
  readonly server: string;
  readonly zone: string;
  /** idle: nothing to send; sending; retrying: waiting after a failure; ok: last update applied. */
  readonly state: 'idle' | 'sending' | 'retrying' | 'ok';
  /** Records this site currently sends updates for. */
  readonly records: readonly string[];
  readonly updatesSent: number;
  readonly failures: number;
  readonly consecutiveFailures: number;
  /** Wall-clock ms. */
  readonly lastAttempt: number | null;
  readonly lastSuccess: number | null;
  readonly lastError: { readonly time: number; readonly message: string } | null;
  /** Wall-clock ms of the next retry while retrying. */
  readonly nextRetry: number | null;
}

export interface DynamicUpdaterOptions {
  readonly server: HostPort;
  readonly zone: string;
  readonly key: TsigKey;
  /** Time to wait for a reply, ms. */
  readonly timeout: number;
  /** First retry delay, ms; doubles per failure up to `retryMax`, with ±20 % jitter. */
  readonly retryMin: number;
  readonly retryMax: number;
  readonly clock: Clock;
  readonly random: Random;
  readonly logger?: { info(message: string): void; warn(message: string): void };
}

/**
 * Sends the latest wanted RRsets, one message at a time, retrying failures.
 * `push` merges RRsets by owner and type (latest wins) into the pending set.
 */
export class DynamicUpdater {
  private readonly pending = new Map<string, UpdateRRset>();
  private owned: readonly string[] = [];
  private sending = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  private idle: Promise<void> = Promise.resolve();
  private readonly counters = { updatesSent: 0, failures: 0, consecutiveFailures: 0 };
  private lastAttempt: number | null = null;
  private lastSuccess: number | null = null;
  private lastError: { time: number; message: string } | null = null;
  private nextRetry: number | null = null;
  private everSent = false;

  constructor(private readonly options: DynamicUpdaterOptions) {}

  /** Records this site is responsible for now (for status). */
  setOwned(records: readonly string[]): void {
    this.owned = records;
  }

  /** Queues RRsets to send; sends at once unless a send or a retry wait is in progress. */
  push(rrsets: readonly UpdateRRset[]): void {
    if (this.closed || rrsets.length === 0) return;
    for (const set of rrsets) this.pending.set(`${set.name}/${set.type}`, set);
    if (!this.sending && this.retryTimer === undefined) this.idle = this.run();
  }

  status(): DynamicUpdateStatus {
    const { server, zone } = this.options;
    let state: DynamicUpdateStatus['state'] = 'idle';
    if (this.sending) state = 'sending';
    else if (this.retryTimer !== undefined) state = 'retrying';
    else if (this.everSent && this.counters.consecutiveFailures === 0) state = 'ok';
    return {
      server: `${server.host.includes(':') ? `[${server.host}]` : server.host}:${server.port}`,
      zone,
      state,
      records: this.owned,
      ...this.counters,
      lastAttempt: this.lastAttempt,
      lastSuccess: this.lastSuccess,
      lastError: this.lastError,
      nextRetry: this.retryTimer === undefined ? null : this.nextRetry,
    };
  }

  /** Stops retrying and waits for an update in flight to finish. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.idle;
  }

  private async run(): Promise<void> {
    this.sending = true;
    while (this.pending.size > 0 && !this.closed) {
      const batch = [...this.pending.values()];
      this.pending.clear();
      this.lastAttempt = this.options.clock.wallNow();
      try {
        await this.send(batch);
        this.counters.updatesSent++;
        this.counters.consecutiveFailures = 0;
        this.lastSuccess = this.options.clock.wallNow();
        this.everSent = true;
        this.options.logger?.info(`gslb dynamic update applied: ${batch.map((set) => `${set.name} ${set.type} ${set.values.join(',')}`).join('; ')}`);
      } catch (error) {
        // Keep what failed unless something newer replaced it meanwhile.
        for (const set of batch) {
          const key = `${set.name}/${set.type}`;
          if (!this.pending.has(key)) this.pending.set(key, set);
        }
        this.counters.failures++;
        this.counters.consecutiveFailures++;
        this.everSent = true;
        const message = error instanceof Error ? error.message : String(error);
        this.lastError = { time: this.options.clock.wallNow(), message };
        const delay = this.backoff();
        this.options.logger?.warn(`gslb dynamic update to ${this.status().server} failed (${message}); retrying in ${delay} ms`);
        this.nextRetry = this.options.clock.wallNow() + delay;
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          if (!this.closed) this.idle = this.run();
        }, delay);
        this.retryTimer.unref();
        break;
      }
    }
    this.sending = false;
  }

  private backoff(): number {
    const base = Math.min(this.options.retryMax, this.options.retryMin * 2 ** Math.min(20, this.counters.consecutiveFailures - 1));
    return Math.round(base * (0.8 + 0.4 * this.options.random()));
  }

  private async send(batch: readonly UpdateRRset[]): Promise<void> {
    const id = Math.floor(this.options.random() * 65536) & 0xffff;
    const now = Math.floor(this.options.clock.wallNow() / 1000);
    const { signed, mac } = signMessage(buildUpdate(this.options.zone, batch, id), this.options.key, now);
    const reply = await exchangeTcp(this.options.server, signed, this.options.timeout);
    const response = parseUpdateResponse(reply, this.options.key, mac, Math.floor(this.options.clock.wallNow() / 1000));
    if (response.id !== id) throw new Error(`reply id ${response.id} does not match ${id}`);
    const tsigError = response.tsigError !== undefined && response.tsigError !== 0 ? ` (TSIG ${TSIG_ERROR_NAMES[response.tsigError] ?? response.tsigError})` : '';
    if (response.rcode !== 0) throw new Error(`server answered ${response.rcodeName}${tsigError}`);
    if (!response.signatureValid) throw new Error('reply is not signed with our TSIG key');
  }
}
