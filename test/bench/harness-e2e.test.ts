import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { requireProgram } from '../helpers/programs.js';

interface Report {
  settings: { loadGenerator: string; backend: string };
  runs: Array<{ target: string; rssMB?: number }>;
  summary: {
    targets: Array<{ target: string; reqPerSec: number; p99Ms: number; errors: number; rssMB?: number; vsDirect?: number }>;
  };
  profile?: { summary: { samples: number; top: Array<{ functionName: string }> } };
}

interface TcpReport {
  settings: { rounds: number };
  summary: {
    targets: Array<{
      target: string;
      connectionsPerSec: number;
      errors: number;
      bulkGbps: { upload: number; download: number };
      cpuUsPerConnection?: number;
    }>;
    ratios: Array<{ target: string }>;
  };
}

/** Runs the compiled harness from the repository root; bounded by `limitMs`. */
function runBench(args: readonly string[], limitMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    // Other tests run alongside: measure at once instead of waiting for an idle machine.
    const all = ['build/bench/run.js', '--quiet-wait', '0', '--retries', '0', ...args];
    const child = spawn(process.execPath, all, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const timer = setTimeout(() => child.kill('SIGINT'), limitMs);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'ballast-bench-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe('benchmark harness end to end (short runs, no performance assertions)', () => {
  test('wrk against the direct path, HAProxy and NGINX over NGINX backends', async (t) => {
    requireProgram('wrk', 'wrk');
    requireProgram('haproxy', 'haproxy');
    requireProgram('nginx', 'nginx-light');
    const out = join(tempDir(t), 'http.json');
    const args = ['--duration', '1', '--rounds', '2', '--warmup', '0', '--targets', 'direct,haproxy,nginx', '--no-tcp', '--out', out];
    const { code, output } = await runBench(args, 120_000);
    assert.equal(code, 0, output);
    const report = JSON.parse(readFileSync(out, 'utf8')) as Report;
    assert.match(report.settings.loadGenerator, /^wrk/);
    assert.match(report.settings.backend, /^nginx/);
    assert.deepEqual(
      report.runs.map((r) => r.target),
      ['direct', 'haproxy', 'nginx', 'direct', 'haproxy', 'nginx'],
      'rounds are interleaved',
    );
    assert.deepEqual(
      report.summary.targets.map((s) => s.target),
      ['direct', 'haproxy', 'nginx'],
    );
    for (const s of report.summary.targets) {
      assert.ok(s.reqPerSec > 0, `${s.target} served requests`);
      assert.equal(s.errors, 0, `${s.target} had no failed requests`);
      assert.ok(s.p99Ms > 0);
      assert.ok(s.vsDirect !== undefined && s.vsDirect > 0);
      if (s.target !== 'direct') assert.ok((s.rssMB ?? 0) > 1, `${s.target} memory measured`);
    }
    assert.match(output, /\| HAProxy \| \d+ \|/);
    assert.doesNotMatch(output, /TCP \(L4\)/, '--no-tcp skips the L4 part');
  });

  test('autocannon and the Node backend as fallbacks', async (t) => {
    requireProgram('haproxy', 'haproxy');
    const out = join(tempDir(t), 'http.json');
    const args = [
      '--quick', '--duration', '1', '--warmup', '0', '--targets', 'direct,haproxy',
      '--backend', 'node', '--load-generator', 'autocannon', '--no-tcp', '--out', out,
    ];
    const { code, output } = await runBench(args, 120_000);
    assert.equal(code, 0, output);
    const report = JSON.parse(readFileSync(out, 'utf8')) as Report;
    assert.match(report.settings.loadGenerator, /^autocannon/);
    assert.match(report.settings.backend, /^node/);
    for (const s of report.summary.targets) {
      assert.ok(s.reqPerSec > 0, `${s.target} served requests`);
      assert.equal(s.errors, 0);
    }
  });

  test('Ballast through its CLI, with a CPU profile summary', async (t) => {
    requireProgram('wrk', 'wrk');
    assert.ok(existsSync('dist/cli/main.js'), 'dist/cli/main.js is missing: run npm run build first');
    const dir = tempDir(t);
    const out = join(dir, 'http.json');
    const args = [
      '--quick', '--duration', '1', '--warmup', '0', '--targets', 'direct,ballast',
      '--cpu-prof', '--prof-dir', join(dir, 'prof'), '--no-tcp', '--out', out,
    ];
    const { code, output } = await runBench(args, 150_000);
    assert.equal(code, 0, output);
    const report = JSON.parse(readFileSync(out, 'utf8')) as Report;
    const ballast = report.summary.targets.find((s) => s.target === 'ballast');
    assert.ok(ballast && ballast.reqPerSec > 0, 'Ballast served requests');
    assert.equal(ballast?.errors, 0);
    assert.ok((ballast?.rssMB ?? 0) > 1);
    assert.ok((report.profile?.summary.samples ?? 0) > 0, 'profile has samples');
    assert.ok((report.profile?.summary.top.length ?? 0) > 0);
    assert.match(output, /Top functions by self time/);
  });

  test('the L4 part after the HTTP one: Ballast, a bare Node.js pipe and HAProxy in mode tcp', async (t) => {
    for (const [program, pkg] of [['wrk', 'wrk'], ['iperf3', 'iperf3'], ['haproxy', 'haproxy']] as const) requireProgram(program, pkg);
    assert.ok(existsSync('dist/cli/main.js'), 'dist/cli/main.js is missing: run npm run build first');
    const dir = tempDir(t);
    const tcpOut = join(dir, 'tcp.json');
    const args = ['--rounds', '1', '--duration', '1', '--warmup', '0', '--targets', 'direct', '--out', join(dir, 'http.json'), '--tcp-out', tcpOut];
    const { code, output } = await runBench(args, 150_000);
    assert.equal(code, 0, output);
    const report = JSON.parse(readFileSync(tcpOut, 'utf8')) as TcpReport;
    assert.equal(report.settings.rounds, 1);
    assert.deepEqual(report.summary.targets.map((s) => s.target), ['direct', 'ballast', 'node', 'haproxy']);
    for (const s of report.summary.targets) {
      assert.ok(s.connectionsPerSec > 0, `${s.target} forwarded connections`);
      assert.equal(s.errors, 0, `${s.target} had no failed connections`);
      assert.ok(s.bulkGbps.upload > 0 && s.bulkGbps.download > 0, `${s.target} carried bulk traffic both ways`);
      if (s.target !== 'direct') assert.ok((s.cpuUsPerConnection ?? 0) > 0, `${s.target} CPU measured`);
    }
    assert.deepEqual(report.summary.ratios.map((r) => r.target), ['ballast', 'node']);
    assert.match(output, /^\| Ballast \| \d+ \|/m);
    assert.match(output, /^\| bare Node\.js pipe \| \d+ \|/m);
    assert.match(output, /^Ballast ÷ HAProxy: connections\/s/m);
  });

  test('bad options exit 2 with the usage text', async () => {
    const { code, output } = await runBench(['--rounds', 'zero'], 30_000);
    assert.equal(code, 2);
    assert.match(output, /--rounds: expected an integer/);
    assert.match(output, /Usage: npm run bench/);
  });
});
