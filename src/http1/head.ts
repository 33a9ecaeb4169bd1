/**
 * Strict parsing of HTTP/1.x message heads (RFC 9112). A proxy sits between
 * two parsers; any message they could frame differently is a smuggling
 * vector, so everything ambiguous is refused rather than repaired: bare CR or
 * LF, obs-fold, whitespace before a colon, control characters in values,
 * Content-Length lists, duplicates or signs, Content-Length together with
 * Transfer-Encoding, and stacked or unknown transfer codings.
 *
 * One pass over the head validates every field and records what the proxy
 * decides on (framing, Host, the fields it rewrites); the field list itself
 * is split into strings only when something asks for it, so a plain request
 * or response is forwarded without building one.
 */
import { METHODS as HTTP_METHODS } from 'node:http';

/** Where a head ends inside a buffer, or why it is refused. */
export type HeadScan =
  | { readonly kind: 'incomplete'; readonly scanned: number }
  | { readonly kind: 'complete'; readonly end: number }
  | { readonly kind: 'invalid' };

const LF = 10;
const CR = 13;
const INVALID: HeadScan = { kind: 'invalid' };

/**
 * Finds the end of a head (the byte after its empty line) in
 * `buffer[0..length)`, starting at line boundary `from`; bytes before
 * `searched` are known to hold no LF after `from` (a head arriving in small
 * pieces is then searched once, not once per piece). A LF without its CR
 * is refused at once: a client using bare LF would otherwise wait for a
 * CRLF CRLF that never comes. `scanned` is where the next scan may resume.
 */
export function scanHead(buffer: Buffer, from: number, length: number, searched = from): HeadScan {
  let lineStart = from;
  let searchAt = Math.max(from, searched);
  for (;;) {
    const lf = buffer.indexOf(LF, searchAt);
    if (lf === -1 || lf >= length) return { kind: 'incomplete', scanned: lineStart };
    if (lf === 0 || buffer[lf - 1] !== CR) return INVALID;
    if (lf === lineStart + 1) return { kind: 'complete', end: lf + 1 };
    lineStart = lf + 1;
    searchAt = lineStart;
  }
}

/** Largest response head accepted from a server. */
export const MAX_RESPONSE_HEAD = 64 * 1024;

/** The methods Ballast forwards: those Node's HTTP stack knows; anything else (and any other case) is 400. */
const METHODS = new Set(HTTP_METHODS);

/** `tchar` (RFC 9110 §5.6.2) by character code. */
const TCHAR = new Uint8Array(128);
for (const char of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TCHAR[char.charCodeAt(0)] = 1;
/** A request target: visible ASCII (and obs-text) only. */
const BAD_TARGET_CHAR = /[\x00-\x20\x7f]/;

/** Field names the parser recognizes, as bits. */
export const Field = {
  Host: 1 << 0,
  ContentLength: 1 << 1,
  TransferEncoding: 1 << 2,
  Connection: 1 << 3,
  KeepAlive: 1 << 4,
  ProxyConnection: 1 << 5,
  Te: 1 << 6,
  Trailer: 1 << 7,
  Upgrade: 1 << 8,
  Expect: 1 << 9,
  XForwardedFor: 1 << 10,
  XForwardedProto: 1 << 11,
  XForwardedHost: 1 << 12,
  Forwarded: 1 << 13,
  XRealIp: 1 << 14,
  Via: 1 << 15,
  XRequestId: 1 << 16,
  Cookie: 1 << 17,
} as const;

const FIELD_NAMES: Readonly<Record<string, number>> = {
  host: Field.Host,
  'content-length': Field.ContentLength,
  'transfer-encoding': Field.TransferEncoding,
  connection: Field.Connection,
  'keep-alive': Field.KeepAlive,
  'proxy-connection': Field.ProxyConnection,
  te: Field.Te,
  trailer: Field.Trailer,
  upgrade: Field.Upgrade,
  expect: Field.Expect,
  'x-forwarded-for': Field.XForwardedFor,
  'x-forwarded-proto': Field.XForwardedProto,
  'x-forwarded-host': Field.XForwardedHost,
  forwarded: Field.Forwarded,
  'x-real-ip': Field.XRealIp,
  via: Field.Via,
  'x-request-id': Field.XRequestId,
  cookie: Field.Cookie,
};

/** The bit of a lower-case field name, or 0. */
export function fieldBit(lowerName: string): number {
  return FIELD_NAMES[lowerName] ?? 0;
}

/** Candidates by name length, so a field name is compared with at most a few known names. */
const BY_LENGTH: [string, number][][] = [];
for (const [name, bit] of Object.entries(FIELD_NAMES)) (BY_LENGTH[name.length] ??= []).push([name, bit]);

/** The bit of the field name at `text[start..end)`, compared without case and without allocating. */
function classify(text: string, start: number, end: number): number {
  const candidates = BY_LENGTH[end - start];
  if (candidates === undefined) return 0;
  for (const [name, bit] of candidates) if (equalsLower(text, start, end, name)) return bit;
  return 0;
}

/** Whether `text[start..end)` is `lower` in any case. */
function equalsLower(text: string, start: number, end: number, lower: string): boolean {
  if (end - start !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    let code = text.charCodeAt(start + i);
    if (code >= 65 && code <= 90) code += 32;
    if (code !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** The decimal number at `text[start..end)`: 1 to 15 digits, nothing else; -1 otherwise. */
function decimalAt(text: string, start: number, end: number): number {
  if (end <= start || end - start > 15) return -1;
  let value = 0;
  for (let i = start; i < end; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

/** Hop-by-hop fields (RFC 9110 §7.6.1) plus legacy ones proxies must not forward. */
const HOP_BY_HOP_FIELDS =
  Field.Connection | Field.KeepAlive | Field.ProxyConnection | Field.Te | Field.Trailer | Field.TransferEncoding | Field.Upgrade;

/** Request fields the proxy removes or replaces when forwarding: with none of these, the fields pass as received. */
const REWRITTEN_REQUEST_FIELDS =
  HOP_BY_HOP_FIELDS |
  Field.ContentLength |
  Field.Expect |
  Field.XForwardedFor |
  Field.XForwardedProto |
  Field.XForwardedHost |
  Field.Forwarded |
  Field.XRealIp |
  Field.Via |
  Field.XRequestId;

/** A parsed head: the framing it declares and its fields. */
abstract class Head {
  /** Field names and values split on first use. */
  private raw: string[] | undefined;
  /** Bits of the recognized fields present (see `Field`). */
  fields = 0;
  fieldCount = 0;
  /** Bytes of field names and values. */
  fieldBytes = 0;
  hostCount = 0;
  /** The Host value (the last, when there are several). */
  host: string | undefined = undefined;
  /** Some field name contains `_`. */
  underscore = false;
  /** Declared body length, or -1 without Content-Length. */
  contentLength = -1;
  chunked = false;
  /** `Connection: close` (or HTTP/1.0 without `keep-alive`). */
  close = false;
  /** `Connection` lists `upgrade`. */
  connectionUpgrade = false;
  transferEncoding: string | undefined = undefined;
  keepAlive = false;

  constructor(
    /** The head as latin1 text, from its first line to its empty line. */
    readonly text: string,
    /** Offset of the first field line. */
    readonly fieldsStart: number,
    /** HTTP/1.x minor version. */
    readonly minor: number,
  ) {}

  /** Field names and values, alternating, names as received, values without surrounding whitespace. */
  get rawHeaders(): string[] {
    this.raw ??= splitFields(this.text, this.fieldsStart);
    return this.raw;
  }
}

export class RequestHead extends Head {
  constructor(
    text: string,
    fieldsStart: number,
    minor: number,
    readonly method: string,
    readonly target: string,
  ) {
    super(text, fieldsStart, minor);
  }

  /** Whether forwarding needs no field removed or replaced (see REWRITTEN_REQUEST_FIELDS). */
  get plain(): boolean {
    return (this.fields & REWRITTEN_REQUEST_FIELDS) === 0 && !this.underscore;
  }
}

export class ResponseHead extends Head {
  /** The head's bytes as received (a view of the read buffer). */
  bytes: Buffer = EMPTY;
  /**
   * Line ranges (start, end offsets) of `Connection` and `Keep-Alive` fields
   * that only manage the connection (keep-alive, close): cut when the head
   * is passed on. Null when there are none.
   */
  connectionLines: number[] | null = null;
  /** Connection names a field to remove with it, or lists another token. */
  connectionNamesFields = false;

  constructor(
    text: string,
    fieldsStart: number,
    minor: number,
    readonly status: number,
    readonly reason: string,
  ) {
    super(text, fieldsStart, minor);
  }

  /**
   * Whether the head can be passed on as received, once the lines in
   * `connectionLines` are cut: no hop-by-hop fields other than those.
   */
  get forwardable(): boolean {
    return (this.fields & FORWARD_BLOCKING_FIELDS) === 0 && !this.connectionNamesFields;
  }

  /**
   * The head's bytes without `connectionLines`, followed by `body` (a piece
   * of body that directly follows it), in one buffer. Allocates only when
   * lines are cut or a body is joined that is not already adjacent.
   */
  forwardBytes(body: Buffer | null): Buffer {
    const bytes = this.bytes;
    const cuts = this.connectionLines;
    if (cuts === null) {
      if (body === null) return bytes;
      if (body.buffer === bytes.buffer && body.byteOffset === bytes.byteOffset + bytes.length) {
        return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length + body.length);
      }
    }
    let cutBytes = 0;
    if (cuts !== null) for (let i = 0; i < cuts.length; i += 2) cutBytes += (cuts[i + 1] as number) - (cuts[i] as number);
    const out = Buffer.allocUnsafe(bytes.length - cutBytes + (body === null ? 0 : body.length));
    let written = 0;
    let from = 0;
    if (cuts !== null) {
      for (let i = 0; i < cuts.length; i += 2) {
        written += bytes.copy(out, written, from, cuts[i] as number);
        from = cuts[i + 1] as number;
      }
    }
    written += bytes.copy(out, written, from);
    if (body !== null) body.copy(out, written);
    return out;
  }
}

/** Response fields that keep a head from being passed on as received. */
const FORWARD_BLOCKING_FIELDS = HOP_BY_HOP_FIELDS & ~(Field.Connection | Field.KeepAlive);

const EMPTY = Buffer.alloc(0);

/**
 * The method and target of a request line that may be broken, cut short or
 * huge, for logging a refused head: `-` for a part that is not there or not
 * plausible, the target cut at `maxTarget` characters.
 */
export function describeRequestLine(input: Buffer, maxTarget: number): { method: string; target: string } {
  const scanned = input.subarray(0, Math.min(input.length, maxTarget + 64));
  let lineEnd = scanned.indexOf(10);
  if (lineEnd === -1) lineEnd = scanned.length;
  const line = scanned.toString('latin1', 0, lineEnd).replace(/\r$/, '');
  const firstSpace = line.indexOf(' ');
  const method = firstSpace === -1 ? line : line.slice(0, firstSpace);
  if (!METHODS.has(method)) return { method: '-', target: '-' };
  const rest = firstSpace === -1 ? '' : line.slice(firstSpace + 1);
  const targetEnd = rest.indexOf(' ');
  const target = targetEnd === -1 ? rest : rest.slice(0, targetEnd);
  return { method, target: target === '' ? '-' : target.slice(0, maxTarget) };
}

/** Why a request head is refused: the status to answer with. */
export type RequestHeadError = 400 | 501 | 505;

/**
 * Parses a request head (`head` ends with its empty line's CRLF). Returns
 * the status to refuse it with on any error: 505 for a major version other
 * than 1 (or none), 501 for a transfer coding other than `chunked`, 400
 * otherwise.
 */
export function parseRequestHead(head: string): RequestHead | RequestHeadError {
  const lineEnd = head.indexOf('\r\n');
  const firstSpace = head.indexOf(' ');
  if (firstSpace <= 0 || firstSpace > lineEnd) return 400;
  const method = head.slice(0, firstSpace);
  if (!METHODS.has(method)) return 400;
  const lastSpace = head.lastIndexOf(' ', lineEnd);
  // `GET /` alone is an HTTP/0.9 simple request.
  if (lastSpace === firstSpace) return 505;
  const target = head.slice(firstSpace + 1, lastSpace);
  if (target === '' || BAD_TARGET_CHAR.test(target)) return 400;
  if (lineEnd - lastSpace !== 9 || !head.startsWith('HTTP/', lastSpace + 1) || head.charCodeAt(lastSpace + 7) !== 46 /* . */) return 400;
  const major = head.charCodeAt(lastSpace + 6) - 48;
  const minor = head.charCodeAt(lastSpace + 8) - 48;
  if (major < 0 || major > 9 || minor < 0 || minor > 9) return 400;
  if (major !== 1) return 505;
  if (minor > 1) return 400;
  const parsed = new RequestHead(head, lineEnd + 2, minor, method, target);
  const error = parseFields(parsed, true);
  return error === 0 ? parsed : error;
}

/** Parses a response head; null when it is malformed or its framing is ambiguous. */
export function parseResponseHead(head: string): ResponseHead | null {
  const lineEnd = head.indexOf('\r\n');
  if (lineEnd < 12 || !head.startsWith('HTTP/1.') || head.charCodeAt(8) !== 32 /* space */) return null;
  const minor = head.charCodeAt(7) - 48;
  let status = 0;
  for (let i = 9; i < 12; i++) {
    const digit = head.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return null;
    status = status * 10 + digit;
  }
  if (minor < 0 || minor > 9 || status < 100) return null;
  if (lineEnd > 12 && head.charCodeAt(12) !== 32) return null;
  const reason = lineEnd > 13 ? head.slice(13, lineEnd) : '';
  for (let i = 13; i < lineEnd; i++) if (badValueChar(head.charCodeAt(i))) return null;
  const parsed = new ResponseHead(head, lineEnd + 2, minor, status, reason);
  return parseFields(parsed, false) === 0 ? parsed : null;
}

/** Control characters other than HTAB, which no field value may contain. */
function badValueChar(code: number): boolean {
  return (code < 32 && code !== 9) || code === 127;
}

function isOws(code: number): boolean {
  return code === 32 || code === 9;
}

/** Validates every field line of `head` and records what it declares; 0 when valid, else the status to refuse with. */
function parseFields(head: Head, request: boolean): 0 | 400 | 501 {
  const text = head.text;
  let position = head.fieldsStart;
  const end = text.length - 2;
  head.close = head.minor === 0;
  while (position < end) {
    const lineEnd = text.indexOf('\r\n', position);
    let colon = position;
    for (; colon < lineEnd; colon++) {
      const code = text.charCodeAt(colon);
      if (code === 58 /* : */) break;
      if (code >= 128 || TCHAR[code] === 0) return 400;
      if (code === 95 /* _ */) head.underscore = true;
    }
    if (colon === position || colon === lineEnd) return 400;
    let valueStart = colon + 1;
    let valueEnd = lineEnd;
    while (valueStart < valueEnd && isOws(text.charCodeAt(valueStart))) valueStart++;
    while (valueEnd > valueStart && isOws(text.charCodeAt(valueEnd - 1))) valueEnd--;
    for (let i = valueStart; i < valueEnd; i++) if (badValueChar(text.charCodeAt(i))) return 400;
    head.fieldCount++;
    head.fieldBytes += colon - position + valueEnd - valueStart;
    const bit = classify(text, position, colon);
    const lineStart = position;
    position = lineEnd + 2;
    if (bit === 0) continue;
    const seen = (head.fields & bit) !== 0;
    head.fields |= bit;
    switch (bit) {
      case Field.Host:
        head.hostCount++;
        head.host = text.slice(valueStart, valueEnd);
        break;
      case Field.Connection: {
        let others = false;
        // The usual values are a single token; a list is split.
        if (equalsLower(text, valueStart, valueEnd, 'keep-alive')) head.keepAlive = true;
        else if (equalsLower(text, valueStart, valueEnd, 'close')) head.close = true;
        else {
          for (const part of text.slice(valueStart, valueEnd).toLowerCase().split(',')) {
            const token = part.trim();
            if (token === 'close') head.close = true;
            else if (token === 'keep-alive') head.keepAlive = true;
            else if (token === 'upgrade') head.connectionUpgrade = true;
            else if (token !== '') others = true;
          }
        }
        if (head instanceof ResponseHead) {
          if (others || head.connectionUpgrade) head.connectionNamesFields = true;
          (head.connectionLines ??= []).push(lineStart, position);
        }
        break;
      }
      case Field.KeepAlive:
        if (head instanceof ResponseHead) (head.connectionLines ??= []).push(lineStart, position);
        break;
      case Field.ContentLength: {
        const value = decimalAt(text, valueStart, valueEnd);
        if (seen || value === -1) return 400;
        head.contentLength = value;
        break;
      }
      case Field.TransferEncoding:
        if (seen) return 400;
        head.transferEncoding = text.slice(valueStart, valueEnd).toLowerCase();
        break;
      default:
    }
  }
  const transferEncoding = head.transferEncoding;
  if (transferEncoding !== undefined) {
    // HTTP/1.0 has no transfer codings: such framing is faulty (RFC 9112 §6.1), as is an empty list.
    if (head.contentLength !== -1 || head.minor === 0 || transferEncoding === '') return 400;
    if (transferEncoding !== 'chunked') {
      // A list whose final coding is chunked frames the body, but with a coding the proxy cannot pass on: 501.
      // Anything else (chunked first, or only once among others) leaves the length undeterminable: 400.
      const codings = transferEncoding.split(',').map((coding) => coding.trim());
      const chunkedCount = codings.filter((coding) => coding === 'chunked').length;
      if (chunkedCount === 0 || (chunkedCount === 1 && codings[codings.length - 1] === 'chunked')) return request ? 501 : 400;
      return 400;
    }
    head.chunked = true;
  }
  if (head.minor === 0 && head.keepAlive) head.close = false;
  return 0;
}

/** Splits validated field lines into names and values. */
function splitFields(text: string, start: number): string[] {
  const raw: string[] = [];
  let position = start;
  const end = text.length - 2;
  while (position < end) {
    const lineEnd = text.indexOf('\r\n', position);
    const colon = text.indexOf(':', position);
    let valueStart = colon + 1;
    let valueEnd = lineEnd;
    while (valueStart < valueEnd && isOws(text.charCodeAt(valueStart))) valueStart++;
    while (valueEnd > valueStart && isOws(text.charCodeAt(valueEnd - 1))) valueEnd--;
    raw.push(text.slice(position, colon), text.slice(valueStart, valueEnd));
    position = lineEnd + 2;
  }
  return raw;
}
