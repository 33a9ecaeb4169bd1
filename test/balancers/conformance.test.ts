import { createBalancer } from '../../src/balancers/index.js';
import { ALGORITHMS } from '../../src/config/types.js';
import { ManualClock } from '../../src/core/clock.js';
import { seededRandom } from '../../src/core/random.js';
import { runConformance } from './conformance.js';
import type { FakeTarget } from './fake-target.js';

for (const algorithm of ALGORITHMS) {
  runConformance(algorithm, () =>
    createBalancer<FakeTarget>(algorithm, { random: seededRandom(42), clock: new ManualClock(1000) }),
  );
}
