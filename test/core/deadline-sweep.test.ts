/**
 * The shared interval that checks connection deadlines: it runs only while
 * it has members, and never less often than its newest member needs while
 * older ones remain.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeadlineSweep, type Timed } from '../../src/core/deadline-sweep.js';

class Counted implements Timed {
  checks = 0;
  checkDeadline(): void {
    this.checks++;
  }
}

test('members are checked about every interval, and not after they left', async () => {
  const sweep = new DeadlineSweep<Counted>();
  const member = new Counted();
  sweep.add(member, 20);
  await sleep(500);
  // About 25; a busy machine delays intervals, it never runs them early.
  assert.ok(member.checks >= 5 && member.checks <= 26, `${member.checks} checks in 500 ms at 20 ms`);
  sweep.delete(member);
  const after = member.checks;
  await sleep(100);
  assert.equal(member.checks, after);
  assert.equal(sweep.size, 0);
});

test('a member that needs a longer interval does not slow the checks of one that needs a shorter', async () => {
  const sweep = new DeadlineSweep<Counted>();
  const strict = new Counted();
  const relaxed = new Counted();
  sweep.add(strict, 20);
  sweep.add(relaxed, 1000);
  await sleep(500);
  assert.ok(strict.checks >= 5, `${strict.checks} checks in 500 ms: the 20 ms interval stayed`);
  sweep.delete(strict);
  sweep.delete(relaxed);

  // Once empty, the sweep starts over with the interval of its next member.
  const next = new Counted();
  sweep.add(next, 1000);
  await sleep(300);
  assert.equal(next.checks, 0, 'a 1 s interval has not run after 300 ms');
  sweep.delete(next);
});
