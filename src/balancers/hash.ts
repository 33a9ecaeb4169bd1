/**
 * Hashes that are stable across processes, machines and versions of Node:
 * two Ballast instances given the same key and servers compute the same
 * numbers, so they send the same client to the same server.
 *
 * The function is MurmurHash3 x86_32 over bytes (UTF-8 for strings, the
 * 4 or 16 address bytes for IP addresses). None of these functions allocate
 * on the hot path: strings are encoded into a reused scratch buffer.
 */

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/** Seed for request keys; server names use their own seeds (see maglev.ts). */
export const KEY_SEED = 0x6a09e667;

let scratch = new Uint8Array(256);
const addressBytes = new Uint8Array(16);
const groups = new Uint16Array(8);

/** MurmurHash3 x86_32 of `bytes[0..length)`. O(length). Returns an unsigned 32-bit integer. */
export function murmur3(bytes: Uint8Array, length: number, seed: number): number {
  let h = seed >>> 0;
  const blocks = length & ~3;
  for (let i = 0; i < blocks; i += 4) {
    let k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const rest = length & 3;
  if (rest !== 0) {
    let k = bytes[blocks]!;
    if (rest > 1) k ^= bytes[blocks + 1]! << 8;
    if (rest > 2) k ^= bytes[blocks + 2]! << 16;
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h ^= k;
  }
  h ^= length;
  return fmix32(h);
}

/** MurmurHash3's finalizer: a bijection on 32-bit integers with full avalanche. */
export function fmix32(value: number): number {
  let h = value | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** MurmurHash3 x86_32 of the UTF-8 encoding of `value` (lone surrogates encode as U+FFFD). */
export function hashString(value: string, seed: number): number {
  const length = encodeUtf8(value);
  return murmur3(scratch, length, seed);
}

/**
 * The hash of a request key. A key that is an IPv4 or IPv6 address hashes its
 * address bytes, so every spelling of one address (`::ffff:10.0.0.1` and
 * `10.0.0.1`; `2001:db8::1` and `2001:DB8:0:0:0:0:0:1`; a `%zone` suffix)
 * lands on the same server. Any other key hashes its UTF-8 bytes.
 * O(length of the key), no allocation.
 */
export function hashKey(value: string): number {
  const length = parseIp(value);
  return length === 0 ? hashString(value, KEY_SEED) : murmur3(addressBytes, length, KEY_SEED);
}

/**
 * Writes the UTF-8 encoding of `value` into `scratch` (growing it when needed)
 * and returns its length in bytes.
 */
function encodeUtf8(value: string): number {
  const n = value.length;
  if (scratch.length < n * 3) scratch = new Uint8Array(n * 3);
  const out = scratch;
  let at = 0;
  for (let i = 0; i < n; i++) {
    let c = value.charCodeAt(i);
    if (c < 0x80) {
      out[at++] = c;
    } else if (c < 0x800) {
      out[at++] = 0xc0 | (c >> 6);
      out[at++] = 0x80 | (c & 0x3f);
    } else {
      if (c >= 0xd800 && c <= 0xdfff) {
        const next = i + 1 < n ? value.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
          i++;
          out[at++] = 0xf0 | (c >> 18);
          out[at++] = 0x80 | ((c >> 12) & 0x3f);
          out[at++] = 0x80 | ((c >> 6) & 0x3f);
          out[at++] = 0x80 | (c & 0x3f);
          continue;
        }
        c = 0xfffd;
      }
      out[at++] = 0xe0 | (c >> 12);
      out[at++] = 0x80 | ((c >> 6) & 0x3f);
      out[at++] = 0x80 | (c & 0x3f);
    }
  }
  return at;
}

/**
 * Parses an IPv4 or IPv6 address into `addressBytes`. Returns 4 for IPv4
 * (including IPv4-mapped IPv6 such as `::ffff:1.2.3.4`), 16 for other IPv6,
 * and 0 when `value` is not an address. A `%zone` suffix is ignored.
 */
function parseIp(value: string): number {
  let end = value.indexOf('%');
  if (end === -1) end = value.length;
  if (value.indexOf(':') === -1) return parseIpv4(value, 0, end, 0) ? 4 : 0;
  if (!parseIpv6(value, end)) return 0;
  for (let i = 0; i < 10; i++) if (addressBytes[i] !== 0) return 16;
  if (addressBytes[10] !== 0xff || addressBytes[11] !== 0xff) return 16;
  addressBytes.copyWithin(0, 12, 16);
  return 4;
}

/** Parses dotted-quad `value[start..end)` into `addressBytes[at..at+4)`. */
function parseIpv4(value: string, start: number, end: number, at: number): boolean {
  let part = 0;
  let digits = 0;
  let octet = 0;
  for (let i = start; i < end; i++) {
    const c = value.charCodeAt(i);
    if (c === 46 /* . */) {
      if (digits === 0 || part === 3) return false;
      addressBytes[at + part++] = octet;
      octet = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      octet = octet * 10 + (c - 48);
      if (++digits > 3 || octet > 255) return false;
    } else {
      return false;
    }
  }
  if (digits === 0 || part !== 3) return false;
  addressBytes[at + 3] = octet;
  return true;
}

/** Parses IPv6 text `value[0..end)` (with `::` and a dotted IPv4 tail) into `addressBytes`. */
function parseIpv6(value: string, end: number): boolean {
  let count = 0; // groups written to `groups`
  let gap = -1; // index in `groups` where `::` stands
  let i = 0;
  if (end >= 2 && value.charCodeAt(0) === 58 && value.charCodeAt(1) === 58) {
    gap = 0;
    i = 2;
  }
  while (i < end) {
    if (count === 8) return false;
    const start = i;
    let group = 0;
    while (i < end) {
      const digit = hexValue(value.charCodeAt(i));
      if (digit < 0) break;
      group = group * 16 + digit;
      i++;
    }
    if (i < end && value.charCodeAt(i) === 46 /* . */) {
      // Dotted IPv4 tail: takes the last two groups.
      if (count > 6 || !parseIpv4(value, start, end, 12)) return false;
      groups[count++] = (addressBytes[12]! << 8) | addressBytes[13]!;
      groups[count++] = (addressBytes[14]! << 8) | addressBytes[15]!;
      i = end;
      break;
    }
    if (i === start || i - start > 4) return false;
    groups[count++] = group;
    if (i === end) break;
    if (value.charCodeAt(i) !== 58 /* : */) return false;
    i++;
    if (i < end && value.charCodeAt(i) === 58) {
      if (gap !== -1) return false;
      gap = count;
      i++;
    } else if (i === end) {
      return false; // trailing single colon
    }
  }
  if (gap === -1 ? count !== 8 : count > 7) return false;
  const zeros = 8 - count;
  for (let g = 0, from = 0; g < 8; g++) {
    const inGap = gap !== -1 && g >= gap && g < gap + zeros;
    const word = inGap ? 0 : groups[from++]!;
    addressBytes[g * 2] = word >> 8;
    addressBytes[g * 2 + 1] = word & 0xff;
  }
  return true;
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}
