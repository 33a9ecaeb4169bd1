/**
 * The chunked decoder fed whole, byte by byte and in odd splits: the data
 * and the end of the body are found the same way every time.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CHUNKED_MALFORMED, CHUNKED_MORE, CHUNKED_TOO_LARGE, ChunkedDecoder } from '../../src/http1/chunked.js';

/** Feeds `parts` in order; returns the data, and where the body ended in the last part (or a status constant). */
function decode(parts: readonly string[]): { data: string; result: number } {
  const decoder = new ChunkedDecoder();
  let data = '';
  const sink = { chunkData: (chunk: Buffer): void => void (data += chunk.toString('latin1')) };
  let result = CHUNKED_MORE;
  for (const part of parts) {
    const input = Buffer.from(part, 'latin1');
    result = decoder.feed(input, 0, input.length, sink);
    if (result !== CHUNKED_MORE) break;
  }
  return { data, result };
}

const BODY = '5\r\nhello\r\n1;name=value;q="a b"\r\n \r\n6\r\nworld!\r\n0\r\nTrailer-Field: x\r\n\r\n';

describe('ChunkedDecoder', () => {
  test('decodes data, extensions and trailers, and reports where the body ends', () => {
    const { data, result } = decode([`${BODY}NEXT`]);
    assert.equal(data, 'hello world!');
    assert.equal(result, BODY.length);
  });

  test('any split of the input gives the same data', () => {
    assert.equal(decode([...BODY]).data, 'hello world!');
    for (let cut = 1; cut < BODY.length; cut += 7) {
      const { data, result } = decode([BODY.slice(0, cut), BODY.slice(cut)]);
      assert.equal(data, 'hello world!', `cut at ${cut}`);
      assert.equal(result, BODY.length - cut, `cut at ${cut}`);
    }
  });

  test('malformed framing is refused', () => {
    for (const body of ['-3\r\nabc\r\n0\r\n\r\n', '3 \r\nabc\r\n0\r\n\r\n', '3;\r\nabc\r\n0\r\n\r\n', '3\r\nabcX\r\n', 'FFFFFFFFFFFFFFFFF\r\n', '3\nabc\r\n', '0\r\nbad trailer\r\n\r\n']) {
      assert.equal(decode([body]).result, CHUNKED_MALFORMED, JSON.stringify(body));
    }
  });

  test('an oversized size line or trailer section is too large', () => {
    assert.equal(decode([`3;x=${'a'.repeat(20_000)}\r\n`]).result, CHUNKED_TOO_LARGE);
    assert.equal(decode([`0\r\n${'X-A: b\r\n'.repeat(3000)}\r\n`]).result, CHUNKED_TOO_LARGE);
  });
});
