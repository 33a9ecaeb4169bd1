import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../../src/core/errors.js';
import { buildScenario, loadScenario, parseFlagYaml, parseScenario, type Override } from '../../src/drill/scenario.js';

const FULL = 'test/fixtures/drill/full.yaml';
const ENV = { DRILL_TEST_TOKEN: 'secret-token' };

function issuesOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error.issues.map((i) => `${i.file}:${i.line}:${i.column}: ${i.message}`);
    throw error;
  }
  assert.fail('expected a ConfigError');
}

describe('scenario files', () => {
  test('a complete file is normalized: durations in ms, defaults, sorted faults, implied restores and affects', async () => {
    const scenario = await loadScenario(FULL, [], ENV);
    assert.equal(scenario.name, 'every fault');
    assert.equal(scenario.target.url, 'http://127.0.0.1:8080/api/items?page=2');
    assert.deepEqual(scenario.target.dnsServers, []);
    assert.deepEqual(scenario.admin, { url: 'http://127.0.0.1:9901', token: 'secret-token' });
    const load = scenario.load;
    assert.equal(load.mode, 'rate');
    assert.equal(load.rate, 250);
    assert.equal(load.durationMs, 20_000);
    assert.equal(load.maxRequests, 5000);
    assert.equal(load.path, '/api/items?page=2', 'the path comes from the URL');
    assert.equal(load.method, 'GET');
    assert.equal(load.timeoutMs, 1500);
    assert.equal(load.slowMs, 300);
    assert.deepEqual(load.headers, { 'x-canary': 'true' });
    assert.deepEqual(load.expectStatus, [{ min: 200, max: 299 }, { min: 404, max: 404 }]);
    assert.ok(load.connections >= 16);

    const [app, site] = scenario.processes;
    assert.deepEqual(app?.command, ['node', 'app.js', '--port', '3002']);
    assert.deepEqual(app?.env, { PORT: '3002' });
    assert.deepEqual(app?.ready, { output: 'listening', tcp: { host: '127.0.0.1', port: 3002 }, timeoutMs: 5000 });
    assert.deepEqual(site?.ready, { output: undefined, tcp: undefined, timeoutMs: 10_000 });

    assert.deepEqual(scenario.faults.map((f) => [f.at, f.action, f.name]), [
      [2000, 'kill', 'kill app-2'],
      [6000, 'stop', 'stop (SIGSTOP) app-2'],
      [8000, 'exec', 'stop app@3'],
      [12_000, 'admin', 'drain web/web-2'],
      [16_000, 'site', 'site eu down'],
    ]);
    const [kill, stop, exec, admin, siteFault] = scenario.faults;
    assert.equal(kill?.action === 'kill' && kill.signal, 'SIGKILL');
    assert.deepEqual(kill?.restore, { at: 5000 });
    assert.deepEqual(stop?.affects, { pool: 'web', server: 'web-2', site: undefined });
    assert.deepEqual(exec?.action === 'exec' && exec.restore, { at: 10_000, command: ['systemctl', 'start', 'app@3'], timeoutMs: 30_000 });
    assert.deepEqual(admin?.action === 'admin' && admin.restore, { at: 15_000, call: 'enable', weight: undefined }, 'a drain is undone by enable');
    assert.deepEqual(admin?.affects, { pool: 'web', server: 'web-2', site: undefined }, 'admin faults affect their server');
    assert.deepEqual(siteFault?.affects, { pool: undefined, server: undefined, site: 'eu' });
    assert.deepEqual(scenario.thresholds, { maxFailed: { percent: 0.5 }, maxRecoveryMs: 2000, maxDetectionMs: undefined, maxP99Ms: 800, maxDnsSwitchMs: undefined });
    assert.ok(Object.isFrozen(scenario.load));
  });

  test('problems are reported at their line and column, all at once', () => {
    const text = [
      'target:', //                              1
      '  url: ftp://example.com/', //            2
      'load:', //                                3
      '  rate: 10', //                           4
      '  concurrency: 3', //                     5
      '  duration: 5', //                        6
      '  colour: blue', //                       7
      'faults:', //                              8
      '  - { at: 1s, action: explode }', //      9
    ].join('\n');
    assert.deepEqual(issuesOf(() => parseScenario(text, 'bad.yaml')), [
      'bad.yaml:2:8: invalid URL "ftp://example.com/": expected http://host:port/path or https://…',
      'bad.yaml:6:13: invalid duration 5: add a unit (ms, s, m, h, d), e.g. "5s"',
      'bad.yaml:7:3: unknown key "colour"',
      'bad.yaml:9:23: invalid action "explode": expected one of kill, stop, start, exec, admin, site',
    ]);
  });

  test('cross-field checks: timeline within the load, known processes, admin faults need admin', () => {
    const text = [
      'target: { url: "http://127.0.0.1:8080" }',
      'load: { rate: 10, concurrency: 2, duration: 5s }',
      'processes:',
      '  - { name: a, command: [x], ready: { output: "(" } }',
      '  - { name: a, command: [y] }',
      'faults:',
      '  - { at: 6s, action: kill, process: a }',
      '  - { at: 1s, action: stop, process: nobody, restore: { at: 1s } }',
      '  - { at: 1s, action: admin, call: weight, pool: p, server: s }',
      '  - { at: 1s, action: site, site: eu }',
    ].join('\n');
    const issues = issuesOf(() => parseScenario(text, 's.yaml'));
    assert.equal(issues.length, 9, issues.join('\n'));
    for (const expected of [
      'give either rate (open loop) or concurrency (closed loop), not both',
      'duplicate process name "a" (first defined at line 4)',
      'the fault comes after the load ends (duration 5000 ms)',
      'the restore must come after the fault',
      'no process named "nobody" in processes',
      'admin faults need admin.url (or --admin URL)',
      'call "weight" needs weight',
      'a site fault needs either process (a launched site to kill) or command',
    ]) {
      assert.ok(issues.some((issue) => issue.startsWith('s.yaml:') && issue.endsWith(expected)), `missing: ${expected}\n${issues.join('\n')}`);
    }
    assert.ok(issues.some((issue) => issue.startsWith('s.yaml:7:') && issue.includes('after the load ends')), 'positioned at the fault');
  });

  test('an unset ${env:NAME} is reported at its place', () => {
    const issues = issuesOf(() => parseScenario('target: { url: "http://127.0.0.1:1" }\nadmin: { url: "http://127.0.0.1:2", token: "${env:DRILL_NOT_SET_ANYWHERE}" }\n', 'e.yaml', [], {}));
    assert.equal(issues.length, 1);
    assert.match(issues[0] ?? '', /^e\.yaml:2:\d+: .*DRILL_NOT_SET_ANYWHERE/);
  });
});

describe('flags', () => {
  const flags = (...list: Override[]): Override[] => list;

  test('flags alone make a scenario; faults and processes are YAML flow values', () => {
    const scenario = buildScenario({}, 'flags', flags(
      { flag: '--url', path: ['target', 'url'], value: 'http://127.0.0.1:9000', mode: 'set' },
      { flag: '--concurrency', path: ['load', 'concurrency'], value: 8, mode: 'set' },
      { flag: '--duration', path: ['load', 'duration'], value: '3s', mode: 'set' },
      { flag: '--process', path: ['processes'], value: parseFlagYaml('--process', '{name: b, command: [sleep, "60"]}'), mode: 'append' },
      { flag: '--fault', path: ['faults'], value: parseFlagYaml('--fault', '{at: 1s, action: stop, process: b, restore: {at: 2s}}'), mode: 'append' },
      { flag: '--max-failed', path: ['thresholds', 'maxFailed'], value: 0, mode: 'set' },
    ));
    assert.equal(scenario.load.mode, 'concurrency');
    assert.equal(scenario.load.concurrency, 8);
    assert.equal(scenario.load.connections, 8);
    assert.equal(scenario.load.path, '/');
    assert.deepEqual(scenario.faults[0]?.restore, { at: 2000 });
    assert.deepEqual(scenario.thresholds.maxFailed, { count: 0 });
  });

  test('flags override the file, and a bad flag is named in the message', async () => {
    const overridden = await loadScenario(FULL, flags(
      { flag: '--rate', path: ['load', 'rate'], value: 40, mode: 'set' },
      { flag: '--duration', path: ['load', 'duration'], value: '30s', mode: 'set' },
    ), ENV);
    assert.equal(overridden.load.rate, 40);
    assert.equal(overridden.load.maxRequests, 1200);

    const issues = issuesOf(() =>
      parseScenario(readFileSync(FULL, 'utf8'), FULL, flags(
        { flag: '--rate', path: ['load', 'rate'], value: 'fast', mode: 'set' },
        { flag: '--fault', path: ['faults'], value: parseFlagYaml('--fault', '{at: 1s, action: kill}'), mode: 'append' },
        { flag: '--max-recovery', path: ['thresholds', 'maxRecovery'], value: 'soon', mode: 'set' },
      ), ENV),
    );
    assert.deepEqual(issues, [
      '--rate:0:0: expected a number, got "fast"',
      '--fault:0:0: missing required key "process"',
      '--max-recovery:0:0: invalid duration "soon": write a number followed by a unit (ms, s, m, h, d), e.g. "250ms", "2s" or "1m30s"',
    ]);
  });

  test('broken YAML in a flag is a ConfigError naming the flag', () => {
    const issues = issuesOf(() => parseFlagYaml('--fault', '{at: 1s, action: [kill'));
    assert.equal(issues.length, 1);
    assert.match(issues[0] ?? '', /^--fault:0:0: invalid YAML/);
  });
});
