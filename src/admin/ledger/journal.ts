/**
 * An append-only journal of checksummed records in one file, with crash
 * recovery and atomic rewrite (used for compaction).
 *
 * File format: an 8-byte header (`BLEDGER` + format version 1), then frames:
 *
 *     u32 LE  payload length N (1 .. MAX_PAYLOAD_BYTES)
 *     u32 LE  CRC-32 of the 4 length bytes followed by the payload
 *     N bytes UTF-8 JSON payload
 *
 * Recovery reads frames until the first one that is incomplete, fails its
 * checksum, does not parse, or is refused by the caller, and truncates the
 * file there: what remains is exactly the prefix of records that were fully
 * written. A file that does not start with the header (and is not a torn
 * header) is not ours to overwrite; it is renamed aside and a new journal
 * starts.
 *
 * Durability: each append is written to the file at once (one `write`
 * system call, so a killed process loses nothing already appended), and
 * `fdatasync` runs in the background at most every `syncIntervalMs`, so a
 * power loss or kernel crash loses at most that much recent history.
 *
 * Single writer: one process owns a journal file at a time.
 */
import {
  closeSync,
  fdatasync,
  fdatasyncSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';

export const JOURNAL_FILE = 'ledger.journal';
/** Suffix of the snapshot being written by a compaction; a leftover one is discarded on open. */
export const COMPACTING_SUFFIX = '.compacting';
/** Infix of a renamed foreign or damaged file: `ledger.journal.damaged-<ms>`. */
export const DAMAGED_INFIX = '.damaged-';

const MAGIC = Buffer.from('BLEDGER\u0001', 'latin1');
const FRAME_HEADER_BYTES = 8;
export const MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;

export interface JournalRecovery {
  /** Records read back intact. */
  readonly records: number;
  /** Bytes cut from the end because they were torn or corrupt. */
  readonly truncatedBytes: number;
  /** Where an unreadable file was moved, or null. */
  readonly quarantined: string | null;
}

export interface JournalOptions {
  readonly syncIntervalMs: number;
  /** Wall-clock ms, used to name a quarantined file. */
  readonly now: number;
  /** Background failures (fdatasync, closing a retired file) are reported here. */
  readonly onError: (error: Error) => void;
}

export class Journal {
  private readonly path: string;
  private readonly dir: string;
  private readonly options: JournalOptions;
  private fd: number;
  private bytes: number;
  private syncTimer: NodeJS.Timeout | null = null;
  private syncingFd: number | null = null;
  /** File descriptors replaced or closed while a background sync still used them. */
  private readonly closeAfterSync = new Set<number>();
  private dirty = false;
  private closed = false;

  private constructor(dir: string, path: string, fd: number, bytes: number, options: JournalOptions) {
    this.dir = dir;
    this.path = path;
    this.fd = fd;
    this.bytes = bytes;
    this.options = options;
  }

  /**
   * Opens (creating `dir` and the file if needed) and recovers the journal,
   * handing each intact record's decoded payload to `accept` in order; a
   * record `accept` refuses is treated as corrupt. O(file size).
   */
  static open(dir: string, options: JournalOptions, accept: (payload: unknown) => boolean): { journal: Journal; recovery: JournalRecovery } {
    mkdirSync(dir, { recursive: true });
    const path = join(dir, JOURNAL_FILE);
    rmSync(path + COMPACTING_SUFFIX, { force: true });
    let data: Buffer | null;
    try {
      data = readFileSync(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      data = null;
    }
    let quarantined: string | null = null;
    if (data !== null && data.length >= MAGIC.length && !data.subarray(0, MAGIC.length).equals(MAGIC)) {
      quarantined = `${path}${DAMAGED_INFIX}${Math.floor(options.now)}`;
      renameSync(path, quarantined);
      data = null;
    }
    if (data === null || data.length < MAGIC.length) {
      // Absent, renamed aside, or a header torn while the file was created: start empty.
      const fd = openSync(path, 'w+');
      writeFully(fd, MAGIC, 0);
      fsyncSync(fd);
      syncDirectory(dir);
      return { journal: new Journal(dir, path, fd, MAGIC.length, options), recovery: { records: 0, truncatedBytes: data?.length ?? 0, quarantined } };
    }
    let offset = MAGIC.length;
    let records = 0;
    while (offset + FRAME_HEADER_BYTES <= data.length) {
      const length = data.readUInt32LE(offset);
      const checksum = data.readUInt32LE(offset + 4);
      const end = offset + FRAME_HEADER_BYTES + length;
      if (length === 0 || length > MAX_PAYLOAD_BYTES || end > data.length) break;
      const payload = data.subarray(offset + FRAME_HEADER_BYTES, end);
      if (frameChecksum(data.subarray(offset, offset + 4), payload) !== checksum) break;
      let value: unknown;
      try {
        value = JSON.parse(payload.toString('utf8'));
      } catch {
        break;
      }
      if (!accept(value)) break;
      offset = end;
      records += 1;
    }
    const fd = openSync(path, 'r+');
    const truncatedBytes = data.length - offset;
    if (truncatedBytes > 0) {
      ftruncateSync(fd, offset);
      fsyncSync(fd);
    }
    return { journal: new Journal(dir, path, fd, offset, options), recovery: { records, truncatedBytes, quarantined } };
  }

  /** Current file size in bytes. */
  get size(): number {
    return this.bytes;
  }

  /**
   * Appends one record. Throws when the write fails (disk full, I/O error)
   * after cutting the file back to its last complete record, so later
   * appends still land on a clean boundary.
   */
  append(payload: unknown): void {
    if (this.closed) throw new Error('journal is closed');
    const frame = encodeFrame(payload);
    try {
      writeFully(this.fd, frame, this.bytes);
    } catch (error) {
      try {
        ftruncateSync(this.fd, this.bytes);
      } catch {
        // The write error below is the one worth reporting; recovery on the
        // next open cuts any torn tail this truncate could not remove.
      }
      throw error;
    }
    this.bytes += frame.length;
    this.dirty = true;
    this.scheduleSync();
  }

  /**
   * Atomically replaces the whole journal with `payloads`: writes them to a
   * side file, fsyncs it, renames it over the journal and fsyncs the
   * directory. A crash at any point leaves either the old or the new file.
   * O(size of payloads). Throws on failure, leaving the old journal in use.
   */
  rewrite(payloads: readonly unknown[]): void {
    if (this.closed) throw new Error('journal is closed');
    const frames = [MAGIC, ...payloads.map(encodeFrame)];
    const content = Buffer.concat(frames);
    const side = this.path + COMPACTING_SUFFIX;
    const fd = openSync(side, 'w+');
    try {
      writeFully(fd, content, 0);
      fsyncSync(fd);
      renameSync(side, this.path);
    } catch (error) {
      closeSync(fd);
      rmSync(side, { force: true });
      throw error;
    }
    syncDirectory(this.dir);
    const previous = this.fd;
    this.fd = fd;
    this.bytes = content.length;
    this.dirty = false;
    this.release(previous);
  }

  /** Flushes to stable storage and closes. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.syncTimer !== null) clearTimeout(this.syncTimer);
    this.syncTimer = null;
    try {
      fdatasyncSync(this.fd);
    } catch (error) {
      this.options.onError(error as Error);
    }
    this.release(this.fd);
  }

  private scheduleSync(): void {
    if (this.syncTimer !== null || this.syncingFd !== null || this.closed) return;
    this.syncTimer = setTimeout(() => this.runSync(), this.options.syncIntervalMs);
    this.syncTimer.unref();
  }

  private runSync(): void {
    this.syncTimer = null;
    if (!this.dirty || this.closed) return;
    this.dirty = false;
    const fd = this.fd;
    this.syncingFd = fd;
    fdatasync(fd, (error) => {
      this.syncingFd = null;
      if (this.closeAfterSync.delete(fd)) {
        this.closeQuietly(fd);
      } else if (error) {
        this.options.onError(error);
      }
      if (this.dirty) this.scheduleSync();
    });
  }

  /** Closes `fd` now, or after the background sync that is using it finishes. */
  private release(fd: number): void {
    if (this.syncingFd === fd) this.closeAfterSync.add(fd);
    else this.closeQuietly(fd);
  }

  private closeQuietly(fd: number): void {
    try {
      closeSync(fd);
    } catch (error) {
      this.options.onError(error as Error);
    }
  }
}

function frameChecksum(lengthBytes: Buffer, payload: Buffer): number {
  return crc32(payload, crc32(lengthBytes));
}

function encodeFrame(payload: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(payload), 'utf8');
  if (body.length === 0 || body.length > MAX_PAYLOAD_BYTES) throw new RangeError(`journal record of ${body.length} bytes`);
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + body.length);
  frame.writeUInt32LE(body.length, 0);
  body.copy(frame, FRAME_HEADER_BYTES);
  frame.writeUInt32LE(frameChecksum(frame.subarray(0, 4), body), 4);
  return frame;
}

function writeFully(fd: number, buffer: Buffer, position: number): void {
  let written = 0;
  while (written < buffer.length) {
    written += writeSync(fd, buffer, written, buffer.length - written, position + written);
  }
}

/**
 * Makes a rename or file creation in `dir` durable. Some platforms cannot
 * fsync a directory; there the rename is as durable as the platform allows,
 * so the failure is not an error.
 */
function syncDirectory(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, 'r');
  } catch {
    return;
  }
  try {
    fsyncSync(fd);
  } catch {
    // See above: unsupported on this platform.
  } finally {
    closeSync(fd);
  }
}
