import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../src/core/clock.js';
import { AvailabilityLedger, JOURNAL_FILE } from '../../src/admin/ledger.js';
import type { AvailabilityReport, EntityAvailability } from '../../src/admin/ledger.js';
import { CHURN_BASE_TIME, CHURN_JOURNAL_BYTES, CHURN_MAX_INCIDENTS, CHURN_STEP_MS, applyChurnEvent } from '../fixtures/ledger/churn-events.js';
import { assertWellFormed } from '../fixtures/ledger/checks.js';

const CHILD = join('build', 'test', 'fixtures', 'ledger', 'churn.js');
const DAY = 24 * 3_600_000;
/** Later than any churn event, and less than 30 days after them, so nothing is pruned. */
const NOW = CHURN_BASE_TIME + 10 * DAY;
const BATCH = 500;

interface ChildEnd {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
}

/** Runs the churn child from event `start` and SIGKILLs it right after its `batches`-th progress report. */
function churnAndKill(dir: string, start: number, batches: number, children: Set<ChildProcess>): Promise<ChildEnd> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, dir, String(start)], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    // Bound: the child stops by itself after 20 s; never wait much longer than that.
    const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
    let pending = '';
    let progress = 0;
    let stderr = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (line.startsWith('progress ')) progress += 1;
        if (progress === batches) child.kill('SIGKILL');
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(guard);
      children.delete(child);
      resolve({ code, signal, stderr });
    });
  });
}

function withoutProcess(report: AvailabilityReport): readonly EntityAvailability[] {
  return report.entities.filter((entity) => entity.kind !== 'process');
}

test('SIGKILL during heavy churn: the store opens and holds exactly the surviving prefix of changes', { timeout: 170_000 }, async (t) => {
  assert.ok(existsSync(CHILD), `${CHILD} is missing: compile with npx tsc -p tsconfig.test.json`);
  const dir = mkdtempSync(join(tmpdir(), 'ballast-ledger-churn-'));
  const simDir = mkdtempSync(join(tmpdir(), 'ballast-ledger-sim-'));
  const children = new Set<ChildProcess>();
  const clock = new ManualClock(0, NOW);
  // The same changes applied in process, without crashes, as the reference.
  const simulation = AvailabilityLedger.open(simDir, { clock, aliveIntervalMs: 0, maxIncidentsPerEntity: CHURN_MAX_INCIDENTS, maxJournalBytes: 1 << 30 });
  t.after(() => {
    for (const child of children) child.kill('SIGKILL');
    simulation.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(simDir, { recursive: true, force: true });
  });

  let applied = 0;
  for (const batches of [3, 8, 5, 14]) {
    const end = await churnAndKill(dir, applied, batches, children);
    assert.equal(end.signal, 'SIGKILL', `the child should have been killed mid-run (exit ${end.code}): ${end.stderr}`);

    const ledger = AvailabilityLedger.open(dir, {
      clock,
      aliveIntervalMs: 0,
      maxIncidentsPerEntity: CHURN_MAX_INCIDENTS,
      maxJournalBytes: CHURN_JOURNAL_BYTES,
    });
    try {
      assert.equal(ledger.recovery.uncleanShutdown, true);
      const recovered = ledger.availability(NOW);
      assertWellFormed(recovered);
      const changes = withoutProcess(recovered);
      assert.ok(changes.length > 0);

      // Event i happens at CHURN_BASE_TIME + i * step, so the newest change on disk names the prefix that survived.
      const newest = Math.max(...changes.map((entity) => entity.since));
      const survived = (newest - CHURN_BASE_TIME) / CHURN_STEP_MS + 1;
      assert.ok(Number.isInteger(survived), `unexpected time ${newest}`);
      assert.ok(survived > applied + (batches - 1) * BATCH, `only ${survived - applied} changes survived ${batches} batches`);

      for (; applied < survived; applied += 1) applyChurnEvent(simulation, applied);
      assert.deepEqual(changes, withoutProcess(simulation.availability(NOW)));

      const processEntity = recovered.entities.find((entity) => entity.kind === 'process');
      assert.ok(processEntity);
      assert.equal(processEntity.state, 'up');
      assert.ok(processEntity.incidents.some((incident) => incident.cause === 'unclean shutdown'));
      assert.ok(ledger.journalBytes < 1024 * 1024, `journal grew to ${ledger.journalBytes} bytes`);
      assert.deepEqual(readdirSync(dir), [JOURNAL_FILE]);
    } finally {
      ledger.close();
    }
  }
});
