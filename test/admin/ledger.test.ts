import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../src/core/clock.js';
import { AvailabilityLedger, JOURNAL_FILE, ledgerRecordForEvent } from '../../src/admin/ledger.js';
import type { AvailabilityReport, EntityAvailability, LedgerOptions } from '../../src/admin/ledger.js';
import { assertWellFormed } from '../fixtures/ledger/checks.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const EPOCH = Date.UTC(2026, 0, 1);

interface Harness {
  readonly dir: string;
  readonly clock: ManualClock;
  open(options?: Omit<LedgerOptions, 'clock'>): AvailabilityLedger;
}

/** A temp data dir and a manual clock at EPOCH; everything opened is closed and removed after the test. */
function harness(t: { after(fn: () => void): void }): Harness {
  const dir = mkdtempSync(join(tmpdir(), 'ballast-ledger-'));
  const clock = new ManualClock(0, EPOCH);
  const opened: AvailabilityLedger[] = [];
  t.after(() => {
    for (const ledger of opened) ledger.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    dir,
    clock,
    open(options = {}) {
      const ledger = AvailabilityLedger.open(dir, { aliveIntervalMs: 0, ...options, clock });
      opened.push(ledger);
      return ledger;
    },
  };
}

function entity(report: AvailabilityReport, kind: string, id: string): EntityAvailability {
  const found = report.entities.find((candidate) => candidate.kind === kind && candidate.id === id);
  assert.ok(found, `no ${kind} ${id} in the report`);
  return found;
}

/** Everything but the process entity, whose history differs between runs by design. */
function withoutProcess(report: AvailabilityReport): readonly EntityAvailability[] {
  return report.entities.filter((candidate) => candidate.kind !== 'process');
}

describe('uptime arithmetic', () => {
  test('one incident: uptime per window, incident, MTTR and MTBF', (t) => {
    const h = harness(t);
    const ledger = h.open();
    ledger.record({ kind: 'server', id: 'web/web-1', up: true, cause: 'healthy' });
    h.clock.advance(30 * MINUTE);
    assert.equal(ledger.record({ kind: 'server', id: 'web/web-1', up: false, cause: 'timeout' }), true);
    h.clock.advance(10 * MINUTE);
    ledger.record({ kind: 'server', id: 'web/web-1', up: true, cause: 'recovered' });
    h.clock.advance(20 * MINUTE);

    const server = entity(ledger.availability(), 'server', 'web/web-1');
    assert.equal(server.state, 'up');
    assert.equal(server.firstSeen, EPOCH);
    // Observed for 60 minutes, down for 10: in every window, since only time after first seen counts.
    for (const window of ['1h', '24h', '30d'] as const) {
      assert.ok(Math.abs((server.uptime[window] ?? -1) - (100 * 50) / 60) < 1e-9, `${window}: ${server.uptime[window]}`);
      assert.equal(server.downtimeMs[window], 10 * MINUTE);
    }
    assert.deepEqual(server.incidents, [{ start: EPOCH + 30 * MINUTE, end: EPOCH + 40 * MINUTE, durationMs: 10 * MINUTE, cause: 'timeout' }]);
    assert.equal(server.incidentCount, 1);
    assert.equal(server.mttrMs, 10 * MINUTE);
    assert.equal(server.mtbfMs, 50 * MINUTE);
    assertWellFormed(ledger.availability());
  });

  test('windows slide: an incident leaves the 1 h window, then the 24 h one, and stays in 30 d', (t) => {
    const h = harness(t);
    const ledger = h.open();
    ledger.record({ kind: 'pool', id: 'web', up: true, cause: 'start' });
    h.clock.advance(2 * DAY);
    ledger.record({ kind: 'pool', id: 'web', up: false, cause: 'no healthy server' });
    h.clock.advance(30 * MINUTE);
    ledger.record({ kind: 'pool', id: 'web', up: true, cause: 'restored' });

    h.clock.advance(2 * HOUR);
    let pool = entity(ledger.availability(), 'pool', 'web');
    assert.equal(pool.uptime['1h'], 100);
    assert.ok(Math.abs((pool.uptime['24h'] ?? 0) - (100 * (DAY - 30 * MINUTE)) / DAY) < 1e-9);
    const observed = 2 * DAY + 150 * MINUTE;
    assert.ok(Math.abs((pool.uptime['30d'] ?? 0) - (100 * (observed - 30 * MINUTE)) / observed) < 1e-9);

    h.clock.advance(DAY);
    pool = entity(ledger.availability(), 'pool', 'web');
    assert.equal(pool.uptime['24h'], 100);
    assert.equal(pool.downtimeMs['24h'], 0);
    assert.equal(pool.downtimeMs['30d'], 30 * MINUTE);
    assert.equal(pool.incidents.length, 1);

    h.clock.advance(31 * DAY);
    pool = entity(ledger.availability(), 'pool', 'web');
    assert.equal(pool.uptime['30d'], 100);
    assert.deepEqual(pool.incidents, [], 'an incident older than 30 days is no longer listed');
    assert.equal(pool.incidentCount, 1, 'but still counts in the lifetime figures');
    assert.equal(pool.mttrMs, 30 * MINUTE);
  });

  test('an open incident grows with time; uptime counts it; the window edge cuts it', (t) => {
    const h = harness(t);
    const ledger = h.open();
    ledger.record({ kind: 'site', id: 'us-east', up: true, cause: 'heartbeat' });
    h.clock.advance(3 * HOUR);
    ledger.record({ kind: 'site', id: 'us-east', up: false, cause: 'heartbeat lost' });
    h.clock.advance(90 * MINUTE);
    const site = entity(ledger.availability(), 'site', 'us-east');
    assert.equal(site.state, 'down');
    assert.equal(site.uptime['1h'], 0);
    assert.equal(site.downtimeMs['1h'], HOUR);
    assert.ok(Math.abs((site.uptime['24h'] ?? 0) - (100 * 180) / 270) < 1e-9);
    assert.deepEqual(site.incidents, [{ start: EPOCH + 3 * HOUR, end: null, durationMs: 90 * MINUTE, cause: 'heartbeat lost' }]);
    assert.equal(site.mttrMs, null, 'nothing repaired yet');
    assert.equal(site.mtbfMs, 3 * HOUR);
  });

  test('an entity first seen down starts with an open incident; MTTR and MTBF over several incidents', (t) => {
    const h = harness(t);
    const ledger = h.open();
    ledger.record({ kind: 'server', id: 'db/pg-1', up: false, cause: 'refused' });
    h.clock.advance(4 * MINUTE);
    ledger.record({ kind: 'server', id: 'db/pg-1', up: true, cause: 'recovered' });
    h.clock.advance(56 * MINUTE);
    ledger.record({ kind: 'server', id: 'db/pg-1', up: false, cause: 'timeout' });
    h.clock.advance(6 * MINUTE);
    ledger.record({ kind: 'server', id: 'db/pg-1', up: true, cause: 'recovered' });
    h.clock.advance(54 * MINUTE);
    const server = entity(ledger.availability(), 'server', 'db/pg-1');
    assert.equal(server.incidentCount, 2);
    assert.equal(server.mttrMs, 5 * MINUTE);
    assert.equal(server.mtbfMs, 55 * MINUTE);
    assert.equal(server.incidents[0]?.start, EPOCH);
    assert.equal(server.downtimeMs['24h'], 10 * MINUTE);
  });

  test('only changes are stored; repeated states and earlier times are handled', (t) => {
    const h = harness(t);
    const ledger = h.open();
    assert.equal(ledger.record({ kind: 'server', id: 'web/web-1', up: true, cause: 'healthy' }), true);
    const size = ledger.journalBytes;
    assert.equal(ledger.record({ kind: 'server', id: 'web/web-1', up: true, cause: 'healthy again' }), false);
    assert.equal(ledger.journalBytes, size, 'a repeated state writes nothing');
    h.clock.advance(HOUR);
    // A time before the last change is moved up to it: history never runs backwards.
    ledger.record({ kind: 'server', id: 'web/web-1', up: false, cause: 'late', time: EPOCH - DAY });
    const server = entity(ledger.availability(), 'server', 'web/web-1');
    assert.equal(server.incidents[0]?.start, EPOCH);
    assert.equal(server.uptime['1h'], 0);
  });

  test('a retired entity is not observed; its open incident ends; it can come back', (t) => {
    const h = harness(t);
    const ledger = h.open();
    ledger.record({ kind: 'server', id: 'web/web-9', up: true, cause: 'healthy' });
    h.clock.advance(HOUR);
    ledger.record({ kind: 'server', id: 'web/web-9', up: false, cause: 'timeout' });
    h.clock.advance(HOUR);
    assert.equal(ledger.retire({ kind: 'server', id: 'web/web-9' }), true);
    assert.equal(ledger.retire({ kind: 'server', id: 'web/web-9' }), false);
    assert.equal(ledger.retire({ kind: 'server', id: 'web/never-seen' }), false);
    h.clock.advance(2 * HOUR);
    let server = entity(ledger.availability(), 'server', 'web/web-9');
    assert.equal(server.state, 'retired');
    assert.equal(server.uptime['1h'], null, 'nothing observed in the last hour');
    assert.equal(server.uptime['24h'], 50, 'observed 2 h, down 1 h; the retired 2 h do not count');
    assert.deepEqual(server.incidents[0], { start: EPOCH + HOUR, end: EPOCH + 2 * HOUR, durationMs: HOUR, cause: 'timeout' });

    ledger.record({ kind: 'server', id: 'web/web-9', up: true, cause: 'added back' });
    h.clock.advance(HOUR);
    server = entity(ledger.availability(), 'server', 'web/web-9');
    assert.equal(server.uptime['1h'], 100);
    assert.ok(Math.abs((server.uptime['24h'] ?? 0) - (100 * 2) / 3) < 1e-9);
    assert.equal(server.mtbfMs, 2 * HOUR);

    h.clock.advance(HOUR);
    ledger.retire({ kind: 'server', id: 'web/web-9' });
    h.clock.advance(31 * DAY);
    assert.equal(ledger.entity('server', 'web/web-9')?.state, 'retired');
    assert.equal(
      ledger.availability().entities.some((candidate) => candidate.id === 'web/web-9'),
      false,
      'entities retired for more than 30 days leave the report',
    );
  });

  test('folding old incidents into hourly totals keeps the figures when windows hold whole hours', (t) => {
    const h = harness(t);
    const detailed = h.open();
    const foldedDir = mkdtempSync(join(tmpdir(), 'ballast-ledger-folded-'));
    const folded = AvailabilityLedger.open(foldedDir, { clock: h.clock, aliveIntervalMs: 0, maxIncidentsPerEntity: 5 });
    t.after(() => {
      folded.close();
      rmSync(foldedDir, { recursive: true, force: true });
    });
    // 60 incidents over 60 hours, all within the 30-day window.
    for (let n = 0; n < 60; n += 1) {
      for (const ledger of [detailed, folded]) ledger.record({ kind: 'server', id: 'web/flappy', up: false, cause: `c${n}`, time: EPOCH + n * HOUR + 7 * MINUTE });
      for (const ledger of [detailed, folded]) ledger.record({ kind: 'server', id: 'web/flappy', up: true, cause: 'ok', time: EPOCH + n * HOUR + 19 * MINUTE });
    }
    const now = EPOCH + 3 * DAY;
    const a = detailed.entity('server', 'web/flappy', now);
    const b = folded.entity('server', 'web/flappy', now);
    assert.ok(a && b);
    assert.equal(a.incidents.length, 60);
    assert.equal(b.incidents.length, 5, 'detail is capped');
    assert.deepEqual(b.incidents, a.incidents.slice(-5));
    assert.equal(b.incidentCount, 60);
    assert.equal(b.mttrMs, a.mttrMs);
    assert.equal(b.mtbfMs, a.mtbfMs);
    assert.equal(b.uptime['30d'], a.uptime['30d']);
    assert.equal(b.downtimeMs['30d'], 60 * 12 * MINUTE);
    // The 24 h window starts exactly on an hour boundary, so folded hours are counted exactly.
    assert.ok(Math.abs((b.uptime['24h'] ?? 0) - (a.uptime['24h'] ?? 0)) < 1e-9);
  });
});

describe('durability', () => {
  test('a restart keeps the incidents and figures; the stop shows as a process incident', (t) => {
    const h = harness(t);
    const first = h.open();
    assert.equal(first.recovery.uncleanShutdown, false);
    assert.equal(first.recovery.lastAlive, null);
    first.record({ kind: 'server', id: 'web/web-1', up: true, cause: 'healthy' });
    h.clock.advance(HOUR);
    first.record({ kind: 'server', id: 'web/web-1', up: false, cause: 'timeout' });
    h.clock.advance(5 * MINUTE);
    first.record({ kind: 'server', id: 'web/web-1', up: true, cause: 'recovered' });
    first.record({ kind: 'site', id: 'eu-west', up: false, cause: 'heartbeat lost' });
    h.clock.advance(MINUTE);
    const before = first.availability(EPOCH + 2 * HOUR);
    first.close();
    assert.equal(first.record({ kind: 'pool', id: 'web', up: true, cause: 'after close' }), false);

    h.clock.advance(10 * MINUTE);
    const second = h.open();
    assert.equal(second.recovery.uncleanShutdown, false);
    const after = second.availability(EPOCH + 2 * HOUR);
    assert.deepEqual(withoutProcess(after), withoutProcess(before));
    assert.equal(entity(after, 'site', 'eu-west').state, 'down', 'a down entity stays down across the restart');
    const processEntity = entity(second.availability(), 'process', 'ballast');
    assert.equal(processEntity.state, 'up');
    assert.deepEqual(processEntity.incidents, [{ start: EPOCH + 66 * MINUTE, end: EPOCH + 76 * MINUTE, durationMs: 10 * MINUTE, cause: 'stopped' }]);
    assertWellFormed(second.availability());
  });

  test('after an unclean shutdown the process is down from its last sign of life', (t) => {
    const h = harness(t);
    const running = h.open();
    running.record({ kind: 'pool', id: 'web', up: true, cause: 'restored' });
    h.clock.advance(20 * MINUTE);
    running.record({ kind: 'pool', id: 'web', up: false, cause: 'no healthy server' });
    // Copy the file while the ledger is still open: what a crash at this moment leaves behind.
    const crashDir = mkdtempSync(join(tmpdir(), 'ballast-ledger-crash-'));
    t.after(() => rmSync(crashDir, { recursive: true, force: true }));
    copyFileSync(join(h.dir, JOURNAL_FILE), join(crashDir, JOURNAL_FILE));

    h.clock.advance(HOUR);
    const recovered = AvailabilityLedger.open(crashDir, { clock: h.clock, aliveIntervalMs: 0 });
    t.after(() => recovered.close());
    assert.equal(recovered.recovery.uncleanShutdown, true);
    assert.equal(recovered.recovery.lastAlive, EPOCH + 20 * MINUTE);
    const report = recovered.availability();
    const processEntity = entity(report, 'process', 'ballast');
    assert.deepEqual(processEntity.incidents, [{ start: EPOCH + 20 * MINUTE, end: EPOCH + 80 * MINUTE, durationMs: HOUR, cause: 'unclean shutdown' }]);
    const pool = entity(report, 'pool', 'web');
    assert.equal(pool.state, 'down');
    assert.equal(pool.incidents[0]?.durationMs, HOUR, 'the pool incident continues through the crash');
  });

  test('alive marks bound the downtime an unclean shutdown can hide', async (t) => {
    const h = harness(t);
    const running = h.open({ aliveIntervalMs: 20 });
    running.record({ kind: 'pool', id: 'web', up: true, cause: 'restored' });
    const before = running.journalBytes;
    h.clock.advance(45 * MINUTE);
    const deadline = Date.now() + 30_000;
    while (running.journalBytes === before && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.ok(running.journalBytes > before, 'an alive mark was written');
    const crashDir = mkdtempSync(join(tmpdir(), 'ballast-ledger-alive-'));
    t.after(() => rmSync(crashDir, { recursive: true, force: true }));
    copyFileSync(join(h.dir, JOURNAL_FILE), join(crashDir, JOURNAL_FILE));
    h.clock.advance(15 * MINUTE);
    const recovered = AvailabilityLedger.open(crashDir, { clock: h.clock, aliveIntervalMs: 0 });
    t.after(() => recovered.close());
    assert.equal(recovered.recovery.lastAlive, EPOCH + 45 * MINUTE);
    assert.equal(entity(recovered.availability(), 'process', 'ballast').incidents[0]?.durationMs, 15 * MINUTE);
  });

  test('background flushes, compactions and close interleave without errors', async (t) => {
    const h = harness(t);
    const errors: Error[] = [];
    const ledger = h.open({ syncIntervalMs: 1, maxJournalBytes: 4096, onError: (error) => errors.push(error) });
    for (let round = 0; round < 40; round += 1) {
      for (let n = 0; n < 10; n += 1) {
        h.clock.advance(1000);
        ledger.record({ kind: 'server', id: `web/web-${n}`, up: round % 2 === 0, cause: 'flip' });
      }
      // Let a flush start on the thread pool while the next records and compactions run.
      await new Promise((resolve) => setImmediate(resolve));
      if (round % 3 === 0) await new Promise((resolve) => setTimeout(resolve, 2));
    }
    const expected = ledger.availability();
    ledger.close();
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(errors, []);
    const reopened = h.open();
    assert.deepEqual(withoutProcess(reopened.availability(expected.now)), withoutProcess(expected));
  });

  test('a torn or corrupt tail is cut off and everything before it survives', (t) => {
    const h = harness(t);
    const ledger = h.open();
    for (let n = 0; n < 20; n += 1) {
      h.clock.advance(MINUTE);
      ledger.record({ kind: 'server', id: 'web/web-1', up: n % 2 === 1, cause: `n${n}` });
    }
    const expected = ledger.availability(EPOCH + DAY);
    ledger.close();
    const path = join(h.dir, JOURNAL_FILE);
    const intact = statSync(path).size;

    // A frame header promising more bytes than were written, as a crash mid-append leaves.
    const torn = Buffer.alloc(20);
    torn.writeUInt32LE(64, 0);
    appendFileSync(path, torn);
    const reopened = AvailabilityLedger.open(h.dir, { clock: h.clock, aliveIntervalMs: 0 });
    assert.equal(reopened.recovery.truncatedBytes, 20);
    assert.equal(reopened.recovery.uncleanShutdown, false);
    assert.deepEqual(withoutProcess(reopened.availability(EPOCH + DAY)), withoutProcess(expected));
    reopened.close();

    // Flip one byte inside the last record: its checksum fails, so it and what follows go.
    const bytes = readFileSync(path);
    const lastRecordEnd = bytes.length;
    bytes[lastRecordEnd - 3] = (bytes[lastRecordEnd - 3] ?? 0) ^ 0xff;
    writeFileSync(path, bytes);
    const again = AvailabilityLedger.open(h.dir, { clock: h.clock, aliveIntervalMs: 0 });
    t.after(() => again.close());
    assert.ok(again.recovery.truncatedBytes > 0);
    assert.ok(statSync(path).size >= intact, 'only the damaged record was lost');
    assert.deepEqual(withoutProcess(again.availability(EPOCH + DAY)), withoutProcess(expected));
    assertWellFormed(again.availability());
  });

  test('a foreign file is moved aside, never overwritten; a torn header starts afresh', (t) => {
    const h = harness(t);
    const path = join(h.dir, JOURNAL_FILE);
    writeFileSync(path, 'this is somebody else\'s file\n');
    const ledger = h.open();
    assert.ok(ledger.recovery.quarantined !== null);
    assert.equal(readFileSync(ledger.recovery.quarantined, 'utf8'), 'this is somebody else\'s file\n');
    ledger.record({ kind: 'pool', id: 'web', up: true, cause: 'restored' });
    ledger.close();

    const otherDir = mkdtempSync(join(tmpdir(), 'ballast-ledger-header-'));
    t.after(() => rmSync(otherDir, { recursive: true, force: true }));
    writeFileSync(join(otherDir, JOURNAL_FILE), Buffer.from('BLE', 'latin1'));
    const fresh = AvailabilityLedger.open(otherDir, { clock: h.clock, aliveIntervalMs: 0 });
    t.after(() => fresh.close());
    assert.equal(fresh.recovery.quarantined, null);
    assert.equal(fresh.recovery.records, 0);
    assert.deepEqual(withoutProcess(fresh.availability()), []);
  });

  test('a snapshot left half-written by a crash during compaction is discarded', (t) => {
    const h = harness(t);
    const ledger = h.open();
    ledger.record({ kind: 'pool', id: 'web', up: false, cause: 'empty' });
    const expected = ledger.availability(EPOCH + HOUR);
    ledger.close();
    writeFileSync(join(h.dir, `${JOURNAL_FILE}.compacting`), Buffer.from('BLEDGER\u0001garbage', 'latin1'));
    const reopened = h.open();
    assert.ok(!existsSync(join(h.dir, `${JOURNAL_FILE}.compacting`)));
    assert.deepEqual(withoutProcess(reopened.availability(EPOCH + HOUR)), withoutProcess(expected));
  });
});

describe('compaction', () => {
  test('compaction keeps every figure identical, before and after a restart', (t) => {
    const h = harness(t);
    const ledger = h.open({ maxJournalBytes: 1 << 30 });
    for (let n = 0; n < 400; n += 1) {
      h.clock.advance(7 * MINUTE);
      ledger.record({ kind: 'server', id: `web/web-${n % 7}`, up: n % 3 !== 0, cause: `cause-${n % 5}` });
      if (n % 11 === 0) ledger.record({ kind: 'pool', id: 'web', up: n % 22 !== 0, cause: 'pool' });
      if (n === 200) ledger.retire({ kind: 'server', id: 'web/web-3' });
    }
    const now = h.clock.wallNow() + HOUR;
    const before = ledger.availability(now);
    const sizeBefore = ledger.journalBytes;
    ledger.compact();
    assert.ok(ledger.journalBytes < sizeBefore, `${ledger.journalBytes} < ${sizeBefore}`);
    assert.deepEqual(ledger.availability(now), before);
    ledger.close();
    const reopened = h.open();
    assert.deepEqual(withoutProcess(reopened.availability(now)), withoutProcess(before));
    assertWellFormed(reopened.availability(now));
  });

  test('a journal over the limit is compacted on open, so restarts cannot grow it', (t) => {
    const h = harness(t);
    const roomy = h.open({ maxJournalBytes: 1 << 30, maxIncidentsPerEntity: 20 });
    for (let n = 0; n < 3000; n += 1) {
      h.clock.advance(1000);
      roomy.record({ kind: 'pool', id: `pool-${n % 4}`, up: n % 8 < 4, cause: 'churn' });
    }
    const now = h.clock.wallNow();
    const expected = roomy.availability(now);
    roomy.close();
    const grown = statSync(join(h.dir, JOURNAL_FILE)).size;
    assert.ok(grown > 64 * 1024);
    const tight = h.open({ maxJournalBytes: 16 * 1024, maxIncidentsPerEntity: 20 });
    assert.ok(tight.journalBytes < 16 * 1024, `still ${tight.journalBytes} bytes after open`);
    assert.deepEqual(withoutProcess(tight.availability(now)), withoutProcess(expected));
  });

  test('compaction drops detail older than 30 days but keeps lifetime totals', (t) => {
    const h = harness(t);
    const ledger = h.open();
    ledger.record({ kind: 'server', id: 'web/web-1', up: false, cause: 'old' });
    h.clock.advance(HOUR);
    ledger.record({ kind: 'server', id: 'web/web-1', up: true, cause: 'ok' });
    h.clock.advance(40 * DAY);
    ledger.record({ kind: 'server', id: 'web/web-1', up: false, cause: 'recent' });
    h.clock.advance(HOUR);
    ledger.record({ kind: 'server', id: 'web/web-1', up: true, cause: 'ok' });
    const before = ledger.entity('server', 'web/web-1');
    ledger.compact();
    const after = ledger.entity('server', 'web/web-1');
    assert.deepEqual(after, before);
    assert.equal(after?.incidents.length, 1);
    assert.equal(after?.incidentCount, 2);
    assert.equal(after?.mttrMs, HOUR);
  });

  test('heavy churn keeps the file bounded and the figures equal to an uncompacted ledger', (t) => {
    const h = harness(t);
    const limit = 32 * 1024;
    const small = h.open({ maxJournalBytes: limit, maxIncidentsPerEntity: 10 });
    const bigDir = mkdtempSync(join(tmpdir(), 'ballast-ledger-big-'));
    const big = AvailabilityLedger.open(bigDir, { clock: h.clock, aliveIntervalMs: 0, maxJournalBytes: 1 << 30, maxIncidentsPerEntity: 10 });
    t.after(() => {
      big.close();
      rmSync(bigDir, { recursive: true, force: true });
    });
    let largest = 0;
    for (let n = 0; n < 20_000; n += 1) {
      h.clock.advance(1000);
      const entry = { kind: 'server' as const, id: `web/web-${n % 13}`, up: (n >> 1) % 2 === 0, cause: 'churn' };
      small.record(entry);
      big.record(entry);
      largest = Math.max(largest, small.journalBytes);
    }
    assert.ok(big.journalBytes > 10 * limit, 'the uncompacted journal grew');
    // Bounded by the limit (or twice the snapshot, tiny here) plus one record.
    assert.ok(largest <= limit + 512, `journal reached ${largest} bytes`);
    const now = h.clock.wallNow();
    assert.deepEqual(withoutProcess(small.availability(now)), withoutProcess(big.availability(now)));
    const files = readdirSync(h.dir);
    assert.deepEqual(files, [JOURNAL_FILE], 'no leftover files');
  });
});

describe('events', () => {
  test('ledgerRecordForEvent maps availability events and ignores the rest', () => {
    const time = EPOCH;
    assert.deepEqual(ledgerRecordForEvent({ type: 'server-down', time, pool: 'web', server: 'web-1', reason: 'timeout' }), {
      kind: 'server',
      id: 'web/web-1',
      up: false,
      cause: 'timeout',
      time,
    });
    assert.equal(ledgerRecordForEvent({ type: 'server-ejected', time, pool: 'web', server: 'web-1' })?.up, false);
    assert.equal(ledgerRecordForEvent({ type: 'server-restored', time, pool: 'web', server: 'web-1' })?.up, true);
    assert.deepEqual(ledgerRecordForEvent({ type: 'pool-empty', time, pool: 'web' }), { kind: 'pool', id: 'web', up: false, cause: 'pool-empty', time });
    assert.equal(ledgerRecordForEvent({ type: 'pool-restored', time, pool: 'web' })?.up, true);
    assert.equal(ledgerRecordForEvent({ type: 'pool-degraded', time, pool: 'web' })?.up, true, 'a degraded pool still serves');
    assert.deepEqual(ledgerRecordForEvent({ type: 'site-down', time, site: 'us-east', reason: 'heartbeat lost' }), {
      kind: 'site',
      id: 'us-east',
      up: false,
      cause: 'heartbeat lost',
      time,
    });
    for (const type of ['server-draining', 'server-disabled', 'server-weight', 'dns-changed', 'config-reloaded'] as const) {
      assert.equal(ledgerRecordForEvent({ type, time, pool: 'web', server: 'web-1' }), null, type);
    }
    assert.equal(ledgerRecordForEvent({ type: 'server-down', time }), null, 'a server event without names is ignored');
  });

  test('recordEvent records through the mapping', (t) => {
    const h = harness(t);
    const ledger = h.open();
    assert.equal(ledger.recordEvent({ type: 'site-up', time: EPOCH, site: 'eu-west' }), true);
    assert.equal(ledger.recordEvent({ type: 'site-down', time: EPOCH + MINUTE, site: 'eu-west', reason: 'quorum' }), true);
    assert.equal(ledger.recordEvent({ type: 'config-reloaded', time: EPOCH + MINUTE }), false);
    assert.equal(ledger.entity('site', 'eu-west', EPOCH + 2 * MINUTE)?.incidents[0]?.cause, 'quorum');
  });
});
