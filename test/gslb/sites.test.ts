/**
 * The site state machine on simulated time: sites exchange their views over
 * a simulated network with cuttable links and loss, and answers follow the
 * `www` failover record (eu first, then us).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/core/clock.js';
import { seededRandom, type Random } from '../../src/core/random.js';
import { SiteTable, type SiteChange } from '../../src/gslb/sites.js';

const INTERVAL = 250;
const STEP = 10;

interface SimSite {
  table: SiteTable;
  alive: boolean;
  ready: boolean;
  witness: boolean;
  /** Offset of this site's heartbeats inside the interval, so sites do not send in lockstep. */
  phase: number;
}

interface LoggedChange extends SiteChange {
  readonly at: number;
  readonly observer: string;
}

class Simulation {
  readonly clock = new ManualClock(0);
  readonly sites = new Map<string, SimSite>();
  readonly changes: LoggedChange[] = [];
  /** Answer of `www` per observing site, with the times it changed. */
  readonly answers = new Map<string, { value: string; at: number }[]>();
  private readonly cut = new Set<string>();
  private readonly random: Random;

  constructor(
    private readonly names: readonly string[],
    private readonly options: { failbackDelay?: number; failback?: 'auto' | 'manual'; witness?: string; loss?: number; seed?: number } = {},
  ) {
    this.random = seededRandom(options.seed ?? 1);
    names.forEach((name, index) => this.start(name, (index * INTERVAL) / names.length));
  }

  start(name: string, phase = this.sites.get(name)?.phase ?? 0): void {
    const table = new SiteTable({
      self: name,
      witness: this.options.witness === name,
      peers: this.names.filter((other) => other !== name),
      interval: INTERVAL,
      phiThreshold: 8,
      minStdDeviation: 0.6 * INTERVAL,
      acceptablePause: 0,
      failbackDelay: this.options.failbackDelay ?? 2000,
      failback: this.options.failback ?? 'auto',
      bootstrapTime: 4 * INTERVAL,
      clock: this.clock,
    });
    this.sites.set(name, { table, alive: true, ready: true, witness: this.options.witness === name, phase });
  }

  site(name: string): SimSite {
    const site = this.sites.get(name);
    if (site === undefined) throw new Error(name);
    return site;
  }

  kill(name: string): void {
    this.site(name).alive = false;
  }

  setReady(name: string, ready: boolean): void {
    this.site(name).ready = ready;
  }

  cutLink(from: string, to: string, cut = true): void {
    if (cut) this.cut.add(`${from}>${to}`);
    else this.cut.delete(`${from}>${to}`);
  }

  isolate(name: string, isolated: boolean): void {
    for (const other of this.names) {
      if (other === name) continue;
      this.cutLink(name, other, isolated);
      this.cutLink(other, name, isolated);
    }
  }

  /** Advances `ms` of simulated time in 10 ms steps. */
  run(ms: number): void {
    const end = this.clock.now() + ms;
    while (this.clock.now() < end) {
      this.clock.advance(STEP);
      const now = this.clock.now();
      for (const [name, site] of this.sites) {
        if (!site.alive) continue;
        site.table.setLocalReady(site.ready);
        if (Math.floor((now - site.phase) / INTERVAL) !== Math.floor((now - STEP - site.phase) / INTERVAL)) this.broadcast(name, site);
      }
      for (const [name, site] of this.sites) {
        if (!site.alive) continue;
        for (const change of site.table.evaluate()) this.changes.push({ ...change, at: now, observer: name });
        this.recordAnswer(name, site.table);
      }
    }
  }

  /** Current `www` answer at `observer`: first active of eu, us; eu when neither is. */
  answer(observer: string): string {
    const table = this.site(observer).table;
    return ['eu', 'us'].find((name) => table.isActive(name)) ?? 'eu';
  }

  answerChanges(observer: string): { value: string; at: number }[] {
    return (this.answers.get(observer) ?? []).slice(1);
  }

  changesSince(at: number): LoggedChange[] {
    return this.changes.filter((change) => change.at > at);
  }

  private broadcast(name: string, site: SimSite): void {
    const seq = this.clock.now();
    const message = {
      site: name,
      ready: site.witness || site.ready,
      witness: site.witness,
      incarnation: 1,
      sequence: seq,
      timestamp: this.clock.wallNow(),
      view: site.table.view(),
    };
    for (const [other, target] of this.sites) {
      if (other === name || !target.alive || this.cut.has(`${name}>${other}`)) continue;
      if (this.options.loss !== undefined && this.random() < this.options.loss) continue;
      target.table.receive(message, this.clock.now());
    }
  }

  private recordAnswer(name: string, table: SiteTable): void {
    if (!table.settled()) return;
    const value = ['eu', 'us'].find((site) => table.isActive(site)) ?? 'eu';
    const list = this.answers.get(name) ?? [];
    if (list.at(-1)?.value !== value) list.push({ value, at: this.clock.now() });
    this.answers.set(name, list);
  }
}

describe('two sites', () => {
  test('cold start settles within the bootstrap time with both sites active', () => {
    const sim = new Simulation(['eu', 'us']);
    sim.run(1100);
    for (const observer of ['eu', 'us']) {
      assert.ok(sim.site(observer).table.settled(), observer);
      assert.equal(sim.answer(observer), 'eu');
      assert.equal(sim.site(observer).table.stateOf('us'), 'active');
    }
  });

  test('a killed site is declared down in about one second; the survivor answers itself', () => {
    const sim = new Simulation(['eu', 'us']);
    sim.run(5000);
    sim.kill('eu');
    const killedAt = sim.clock.now();
    sim.run(3000);
    const down = sim.changes.find((change) => change.observer === 'us' && change.site === 'eu' && change.to === 'down');
    assert.ok(down, 'eu declared down');
    const detection = down.at - killedAt;
    assert.ok(detection > 800 && detection < 1200, `detected after ${detection} ms`);
    assert.equal(down.reason, 'no-heartbeat');
    assert.equal(sim.answer('us'), 'us');
  });

  test('a restarted site gets traffic back only after the failback delay, at both sites together', () => {
    const sim = new Simulation(['eu', 'us'], { failbackDelay: 3000 });
    sim.run(3000);
    sim.kill('eu');
    sim.run(3000);
    sim.start('eu');
    const restartedAt = sim.clock.now();
    sim.run(6000);
    for (const observer of ['eu', 'us']) {
      const back = sim.answerChanges(observer).find((change) => change.at > restartedAt && change.value === 'eu');
      assert.ok(back, `${observer} returns to eu`);
      const after = back.at - restartedAt;
      assert.ok(after >= 3000 && after < 3700, `${observer}: back after ${after} ms`);
    }
    // The restarted site never answered itself before the delay.
    const firstAnswer = (sim.answers.get('eu') ?? []).find((change) => change.at > restartedAt);
    assert.equal(firstAnswer?.value, 'us');
    const adopted = sim.changes.find((change) => change.at > restartedAt && change.observer === 'eu' && change.site === 'eu');
    assert.equal(adopted?.to, 'recovering');
    assert.equal(adopted?.reason, 'peer-state');
  });

  test('a site without healthy servers is down at once, for both sites', () => {
    const sim = new Simulation(['eu', 'us']);
    sim.run(3000);
    sim.setReady('eu', false);
    const at = sim.clock.now();
    sim.run(1000);
    const seen = sim.changes.find((change) => change.observer === 'us' && change.site === 'eu' && change.to === 'down');
    assert.ok(seen && seen.at - at <= INTERVAL + 2 * STEP, 'us sees it with the next heartbeat');
    assert.equal(seen.reason, 'no-healthy-servers');
    assert.equal(sim.answer('us'), 'us');
    assert.equal(sim.answer('eu'), 'us');
  });

  test('with manual failback a recovered site waits for a grant, which reaches every site', () => {
    const sim = new Simulation(['eu', 'us'], { failback: 'manual', failbackDelay: 1000 });
    sim.run(3000);
    sim.setReady('eu', false);
    sim.run(2000);
    sim.setReady('eu', true);
    sim.run(10_000);
    assert.equal(sim.site('us').table.stateOf('eu'), 'recovering');
    assert.equal(sim.site('eu').table.stateOf('eu'), 'recovering');
    assert.equal(sim.site('us').table.status().find((s) => s.site === 'eu')?.awaitingFailback, true);
    sim.site('us').table.grantFailback('eu');
    const grantedAt = sim.clock.now();
    sim.run(2 * INTERVAL);
    assert.equal(sim.site('us').table.stateOf('eu'), 'active');
    assert.equal(sim.site('eu').table.stateOf('eu'), 'active');
    const grant = sim.changes.find((change) => change.at >= grantedAt && change.observer === 'eu' && change.to === 'active' && change.site === 'eu');
    assert.equal(grant?.reason, 'admin');
  });

  test('5 % loss for ten simulated minutes never moves traffic', () => {
    const sim = new Simulation(['eu', 'us'], { loss: 0.05, seed: 5 });
    sim.run(600_000);
    assert.deepEqual(sim.answerChanges('eu'), []);
    assert.deepEqual(sim.answerChanges('us'), []);
  });

  test('a partition makes each side answer itself (documented two-site behaviour)', () => {
    const sim = new Simulation(['eu', 'us']);
    sim.run(3000);
    sim.isolate('eu', true);
    sim.run(3000);
    assert.equal(sim.answer('eu'), 'eu');
    assert.equal(sim.answer('us'), 'us');
  });
});

describe('three sites with a witness', () => {
  const names = ['eu', 'us', 'witness'];

  test('cold start settles within the bootstrap time with every site active', () => {
    const sim = new Simulation(names, { witness: 'witness' });
    sim.run(1100);
    for (const observer of names) {
      assert.ok(sim.site(observer).table.settled(), observer);
      for (const site of names) assert.equal(sim.site(observer).table.stateOf(site), 'active', `${observer} sees ${site}`);
      assert.equal(sim.site(observer).table.quorumStatus().has, true);
    }
    assert.equal(sim.site('eu').table.status().find((s) => s.site === 'witness')?.witness, true);
  });

  test('cutting any one direction of any one link moves no traffic', () => {
    for (const [from, to] of names.flatMap((a) => names.filter((b) => b !== a).map((b) => [a, b] as const))) {
      const sim = new Simulation(names, { witness: 'witness' });
      sim.run(3000);
      const start = sim.clock.now();
      sim.cutLink(from, to);
      sim.run(20_000);
      sim.cutLink(from, to, false);
      sim.run(5000);
      assert.deepEqual(sim.changesSince(start), [], `cut ${from}>${to}`);
      for (const observer of names) assert.equal(sim.answer(observer), 'eu');
    }
  });

  test('a site cut off from both others is declared down by the majority and steps down itself', () => {
    const sim = new Simulation(names, { witness: 'witness', failbackDelay: 2000 });
    sim.run(3000);
    sim.isolate('eu', true);
    const cutAt = sim.clock.now();
    sim.run(5000);
    for (const observer of ['us', 'witness']) {
      const down = sim.changes.find((change) => change.observer === observer && change.site === 'eu' && change.to === 'down');
      assert.ok(down, `${observer} declares eu down`);
      assert.ok(down.at - cutAt < 1600, `${observer} after ${down.at - cutAt} ms`);
    }
    const stepDown = sim.changes.find((change) => change.observer === 'eu' && change.site === 'eu' && change.to === 'down');
    assert.equal(stepDown?.reason, 'isolated');
    assert.equal(sim.site('eu').table.stateOf('us'), 'active', 'the isolated site freezes its verdicts on others');
    assert.equal(sim.site('eu').table.quorumStatus().has, false);
    for (const observer of names) assert.equal(sim.answer(observer), 'us', observer);

    sim.isolate('eu', false);
    const healedAt = sim.clock.now();
    sim.run(5000);
    for (const observer of names) {
      assert.equal(sim.answer(observer), 'eu', observer);
      const changes = sim.answerChanges(observer);
      assert.equal(changes.length, 2, `${observer}: one switch away and one back, got ${JSON.stringify(changes)}`);
      assert.ok((changes[1]?.at ?? 0) - healedAt >= 2000, `${observer} waited for the failback delay`);
    }
  });

  test('a killed second site is declared down by the two survivors; traffic stays on eu', () => {
    const sim = new Simulation(names, { witness: 'witness' });
    sim.run(3000);
    sim.kill('us');
    sim.run(4000);
    assert.equal(sim.site('eu').table.stateOf('us'), 'down');
    assert.equal(sim.site('witness').table.stateOf('us'), 'down');
    assert.equal(sim.answer('eu'), 'eu');
    assert.deepEqual(sim.answerChanges('eu'), []);
  });

  test('a majority is a majority of all sites: two dead sites freeze the last one', () => {
    const sim = new Simulation(names, { witness: 'witness' });
    sim.run(3000);
    sim.kill('us');
    sim.kill('witness');
    sim.run(4000);
    const quorum = sim.site('eu').table.quorumStatus();
    assert.deepEqual(quorum, { sites: 3, needed: 2, reachable: 1, has: false });
    assert.equal(sim.site('eu').table.stateOf('eu'), 'down', 'eu cannot tell whether it is the one cut off');
  });

  test('10 % loss on every link for ten simulated minutes never moves traffic', () => {
    const sim = new Simulation(names, { witness: 'witness', loss: 0.1, seed: 11 });
    sim.run(3000);
    sim.run(600_000);
    for (const observer of names) assert.deepEqual(sim.answerChanges(observer), [], observer);
  });
});
