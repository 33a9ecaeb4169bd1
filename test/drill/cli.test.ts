/**
 * The drill's command line (called in this process with captured output;
 * demo.test.ts runs it as a child process): usage and scenario errors, the
 * dry run, exit codes for passed, missed and failed drills, and a drill that
 * follows a real admin event stream and writes its HTML report.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { runDrillCli } from '../../src/drill/cli.js';
import type { DrillReport } from '../../src/drill/report.js';
import { freePort } from '../helpers/net.js';
import { startBackend } from '../helpers/http-backend.js';
import { ADMIN_TOKEN, startAdminBallast } from './harness.js';

const BACKEND = 'build/src/drill/demo-backend.js';

class Capture extends Writable {
  text = '';

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.text += chunk.toString('utf8');
    callback();
  }
}

/** `ballast drill ARGS` with its output captured. */
async function drill(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await runDrillCli(args, { stdout, stderr, env });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

function report(stdout: string): DrillReport {
  return JSON.parse(stdout) as DrillReport;
}

test('usage errors exit 2 with a message', async () => {
  const none = await drill([]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /give --scenario FILE, --url URL or --demo/);
  const both = await drill(['--demo', '--url', 'http://127.0.0.1:1/']);
  assert.equal(both.code, 2);
  const modes = await drill(['--url', 'http://127.0.0.1:1/', '--rate', '5', '--concurrency', '2']);
  assert.equal(modes.code, 2);
  assert.match(modes.stderr, /either --rate or --concurrency/);
  const unknown = await drill(['--url', 'http://127.0.0.1:1/', '--colour']);
  assert.equal(unknown.code, 2);
  const help = await drill(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: ballast drill/);
  assert.match(help.stdout, /--max-recovery D/);
});

test('scenario problems exit 2, as FILE:LINE:COL or with the flag named', async () => {
  const file = await drill(['--scenario', 'test/fixtures/drill/invalid.yaml']);
  assert.equal(file.code, 2);
  assert.deepEqual(file.stderr.trim().split('\n'), [
    'test/fixtures/drill/invalid.yaml:5:9: must be greater than 0, got -5',
    'test/fixtures/drill/invalid.yaml:6:13: invalid duration "forever": write a number followed by a unit (ms, s, m, h, d), e.g. "250ms", "2s" or "1m30s"',
  ]);
  const missing = await drill(['--scenario', 'test/fixtures/drill/nothing-here.yaml']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /cannot read scenario file/);
  const flag = await drill(['--url', 'http://127.0.0.1:1/', '--rate', 'fast', '--fault', '{at: 1s, action: stop}']);
  assert.equal(flag.code, 2);
  assert.deepEqual(flag.stderr.trim().split('\n'), ['--rate: expected a number, got "fast"', '--fault: missing required key "process"']);
});

test('--dry-run prints the plan and sends nothing', async () => {
  const result = await drill(['--scenario', 'test/fixtures/drill/full.yaml', '--dry-run', '--warmup', '2s'], { ...process.env, DRILL_TEST_TOKEN: 'x' });
  assert.equal(result.code, 0, result.stderr);
  const lines = result.stdout.trim().split('\n');
  assert.equal(lines[0], 'Drill "every fault"');
  assert.match(lines[1] ?? '', /GET http:\/\/127\.0\.0\.1:8080\/api\/items\?page=2 .* at 250 req\/s \(open loop\) for 20\.00s after a 2\.00s warm-up/);
  assert.ok(lines.includes('  2.00s    kill: kill app-2, restored at 5.00s'), result.stdout);
  assert.ok(lines.includes('  pass if  max-failed 0.5%, max-recovery 2.00s, max-p99 800ms'), result.stdout);
});

test('a stalled process: the open loop shows it as latency and --max-p99 fails the drill (exit 1)', async () => {
  const port = await freePort();
  const processSpec = JSON.stringify({ name: 'b', command: [process.execPath, BACKEND, '--name', 'b', '--port', String(port)], ready: { output: 'listening' } });
  const result = await drill([
    '--url', `http://127.0.0.1:${port}/`,
    '--process', processSpec,
    '--fault', '{at: 500ms, action: stop, process: b, restore: {at: 1200ms}}',
    '--rate', '50', '--duration', '2s', '--timeout', '20s', '--slow', '300ms',
    '--max-p99', '300ms', '--max-failed', '0', '--json',
  ]);
  assert.equal(result.code, 1, result.stderr);
  const r = report(result.stdout);
  assert.equal(r.requests.sent, 100);
  assert.equal(r.requests.failed, 0);
  assert.ok(r.requests.slow >= 10, `requests waiting on the stopped process are slow (${r.requests.slow})`);
  assert.ok(r.latency.during !== null && r.latency.during.maxMs >= 400, `the stall shows in the latency (${r.latency.during?.maxMs})`);
  assert.equal(r.eventSource, 'none');
  assert.equal(r.faults[0]?.detection, null);
  assert.deepEqual(r.thresholds.map((x) => [x.name, x.passed]), [['max-failed', true], ['max-p99', false]]);
  // The process the drill launched is gone.
  const after = await fetch(`http://127.0.0.1:${port}/`).then(() => 'answered', () => 'refused');
  assert.equal(after, 'refused');
});

test('a fault that fails to run makes the drill fail (exit 3); so does a target that does not answer', async (t) => {
  const backend = await startBackend('b1');
  t.after(() => backend.close());
  const failing = await drill(['--url', `http://${backend.address}/`, '--rate', '20', '--duration', '600ms', '--fault', '{at: 200ms, action: exec, command: [sh, -c, "echo nope >&2; exit 7"]}']);
  assert.equal(failing.code, 3, failing.stdout + failing.stderr);
  assert.match(failing.stdout, /error: fault "sh -c echo nope >&2; exit 7": .* exited with 7: nope/);
  assert.match(failing.stdout, /Result: FAILED/);

  const port = await freePort();
  const dead = await drill(['--url', `http://127.0.0.1:${port}/`, '--duration', '1s']);
  assert.equal(dead.code, 3);
  assert.match(dead.stderr, /did not answer before the drill/);
});

test('an admin drill: drain and enable through the API, detection from the event stream, HTML report written', async (t) => {
  const backends = [await startBackend('b1'), await startBackend('b2')];
  t.after(() => Promise.all(backends.map((b) => b.close())));
  const ballast = await startAdminBallast({
    listeners: [{ name: 'web', protocol: 'http', listen: '127.0.0.1:0', routes: [{ pool: 'web' }] }],
    pools: [{ name: 'web', servers: backends.map((b) => ({ name: b.name, address: b.address })) }],
  });
  t.after(() => ballast.close());
  const dir = mkdtempSync(join(tmpdir(), 'drill-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const html = join(dir, 'nested', 'report.html');
  const result = await drill(
    [
      '--url', `${ballast.url()}/`,
      '--admin', ballast.adminUrl,
      '--rate', '100', '--duration', '1500ms', '--timeout', '20s',
      '--fault', '{at: 400ms, action: admin, call: drain, pool: web, server: b2, restore: {at: 1s}}',
      '--max-failed', '0', '--max-detection', '5s', '--json', '--html', html,
    ],
    { ...process.env, BALLAST_ADMIN_TOKEN: ADMIN_TOKEN },
  );
  assert.equal(result.code, 0, result.stdout + result.stderr);
  const r = report(result.stdout);
  assert.equal(r.eventSource, 'sse');
  assert.equal(r.requests.failed, 0);
  const fault = r.faults[0];
  assert.equal(fault?.detection?.event.type, 'server-draining');
  assert.equal(fault?.detection?.event.server, 'b2');
  assert.equal(fault?.restoreDetection?.event.type, 'server-enabled');
  assert.ok((fault?.detection?.afterMs ?? 5000) < 5000);
  // Every request reached a backend once (no health checks here): the load and the preflight request, all tagged.
  const seen = backends.flatMap((b) => b.requests);
  assert.equal(seen.length, r.requests.sent + 1);
  const tags = new Set(seen.map((req) => String(req.headers['x-ballast-drill'])));
  assert.equal(tags.size, 2, `the run id and the preflight's: ${[...tags].join(', ')}`);
  assert.ok([...tags].some((tag) => tag.endsWith('-preflight')));
  assert.ok(existsSync(html));
  assert.match(readFileSync(html, 'utf8'), /<svg class="chart" data-chart="throughput"/);
});
