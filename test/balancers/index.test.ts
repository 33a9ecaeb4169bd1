import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createBalancer, pickOrThrow } from '../../src/balancers/index.js';
import type { AlgorithmName } from '../../src/config/types.js';
import { ALGORITHMS } from '../../src/config/types.js';
import { BallastError, ErrorCodes } from '../../src/core/errors.js';
import { addUp, makeTargets, NO_KEY, type FakeTarget } from './fake-target.js';

describe('balancer registry', () => {
  for (const algorithm of ALGORITHMS) {
    test(`creates ${algorithm}`, () => {
      const balancer = createBalancer<FakeTarget>(algorithm);
      const [a] = makeTargets(['a']);
      addUp(balancer, [a!]);
      assert.equal(pickOrThrow(balancer, NO_KEY, 'web'), a);
    });
  }

  test('an unknown name is a typed error', () => {
    assert.throws(
      () => createBalancer('fastest' as AlgorithmName),
      (error: unknown) => error instanceof BallastError && error.code === ErrorCodes.UNKNOWN_ALGORITHM && error.message.includes('fastest'),
    );
  });

  test('hooks exist exactly where an algorithm uses them', () => {
    const withHooks = ALGORITHMS.filter((algorithm) => createBalancer(algorithm).onRequestEnd !== undefined);
    assert.deepEqual(withHooks, ['least-connections', 'response-time']);
  });
});
