/**
 * The contract every balancer keeps, run by conformance.test.ts for each
 * algorithm. Algorithm-specific behaviour lives in the per-algorithm files.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pickOrThrow } from '../../src/balancers/index.js';
import type { Balancer } from '../../src/balancers/types.js';
import { ErrorCodes, NoServerAvailableError } from '../../src/core/errors.js';
import { seededRandom } from '../../src/core/random.js';
import { addUp, contextFor, FakeTarget, makeTargets, pickNames, tally } from './fake-target.js';

const PICKS = 3000;

export function runConformance(algorithm: string, make: () => Balancer<FakeTarget>): void {
  describe(`${algorithm}: conformance`, () => {
    test('an empty pool yields null, and pickOrThrow a typed 503 error', () => {
      const balancer = make();
      assert.equal(balancer.pick(contextFor(0)), null);
      assert.throws(
        () => pickOrThrow(balancer, contextFor(0), 'web'),
        (error: unknown) =>
          error instanceof NoServerAvailableError &&
          error.code === ErrorCodes.NO_SERVER_AVAILABLE &&
          error.status === 503 &&
          error.message.includes('"web"'),
      );
    });

    test('a new server stays down until setUp', () => {
      const balancer = make();
      const [a] = makeTargets(['a']);
      balancer.add(a!);
      assert.equal(balancer.pick(contextFor(1)), null);
      balancer.setUp(a!);
      assert.equal(pickOrThrow(balancer, contextFor(1), 'web'), a);
    });

    test('skips down servers and takes them back after setUp', () => {
      const balancer = make();
      const targets = makeTargets(['a', 'b', 'c', 'd']);
      addUp(balancer, targets);
      balancer.setDown(targets[1]!);
      const whileDown = tally(pickNames(balancer, PICKS));
      assert.equal(whileDown.get('b'), undefined);
      assert.equal(whileDown.get('null'), undefined);
      for (const name of ['a', 'c', 'd']) assert.ok((whileDown.get(name) ?? 0) > 0, `${name} gets traffic`);
      balancer.setUp(targets[1]!);
      assert.ok((tally(pickNames(balancer, PICKS)).get('b') ?? 0) > 0, 'b is back');
      for (const target of targets) balancer.setDown(target);
      assert.equal(balancer.pick(contextFor(2)), null);
    });

    test('never picks a weight-0 server, and follows weight changes at run time', () => {
      const balancer = make();
      const targets = makeTargets(['a', 'b', 'c'], [1, 0, 1]);
      addUp(balancer, targets);
      assert.equal(tally(pickNames(balancer, PICKS)).get('b'), undefined);
      targets[1]!.weight = 2;
      balancer.reweight(targets[1]!);
      assert.ok((tally(pickNames(balancer, PICKS)).get('b') ?? 0) > 0, 'b picked after its weight rose');
      targets[0]!.weight = 0;
      balancer.reweight(targets[0]!);
      assert.equal(tally(pickNames(balancer, PICKS)).get('a'), undefined);
      for (const target of targets) {
        target.weight = 0;
        balancer.reweight(target);
      }
      assert.equal(balancer.pick(contextFor(3)), null);
    });

    test('skips servers at capacity, and yields null when all are', () => {
      const balancer = make();
      const targets = makeTargets(['a', 'b', 'c']);
      addUp(balancer, targets);
      targets[0]!.maxConnections = 0;
      const counts = tally(pickNames(balancer, PICKS));
      assert.equal(counts.get('a'), undefined);
      assert.equal(counts.get('null'), undefined);
      for (const target of targets) target.maxConnections = 0;
      assert.equal(balancer.pick(contextFor(4)), null);
      targets[2]!.maxConnections = Infinity;
      assert.equal(balancer.pick(contextFor(4)), targets[2]);
    });

    test('adds and removes servers at run time', () => {
      const balancer = make();
      const targets = makeTargets(['a', 'b', 'c']);
      addUp(balancer, targets);
      const d = new FakeTarget('d');
      addUp(balancer, [d]);
      assert.ok((tally(pickNames(balancer, PICKS)).get('d') ?? 0) > 0, 'd picked after add');
      balancer.remove(targets[0]!);
      const afterRemove = tally(pickNames(balancer, PICKS));
      assert.equal(afterRemove.get('a'), undefined);
      for (const name of ['b', 'c', 'd']) assert.ok((afterRemove.get(name) ?? 0) > 0, `${name} still picked`);
      balancer.add(targets[0]!);
      assert.equal(tally(pickNames(balancer, PICKS)).get('a'), undefined, 'a re-added starts down');
      for (const target of [...targets, d]) balancer.remove(target);
      assert.equal(balancer.pick(contextFor(5)), null);
    });

    test('repeated calls and calls for non-members are harmless', () => {
      const balancer = make();
      const targets = makeTargets(['a', 'b']);
      const stranger = new FakeTarget('x');
      addUp(balancer, targets);
      balancer.add(targets[0]!);
      balancer.setUp(targets[0]!);
      balancer.setDown(targets[1]!);
      balancer.setDown(targets[1]!);
      balancer.setUp(stranger);
      balancer.setDown(stranger);
      balancer.reweight(stranger);
      balancer.remove(stranger);
      balancer.onRequestStart?.(stranger);
      balancer.onRequestEnd?.(stranger, 5);
      const counts = tally(pickNames(balancer, PICKS));
      assert.deepEqual([...counts.keys()], ['a']);
    });

    test('picks only members and survives a request lifecycle with the hooks', () => {
      const balancer = make();
      const targets = makeTargets(['a', 'b', 'c', 'd', 'e'], [1, 2, 3, 1, 2]);
      for (const target of targets) target.maxConnections = 8;
      addUp(balancer, targets);
      const open: FakeTarget[] = [];
      const members = new Set(targets);
      for (let i = 0; i < 20_000; i++) {
        const target = balancer.pick(contextFor(i));
        if (target !== null) {
          assert.ok(members.has(target));
          assert.ok(target.inFlight < target.maxConnections, 'never beyond capacity');
          target.inFlight++;
          balancer.onRequestStart?.(target);
          open.push(target);
        }
        // Finish requests out of order, keeping about 20 in flight.
        while (open.length > 20 || (open.length > 0 && i % 7 === 0)) {
          const done = open.splice((i * 13) % open.length, 1)[0]!;
          done.inFlight--;
          balancer.onRequestEnd?.(done, 5 + (i % 11));
        }
      }
      for (const target of targets) assert.ok(target.inFlight >= 0);
    });

    test('random run-time changes never break the pick contract', () => {
      const random = seededRandom(algorithm.length * 7919);
      const balancer = make();
      const pool = makeTargets(Array.from({ length: 12 }, (_, i) => `s${i}`));
      const member = new Set<FakeTarget>();
      const up = new Set<FakeTarget>();
      for (let step = 0; step < 6000; step++) {
        const target = pool[Math.floor(random() * pool.length)]!;
        const what = random();
        if (what < 0.08) {
          balancer.add(target);
          member.add(target);
        } else if (what < 0.12) {
          balancer.remove(target);
          member.delete(target);
          up.delete(target);
        } else if (what < 0.2) {
          balancer.setUp(target);
          if (member.has(target)) up.add(target);
        } else if (what < 0.26) {
          balancer.setDown(target);
          up.delete(target);
        } else if (what < 0.32) {
          target.weight = Math.floor(random() * 4);
          balancer.reweight(target);
        } else if (what < 0.38) {
          target.maxConnections = random() < 0.5 ? 0 : Infinity;
        } else {
          const picked = balancer.pick(contextFor(Math.floor(random() * 500)));
          const eligible = [...up].filter((t) => t.weight > 0 && !t.atCapacity);
          if (picked === null) {
            assert.equal(eligible.length, 0, `step ${step}: null while ${eligible.map((t) => t.name).join(',')} could serve`);
          } else {
            assert.ok(eligible.includes(picked), `step ${step}: picked ${picked.name}, not eligible`);
          }
        }
      }
    });
  });
}
