import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { DRILL_HELP } from '../../src/drill/cli.js';
import { TimeBuckets } from '../../src/drill/buckets.js';
import { buildReport } from '../../src/drill/report.js';
import { buildScenario, parseScenario } from '../../src/drill/scenario.js';

// docs/drills.md is checked here, so it never shows a scenario the drill would reject,
// a flag it does not have, or a JSON report shape it does not produce.
const DOC = readFileSync('docs/drills.md', 'utf8');

function blocks(language: string): string[] {
  return [...DOC.matchAll(new RegExp('```' + language + '\\n([\\s\\S]*?)```', 'g'))].map((match) => match[1] ?? '');
}

test('every scenario in the doc is valid', () => {
  const scenarios = blocks('yaml');
  assert.ok(scenarios.length >= 2);
  for (const text of scenarios) {
    const scenario = parseScenario(text, 'docs/drills.md', [], { BALLAST_ADMIN_TOKEN: 'token' });
    assert.ok(scenario.faults.length > 0);
  }
});

test('every flag the doc mentions exists', () => {
  const flags = new Set([...DOC.matchAll(/`(--[a-z0-9-]+)/g)].map((match) => match[1] as string));
  for (const text of blocks('sh')) for (const match of text.matchAll(/(--[a-z0-9-]+)/g)) flags.add(match[1] as string);
  assert.ok(flags.size > 20);
  for (const flag of flags) assert.ok(DRILL_HELP.includes(flag), `${flag} is in ballast drill --help`);
});

test('the JSON report fields table lists exactly the fields of a report', () => {
  const section = DOC.slice(DOC.indexOf('## The JSON report'));
  const documented = [...section.matchAll(/^\| `([a-zA-Z]+)`(?:, `([a-zA-Z]+)`)?(?:, `([a-zA-Z]+)`)?(?:, `([a-zA-Z]+)`)? \|/gm)].flatMap((match) => match.slice(1).filter((x): x is string => x !== undefined));
  const buckets = new TimeBuckets();
  buckets.sent(0);
  buckets.record({ scheduledMs: 0, latencyMs: 1, status: 200, error: undefined, failed: false, slow: false });
  const report = buildReport({
    scenario: buildScenario({ target: { url: 'http://127.0.0.1:1/' } }, 'test'),
    startWall: Date.now(),
    buckets,
    totals: { sent: 1, succeeded: 1, failed: 0, slow: 0 },
    faults: [],
    eventSource: 'none',
    events: [],
    dns: undefined,
    retries: { count: null, source: null },
    warnings: [],
    errors: [],
  });
  assert.deepEqual([...documented].sort(), Object.keys(report).sort());
});
