/**
 * The chunked transfer coding (RFC 9112 §7.1): an incremental decoder that
 * hands out the data of each chunk as slices of the input (no copy), and
 * the framing the encoder side writes.
 */

/** `feed` needs more input: everything given was consumed. */
export const CHUNKED_MORE = -1;
/** Malformed framing: the message must be refused (400) or the exchange failed (502). */
export const CHUNKED_MALFORMED = -2;
/** A chunk-size line (with its extensions) or the trailer section over the limit: 413. */
export const CHUNKED_TOO_LARGE = -3;

/** Longest chunk-size line, extensions included, and largest trailer section. */
const MAX_LINE = 16 * 1024;

const enum State {
  Size,
  Data,
  DataEnd,
  Trailer,
}

/** `1*HEXDIG *( ";" token [ "=" ( token / quoted-string ) ] )`, no whitespace (RFC 9112 §7.1.1 allows none that parsers agree on). */
const SIZE_LINE = /^([0-9A-Fa-f]{1,16})((?:;[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?:=(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+|"(?:[^"\\\x00-\x08\x0a-\x1f\x7f]|\\[^\x00-\x08\x0a-\x1f\x7f])*"))?)*)$/;
/** A trailer field line: name, colon, value without control characters. */
const TRAILER_LINE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[^\x00-\x08\x0a-\x1f\x7f]*$/;

export interface ChunkedSink {
  /** One piece of body data, a view of the input valid only during the call. */
  chunkData(data: Buffer): void;
}

export class ChunkedDecoder {
  private state = State.Size;
  /** Bytes left in the current chunk's data. */
  private remaining = 0;
  /** The current size or trailer line, when it spans inputs. */
  private line = '';
  private trailerBytes = 0;

  /**
   * Decodes `input[start..end)`. Returns the offset just past the end of the
   * body when it ended inside this input (bytes after it belong to the next
   * message), CHUNKED_MORE when all of it was consumed, or an error constant.
   */
  feed(input: Buffer, start: number, end: number, sink: ChunkedSink): number {
    let position = start;
    while (position < end) {
      switch (this.state) {
        case State.Data: {
          const take = Math.min(this.remaining, end - position);
          sink.chunkData(input.subarray(position, position + take));
          position += take;
          this.remaining -= take;
          if (this.remaining === 0) this.state = State.DataEnd;
          break;
        }
        case State.DataEnd: {
          // CRLF after the data; `line` holds a CR that ended the previous input.
          const code = input[position] as number;
          if (this.line === '') {
            if (code !== 13) return CHUNKED_MALFORMED;
            this.line = '\r';
          } else {
            if (code !== 10) return CHUNKED_MALFORMED;
            this.line = '';
            this.state = State.Size;
          }
          position++;
          break;
        }
        case State.Size:
        case State.Trailer: {
          const lf = input.indexOf(10, position);
          const lineEnd = lf === -1 || lf >= end ? end : lf;
          const piece = input.toString('latin1', position, lineEnd);
          if (this.line.length + piece.length > MAX_LINE) return CHUNKED_TOO_LARGE;
          if (lineEnd === end) {
            this.line += piece;
            return CHUNKED_MORE;
          }
          const line = this.line + piece;
          this.line = '';
          position = lf + 1;
          if (line.charCodeAt(line.length - 1) !== 13) return CHUNKED_MALFORMED;
          const text = line.slice(0, -1);
          if (this.state === State.Size) {
            const match = SIZE_LINE.exec(text);
            if (match === null) return CHUNKED_MALFORMED;
            const size = Number.parseInt(match[1] as string, 16);
            if (!Number.isSafeInteger(size)) return CHUNKED_MALFORMED;
            if (size === 0) this.state = State.Trailer;
            else {
              this.remaining = size;
              this.state = State.Data;
            }
          } else {
            if (text === '') return position;
            this.trailerBytes += line.length + 1;
            if (this.trailerBytes > MAX_LINE) return CHUNKED_TOO_LARGE;
            if (!TRAILER_LINE.test(text)) return CHUNKED_MALFORMED;
          }
          break;
        }
      }
    }
    return CHUNKED_MORE;
  }
}

/** What follows the data of each chunk. */
export const CHUNK_END = Buffer.from('\r\n');
/** The last chunk and the end of an empty trailer section. */
export const LAST_CHUNK = Buffer.from('0\r\n\r\n');

/** The size line that precedes `length` bytes of chunk data. */
export function chunkHeader(length: number): string {
  return `${length.toString(16)}\r\n`;
}
