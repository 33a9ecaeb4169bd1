import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PhiAccrualDetector, elapsedForPhi, phiOf } from '../../src/gslb/phi-accrual.js';
import { seededRandom } from '../../src/core/random.js';

const DEFAULTS = { threshold: 8, expectedInterval: 250, minStdDeviation: 150 };

describe('phiOf', () => {
  test('is -log10(0.5) at the mean and grows with the elapsed time', () => {
    assert.ok(Math.abs(phiOf(250, 250, 150) - Math.log10(2)) < 1e-6);
    let previous = -1;
    for (let elapsed = 0; elapsed <= 5000; elapsed += 25) {
      const phi = phiOf(elapsed, 250, 150);
      assert.ok(Number.isFinite(phi), `finite at ${elapsed}`);
      assert.ok(phi >= previous, `monotonic at ${elapsed}`);
      previous = phi;
    }
  });

  test('stays finite far in the tail, where the probability underflows a double', () => {
    const phi = phiOf(100_000, 250, 150);
    assert.ok(Number.isFinite(phi) && phi > 300);
    assert.equal(phiOf(-100_000, 250, 150), 0);
  });

  test('matches the normal tail: phi 8 is 5.61 deviations above the mean', () => {
    const elapsed = elapsedForPhi(8, 0, 1);
    assert.ok(Math.abs(elapsed - 5.612) < 0.01, String(elapsed));
  });
});

describe('PhiAccrualDetector', () => {
  test('default detection time for a 250 ms heartbeat is about 1.1 s of silence', () => {
    const detector = new PhiAccrualDetector(DEFAULTS);
    for (let t = 0; t <= 10_000; t += 250) detector.heartbeat(t);
    const detection = detector.detectionTime();
    assert.ok(detection > 1050 && detection < 1150, `detection ${detection}`);
  });

  test('regular arrivals stay available; silence is suspected once phi crosses the threshold', () => {
    const detector = new PhiAccrualDetector(DEFAULTS);
    assert.equal(detector.isAvailable(0), false, 'never heard: not available');
    let t = 0;
    for (; t <= 5000; t += 250) {
      detector.heartbeat(t);
      assert.ok(detector.isAvailable(t + 200));
    }
    const last = t - 250;
    assert.ok(detector.isAvailable(last + 900), 'three missed beats are tolerated');
    assert.ok(!detector.isAvailable(last + 1200), 'suspected after 1.2 s of silence');
    assert.ok(detector.phi(last + 1200) > 8);
  });

  test('a jittery link widens the distribution, so detection slows down instead of flapping', () => {
    const random = seededRandom(7);
    const steady = new PhiAccrualDetector(DEFAULTS);
    const jittery = new PhiAccrualDetector(DEFAULTS);
    let a = 0;
    let b = 0;
    for (let i = 0; i < 400; i++) {
      a += 250;
      b += 250 + (random() - 0.5) * 800;
      steady.heartbeat(a);
      jittery.heartbeat(b);
    }
    assert.ok(jittery.detectionTime() > steady.detectionTime() + 300, `${jittery.detectionTime()} vs ${steady.detectionTime()}`);
  });

  test('under heavy loss it suspects far less often than a fixed timeout of the same lossless speed', () => {
    // 30 % of heartbeats lost for 20,000 intervals (83 simulated minutes); fixed seed, so deterministic.
    const random = seededRandom(42);
    const detector = new PhiAccrualDetector(DEFAULTS);
    const fixedTimeout = elapsedForPhi(8, 250, 150);
    let now = 0;
    let lastArrival = 0;
    let phiSuspicions = 0;
    let fixedSuspicions = 0;
    let suspected = false;
    for (let slot = 0; slot < 20_000; slot++) {
      for (let t = 0; t < 250; t += 10) {
        const down = detector.lastHeartbeat !== undefined && !detector.isAvailable(now + t);
        if (down && !suspected) phiSuspicions++;
        suspected = down;
      }
      now += 250;
      if (random() >= 0.3) {
        if (now - lastArrival > fixedTimeout) fixedSuspicions++;
        detector.heartbeat(now);
        lastArrival = now;
      }
    }
    assert.ok(fixedSuspicions > 0);
    assert.ok(phiSuspicions * 2 < fixedSuspicions, `phi ${phiSuspicions} vs fixed ${fixedSuspicions}`);
  });

  test('an arrival after a suspected outage starts a fresh history', () => {
    const detector = new PhiAccrualDetector(DEFAULTS);
    for (let t = 0; t <= 5000; t += 250) detector.heartbeat(t);
    const before = detector.detectionTime();
    detector.heartbeat(60_000);
    assert.ok(Math.abs(detector.detectionTime() - before) < 60, 'the 55 s gap is not a sample');
    assert.ok(detector.isAvailable(60_100));
  });

  test('rejects nonsensical settings', () => {
    assert.throws(() => new PhiAccrualDetector({ ...DEFAULTS, threshold: 0 }), RangeError);
    assert.throws(() => new PhiAccrualDetector({ ...DEFAULTS, expectedInterval: 0 }), RangeError);
  });
});
