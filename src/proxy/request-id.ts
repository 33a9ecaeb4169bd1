/**
 * Random (version 4) UUIDs for X-Request-Id, one string allocation each.
 * `crypto.randomUUID` builds its result by concatenating 20 pieces, garbage
 * the young generation must collect on every request; here the text is
 * written into a scratch buffer and read out once. The random bytes come
 * from the operating system's CSPRNG in batches, as `randomUUID`'s do.
 */
import { randomFillSync } from 'node:crypto';

const BATCH = 128;
const entropy = Buffer.allocUnsafeSlow(16 * BATCH);
let next = BATCH;
const text = Buffer.allocUnsafeSlow(36);
const HEX = Buffer.from('0123456789abcdef');
/** Offsets in the text of the 16 bytes, around the dashes of 8-4-4-4-12. */
const POSITIONS = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
text[8] = text[13] = text[18] = text[23] = 45; // '-'

export function randomUuid(): string {
  if (next === BATCH) {
    randomFillSync(entropy);
    next = 0;
  }
  const base = 16 * next++;
  for (let i = 0; i < 16; i++) {
    let byte = entropy[base + i] as number;
    // RFC 9562 §5.4: version 4 in the high nibble of byte 6, variant 10 in the top bits of byte 8.
    if (i === 6) byte = (byte & 0x0f) | 0x40;
    else if (i === 8) byte = (byte & 0x3f) | 0x80;
    const at = POSITIONS[i] as number;
    text[at] = HEX[byte >> 4] as number;
    text[at + 1] = HEX[byte & 0x0f] as number;
  }
  return text.toString('latin1');
}
