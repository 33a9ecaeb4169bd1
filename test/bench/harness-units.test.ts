import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import {
  ballastConfig,
  haproxyConfig,
  nginxBackendConfig,
  nginxProxyConfig,
  nginxTempModules,
} from '../../bench/lib/configs.js';
import { areaOf, formatProfile, shortLocation, summarizeProfile } from '../../bench/lib/cpu-profile.js';
import type { CpuProfile } from '../../bench/lib/cpu-profile.js';
import { backgroundCpu, sampleCpu } from '../../bench/lib/cpu-usage.js';
import { parseAutocannonOutput, parseWrkOutput } from '../../bench/lib/load.js';
import type { LoadResult } from '../../bench/lib/load.js';
import { DEFAULT_OPTIONS, OptionsError, parseOptions } from '../../bench/lib/options.js';
import { GOALS, markdownTable, median, summarize } from '../../bench/lib/report.js';
import type { RunRecord } from '../../bench/lib/report.js';
import { parseBackendArgs } from '../../bench/backends/node-backend.js';
import { parsePipeArgs } from '../../bench/backends/node-tcp-pipe.js';
import {
  ballastTcpConfig,
  DEFAULT_TCP_OPTIONS,
  haproxyTcpConfig,
  parseTcpOptions,
  summarizeTcp,
  TCP_GOALS,
  tcpMarkdown,
  tcpOptionsForBench,
} from '../../bench/tcp.js';
import type { BulkRun, ConnectionRun, TcpTarget } from '../../bench/tcp.js';

describe('bench options', () => {
  test('defaults: 3 rounds of 10 s, all targets, wrk -t1 -c50', () => {
    const o = parseOptions([], {});
    assert.deepEqual(o, DEFAULT_OPTIONS);
    assert.equal(o.durationS, 10);
    assert.equal(o.rounds, 3);
    assert.deepEqual(o.targets, ['direct', 'ballast', 'haproxy', 'nginx']);
    assert.equal(o.connections, 50);
    assert.equal(o.threads, 1);
  });

  test('--quick, then environment, then flags take precedence in that order', () => {
    assert.equal(parseOptions(['--quick'], {}).rounds, 1);
    assert.equal(parseOptions(['--quick'], { BENCH_ROUNDS: '4' }).rounds, 4);
    assert.equal(parseOptions(['--quick', '--rounds', '5'], { BENCH_ROUNDS: '4' }).rounds, 5);
    assert.equal(parseOptions(['--duration=7s'], { BENCH_DURATION: '9' }).durationS, 7);
    assert.equal(parseOptions([], { BENCH_DURATION: '' }).durationS, 10);
    assert.equal(parseOptions(['--quiet-wait', '0'], { BENCH_QUIET_WAIT: '5' }).quietWaitS, 0);
    assert.equal(parseOptions([], { BENCH_RETRIES: '0' }).retries, 0);
  });

  test('targets keep the interleaving order and mark an explicit choice', () => {
    const o = parseOptions(['--targets', 'nginx, direct'], {});
    assert.deepEqual(o.targets, ['direct', 'nginx']);
    assert.equal(o.targetsExplicit, true);
    assert.equal(parseOptions([], {}).targetsExplicit, false);
  });

  test('switches', () => {
    const o = parseOptions(['--cpu-prof', '--no-pin', '--check', '-h'], {});
    assert.equal(o.cpuProf, true);
    assert.equal(o.pin, false);
    assert.equal(o.check, true);
    assert.equal(o.help, true);
  });

  test('the TCP (L4) part runs by default; --no-tcp skips it, --tcp-out or BENCH_TCP_OUT moves its report', () => {
    const defaults = parseOptions([], {});
    assert.equal(defaults.tcp, true);
    assert.equal(defaults.tcpOut, 'bench/results/tcp.json');
    assert.equal(parseOptions(['--no-tcp'], {}).tcp, false);
    assert.equal(parseOptions(['--quick', '--no-tcp'], {}).tcp, false);
    assert.equal(parseOptions(['--tcp-out', 'l4.json'], {}).tcpOut, 'l4.json');
    assert.equal(parseOptions(['--tcp-out=l4.json'], { BENCH_TCP_OUT: 'env.json' }).tcpOut, 'l4.json');
    assert.equal(parseOptions([], { BENCH_TCP_OUT: 'env.json' }).tcpOut, 'env.json');
    assert.equal(parseOptions(['--tcp-out', 'l4.json'], {}).tcp, true);
  });

  test('rejects unknown, malformed and out-of-range values', () => {
    const bad: string[][] = [
      ['--bogus', '1'],
      ['--duration', '0'],
      ['--duration', 'ten'],
      ['--rounds', '0'],
      ['--rounds', '1.5'],
      ['--connections'],
      ['--targets', 'envoy'],
      ['--targets', ','],
      ['--load-generator', 'ab'],
      ['--quick=1'],
      ['--no-tcp=1'],
      ['--tcp', 'off'],
      ['--tcp-out', ' '],
      ['--tcp-out'],
      ['stray'],
      ['--cpu-prof', '--targets', 'direct'],
    ];
    for (const argv of bad) assert.throws(() => parseOptions(argv, {}), OptionsError, argv.join(' '));
    assert.throws(() => parseOptions([], { BENCH_ROUNDS: 'many' }), OptionsError);
  });
});

describe('load generator output', () => {
  test('wrk reporter line: microseconds to milliseconds, req/s from requests and duration', () => {
    const stdout = [
      'Running 10s test @ http://127.0.0.1:1/',
      '  1 threads and 50 connections',
      'BENCH_RESULT {"requests":600000,"durationUs":10000000,"connect":0,"read":2,"write":0,"status":3,"timeout":1,' +
        '"mean":650.500,"p50":640,"p90":800,"p99":1200,"p999":2500,"max":9000}',
      '',
    ].join('\n');
    const r = parseWrkOutput(stdout);
    assert.equal(r.requests, 600000);
    assert.equal(r.durationS, 10);
    assert.equal(r.reqPerSec, 60000);
    assert.deepEqual(r.latencyMs, { mean: 0.6505, p50: 0.64, p90: 0.8, p99: 1.2, p999: 2.5, max: 9 });
    assert.deepEqual(r.errors, { connect: 0, read: 2, write: 0, timeout: 1, status: 3 });
  });

  test('wrk output without the reporter line or with a bad field is an error', () => {
    assert.throws(() => parseWrkOutput('Requests/sec: 1000\n'), /no result line/);
    assert.throws(() => parseWrkOutput('BENCH_RESULT {"requests":1}\n'), /durationUs/);
  });

  test('autocannon JSON: 3xx is success, as in wrk', () => {
    const json = JSON.stringify({
      duration: 2,
      errors: 1,
      timeouts: 2,
      non2xx: 7,
      '3xx': 4,
      latency: { mean: 1.5, p50: 1, p90: 2, p99: 4, p99_9: 8, max: 12 },
      requests: { total: 50000 },
    });
    const r = parseAutocannonOutput(`${json}\n`);
    assert.equal(r.reqPerSec, 25000);
    assert.equal(r.latencyMs.p99, 4);
    assert.equal(r.latencyMs.p999, 8);
    assert.deepEqual(r.errors, { connect: 1, read: 0, write: 0, timeout: 2, status: 3 });
  });
});

const QUIET = { foreignCpus: 0, stealCpus: 0 };

function result(reqPerSec: number, p50: number, p99: number, status = 0): LoadResult {
  return {
    requests: reqPerSec * 10,
    durationS: 10,
    reqPerSec,
    latencyMs: { mean: p50, p50, p90: p99, p99, p999: p99, max: p99 },
    errors: { connect: 0, read: 0, write: 0, timeout: 0, status },
  };
}

describe('bench report', () => {
  test('median of odd and even counts', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(median([7]), 7);
    assert.throws(() => median([]));
  });

  test('medians per target, ratios to direct and of Ballast to HAProxy, goals', () => {
    const runs: RunRecord[] = [];
    const add = (round: number, target: RunRecord['target'], r: LoadResult, rss?: number): void => {
      const peakRssMB = rss === undefined ? undefined : rss + 5;
      runs.push({ round, target, result: r, rssMB: rss, peakRssMB, background: QUIET, discardedAttempts: 0 });
    };
    for (const [round, scale] of [[1, 1], [2, 1.1], [3, 0.9]] as const) {
      add(round, 'direct', result(100_000 * scale, 0.4, 0.8));
      add(round, 'ballast', result(40_000 * scale, 1, 2.5), 80 + round);
      add(round, 'haproxy', result(64_000 * scale, 0.6, 1.2, round === 2 ? 4 : 0), 15);
    }
    const s = summarize(runs, ['direct', 'ballast', 'haproxy', 'nginx'], { ballast: 'ballast 0.1.0' });
    assert.deepEqual(
      s.targets.map((t) => t.target),
      ['direct', 'ballast', 'haproxy'],
      'targets without runs are left out',
    );
    const [direct, ballast, haproxy] = s.targets;
    assert.equal(direct?.reqPerSec, 100_000);
    assert.equal(direct?.vsDirect, 1);
    assert.equal(direct?.rssMB, undefined);
    assert.equal(ballast?.version, 'ballast 0.1.0');
    assert.equal(ballast?.vsDirect, 0.4);
    assert.equal(ballast?.rssMB, 83, 'largest post-run RSS');
    assert.equal(ballast?.peakRssMB, 88);
    assert.equal(haproxy?.errors, 4);
    assert.equal(s.ballastToHaproxy, 40_000 / 64_000);
    assert.equal(s.ballastToHaproxyPerRound.length, 3);
    for (const r of s.ballastToHaproxyPerRound) assert.ok(Math.abs(r - 0.625) < 1e-9);
    assert.deepEqual(
      s.goals.map((g) => [g.limit, g.pass]),
      [
        [GOALS.minBallastToHaproxy, true],
        [GOALS.maxBallastP99Ms, true],
        [GOALS.maxBallastRssMB, true],
      ],
    );
    const table = markdownTable(s);
    assert.match(table, /^\| target \| req\/s \| p50 ms \| p99 ms \| RSS MB \| peak RSS MB \| × direct \| errors \|$/m);
    assert.match(table, /^\| Ballast \| 40000 \| 1\.00 \| 2\.50 \| 83\.0 \| 88\.0 \| 0\.40 \| 0 \|$/m);
    assert.match(table, /^\| direct \(no proxy\) \| 100000 \| 0\.40 \| 0\.80 \| – \| – \| 1\.00 \| 0 \|$/m);
    assert.match(table, /Ballast ÷ HAProxy req\/s: \*\*0\.63\*\*/);
  });

  test('a missed goal is reported as missed', () => {
    const runs: RunRecord[] = [
      { round: 1, target: 'ballast', result: result(10_000, 2, 9), rssMB: 200, peakRssMB: 210, background: QUIET, discardedAttempts: 0 },
      {
        round: 1,
        target: 'haproxy',
        result: result(60_000, 0.5, 1),
        rssMB: 15,
        peakRssMB: 15,
        background: { foreignCpus: 0.4, stealCpus: 0.05 },
        discardedAttempts: 2,
      },
    ];
    const s = summarize(runs, ['ballast', 'haproxy'], {});
    assert.deepEqual(
      s.goals.map((g) => g.pass),
      [false, false, false],
    );
    assert.match(markdownTable(s), /MISSED: Ballast p99/);
    assert.equal(s.maxBackgroundCpus, 0.4);
    assert.equal(s.maxStealCpus, 0.05);
    assert.match(markdownTable(s), /Warning: the machine was not quiet/);
  });

  test('a quiet run carries no warning', () => {
    const s = summarize([{ round: 1, target: 'direct', result: result(1, 1, 1), rssMB: undefined, peakRssMB: undefined, background: QUIET, discardedAttempts: 0 }], ['direct'], {});
    assert.doesNotMatch(markdownTable(s), /Warning/);
    assert.deepEqual(s.goals, []);
  });
});

describe('cpu profile summary', () => {
  const frame = (functionName: string, url = '', lineNumber = 0) => ({ functionName, url, lineNumber });
  const profile: CpuProfile = {
    nodes: [
      { id: 1, callFrame: frame('(root)') },
      { id: 2, callFrame: frame('(idle)') },
      { id: 3, callFrame: frame('forward', 'file:///srv/app/dist/proxy/http.js', 41) },
      { id: 4, callFrame: frame('forward', 'file:///srv/app/dist/proxy/http.js', 41) },
      { id: 5, callFrame: frame('onHeaders', 'file:///srv/app/node_modules/undici/lib/dispatcher/client-h1.js', 9) },
      { id: 6, callFrame: frame('(garbage collector)') },
      { id: 7, callFrame: frame('writev') },
      { id: 8, callFrame: frame('', 'node:internal/streams/writable', 99) },
    ],
    // Every sample lasts 100 µs (the next delta); the last gets the mean interval.
    samples: [2, 3, 4, 3, 5, 5, 6, 7, 8, 2],
    timeDeltas: [5, 100, 100, 100, 100, 100, 100, 100, 100, 100],
  };

  test('self time merges nodes of the same function and leaves idle out of the percentages', () => {
    const s = summarizeProfile(profile, 3);
    assert.equal(s.samples, 10);
    assert.equal(s.totalMs, 1);
    assert.equal(s.idleMs, 0.2);
    assert.ok(Math.abs(s.busyMs - 0.8) < 1e-9);
    assert.equal(s.top.length, 3);
    assert.deepEqual(
      { name: s.top[0]?.functionName, location: s.top[0]?.location, area: s.top[0]?.area },
      { name: 'forward', location: 'dist/proxy/http.js:42', area: 'ballast proxy/' },
    );
    assert.ok(Math.abs((s.top[0]?.selfPct ?? 0) - 37.5) < 1e-9);
    assert.equal(s.top[1]?.area, 'undici');
    const areas = Object.fromEntries(s.areas.map((a) => [a.area, a.selfPct]));
    assert.deepEqual(Object.keys(areas).sort(), ['GC', 'ballast proxy/', 'native', 'node streams', 'undici']);
    assert.ok(Math.abs((areas['GC'] ?? 0) - 12.5) < 1e-9);
    const text = formatProfile(s);
    assert.match(text, /37\.5%  forward  dist\/proxy\/http\.js:42/);
    assert.match(text, /Self time by area/);
  });

  test('areas and short locations', () => {
    assert.equal(areaOf('x', 'file:///a/node_modules/@scope/pkg/lib/x.js'), '@scope/pkg');
    assert.equal(areaOf('x', 'node:net'), 'node net');
    assert.equal(areaOf('x', 'node:internal/http'), 'node http');
    assert.equal(areaOf('x', 'node:_http_server'), 'node http');
    assert.equal(areaOf('x', 'node:internal/stream_base_commons'), 'node streams');
    assert.equal(areaOf('x', 'node:internal/http2/core'), 'node http2');
    assert.equal(areaOf('wasm-function[20]', 'wasm://wasm/00034eea'), 'wasm');
    assert.equal(areaOf('x', 'file:///a/dist/index.js'), 'ballast');
    assert.equal(areaOf('x', 'file:///elsewhere/x.js'), 'other');
    assert.equal(areaOf('(program)', ''), '(program)');
    assert.equal(shortLocation('file:///a/node_modules/undici/index.js'), 'undici/index.js');
    assert.equal(shortLocation('node:net'), 'node:net');
  });
});

describe('background CPU', () => {
  test('other processes = all process time minus our own; steal separately; clamped at 0', () => {
    const before = { processTicks: 1000, stealTicks: 10, ownTicks: 400 };
    const after = { processTicks: 1500, stealTicks: 30, ownTicks: 800 };
    const bg = backgroundCpu(before, after, 2);
    assert.ok(Math.abs(bg.foreignCpus - 0.5) < 1e-9, '100 foreign ticks over 2 s = 0.5 CPU');
    assert.ok(Math.abs(bg.stealCpus - 0.1) < 1e-9);
    assert.deepEqual(backgroundCpu(after, { ...after, ownTicks: 900 }, 1), { foreignCpus: 0, stealCpus: 0 });
    assert.deepEqual(backgroundCpu(before, after, 0), { foreignCpus: 0, stealCpus: 0 });
  });

  test('samples this process from /proc', () => {
    const a = sampleCpu([process.pid]);
    let x = 0;
    for (let i = 0; i < 5e7; i++) x += i % 7;
    const b = sampleCpu([process.pid]);
    assert.ok(x > 0);
    assert.ok(b.ownTicks >= a.ownTicks, 'own time never decreases');
    assert.ok(b.processTicks >= a.processTicks);
    assert.ok(a.ownTicks > 0);
  });
});

describe('benchmark configs', () => {
  const backends = [
    { name: 'b1', port: 40001 },
    { name: 'b2', port: 40002 },
  ];

  test('HAProxy: HTTP mode, one thread, round robin, connection reuse', () => {
    const cfg = haproxyConfig('/tmp/x', 40000, backends);
    for (const line of [
      'nbthread 1',
      'mode http',
      'option http-keep-alive',
      'http-reuse always',
      'bind 127.0.0.1:40000',
      'balance roundrobin',
      'server b1 127.0.0.1:40001',
      'server b2 127.0.0.1:40002',
    ]) {
      assert.ok(cfg.includes(line), line);
    }
  });

  test('NGINX proxy: pooled keep-alive upstream, one worker', () => {
    const cfg = nginxProxyConfig('/tmp/x', 40000, backends, ['fastcgi']);
    for (const line of [
      'worker_processes 1;',
      'daemon off;',
      'keepalive 64;',
      'proxy_http_version 1.1;',
      'proxy_set_header Connection "";',
      'server 127.0.0.1:40001;',
      'listen 127.0.0.1:40000;',
      'fastcgi_temp_path /tmp/x/proxy-temp/fastcgi;',
      'access_log off;',
    ]) {
      assert.ok(cfg.includes(line), line);
    }
    assert.ok(!cfg.includes('uwsgi'), 'temp paths only for modules that exist');
  });

  test('NGINX backend: one server block per backend answering its name', () => {
    const cfg = nginxBackendConfig('/tmp/x', backends, []);
    assert.ok(cfg.includes('listen 127.0.0.1:40001;'));
    assert.ok(cfg.includes('return 200 "b2\\n";'));
  });

  test('nginx -V decides which temp paths are set', () => {
    assert.deepEqual(nginxTempModules('configure arguments: --with-http_ssl_module'), ['fastcgi', 'uwsgi', 'scgi']);
    assert.deepEqual(nginxTempModules('--without-http_uwsgi_module --without-http_scgi_module'), ['fastcgi']);
  });

  test('Ballast YAML: one listener, one round-robin pool over both backends', () => {
    const doc = parseYaml(ballastConfig(40000, backends)) as Record<string, unknown>;
    assert.deepEqual(doc, {
      log: { level: 'warn', access: 'off' },
      listeners: [{ name: 'bench', protocol: 'http', listen: '127.0.0.1:40000', routes: [{ pool: 'app' }] }],
      pools: [
        {
          name: 'app',
          algorithm: 'round-robin',
          servers: [
            { name: 'b1', address: '127.0.0.1:40001' },
            { name: 'b2', address: '127.0.0.1:40002' },
          ],
        },
      ],
    });
  });

  test('node backend arguments', () => {
    assert.deepEqual(parseBackendArgs(['b1=8001', 'b-2=65535']), [
      { name: 'b1', port: 8001 },
      { name: 'b-2', port: 65535 },
    ]);
    assert.throws(() => parseBackendArgs([]));
    assert.throws(() => parseBackendArgs(['b1=0']));
    assert.throws(() => parseBackendArgs(['b1:8001']));
  });
});

describe('L4 benchmark', () => {
  const backends = [
    { name: 'b1', port: 40001 },
    { name: 'b2', port: 40002 },
  ];

  test('inside npm run bench: as many rounds and wrk seconds as the HTTP runs, half that of iperf3', () => {
    const full = tcpOptionsForBench(parseOptions([], {}));
    const waits = { quietWaitS: DEFAULT_OPTIONS.quietWaitS };
    assert.deepEqual(full, { ...DEFAULT_TCP_OPTIONS, ...waits }, 'the HTTP defaults give the L4 defaults');
    const quick = tcpOptionsForBench(parseOptions(['--quick', '--tcp-out', 'x.json'], {}));
    assert.deepEqual(quick, { ...parseTcpOptions(['--quick']), ...waits, out: 'x.json' }, '--quick gives the L4 smoke run');
    const short = tcpOptionsForBench(parseOptions(['--duration', '1', '--warmup', '0', '--rounds', '2', '--no-pin', '--quiet-wait', '0', '--retries', '0'], {}));
    assert.equal(short.rounds, 2);
    assert.equal(short.durationS, 1);
    assert.equal(short.bulkDurationS, 1);
    assert.equal(short.warmupS, 0);
    assert.equal(short.pin, false);
    assert.equal(short.quietWaitS, 0);
    assert.equal(short.retries, 0);
    assert.equal(short.check, false, 'the L4 goals do not decide the exit status of npm run bench');
    assert.equal(tcpOptionsForBench(parseOptions(['--duration', '30', '--retries', '5'], {})).bulkDurationS, 15);
    assert.equal(tcpOptionsForBench(parseOptions(['--retries', '5'], {})).retries, DEFAULT_TCP_OPTIONS.retries);
  });

  test('npm run bench:tcp options', () => {
    assert.deepEqual(parseTcpOptions([]), DEFAULT_TCP_OPTIONS);
    assert.equal(parseTcpOptions(['--quick', '--rounds=2']).rounds, 2);
    assert.equal(parseTcpOptions(['--bulk-duration', '7s']).bulkDurationS, 7);
    assert.throws(() => parseTcpOptions(['--rounds', '0']));
    assert.throws(() => parseTcpOptions(['--no-tcp']));
  });

  test('ratios to HAProxy for Ballast and the bare Node.js pipe; goals for Ballast only', () => {
    const connection = (round: number, target: TcpTarget, reqPerSec: number): ConnectionRun => ({
      round,
      target,
      result: result(reqPerSec, 1, 2),
      background: QUIET,
      proxy: target === 'direct' ? undefined : { cpuMs: reqPerSec / 100, systemMs: reqPerSec / 400, minorFaults: 0 },
      rssMB: target === 'direct' ? undefined : 50,
    });
    const bulk = (round: number, target: TcpTarget, direction: 'upload' | 'download', gbps: number): BulkRun => ({
      round,
      target,
      direction,
      result: { bitsPerSecond: gbps * 1e9, bytes: gbps * 1e9, totalBytes: gbps * 1e9, retransmits: 0 },
      background: QUIET,
      proxy: target === 'direct' ? undefined : { cpuMs: 500, systemMs: 400, minorFaults: 0 },
      rssMB: target === 'direct' ? undefined : 60,
    });
    const rates: Record<TcpTarget, [number, number, number]> = {
      direct: [15_000, 24, 24],
      ballast: [6_000, 12, 12],
      node: [5_000, 8, 6],
      haproxy: [12_000, 10, 10],
    };
    const connectionRuns: ConnectionRun[] = [];
    const bulkRuns: BulkRun[] = [];
    for (const round of [1, 2, 3]) {
      for (const [target, [conn, up, down]] of Object.entries(rates) as Array<[TcpTarget, [number, number, number]]>) {
        connectionRuns.push(connection(round, target, conn));
        bulkRuns.push(bulk(round, target, 'upload', up), bulk(round, target, 'download', down));
      }
    }
    const versions = { direct: 'nginx', ballast: 'ballast', node: 'node', haproxy: 'haproxy' };
    const summary = summarizeTcp(connectionRuns, bulkRuns, versions);
    assert.deepEqual(
      summary.ratios.map((r) => [r.target, r.connections, r.bulk.upload, r.bulk.download]),
      [
        ['ballast', 0.5, 1.2, 1.2],
        ['node', 5_000 / 12_000, 0.8, 0.6],
      ],
    );
    assert.deepEqual(summary.ratios[0]?.connectionsPerRound, [0.5, 0.5, 0.5]);
    assert.deepEqual(
      summary.goals.map((g) => [g.goal.startsWith('Ballast '), g.limit, g.pass]),
      [
        [true, TCP_GOALS.minConnectionRatio, false],
        [true, TCP_GOALS.minBulkRatio, true],
        [true, TCP_GOALS.minBulkRatio, true],
      ],
    );
    const ballast = summary.targets.find((t) => t.target === 'ballast');
    assert.equal(ballast?.cpuUsPerConnection, (60 * 1000) / 60_000);
    assert.equal(ballast?.kernelUsPerConnection, (15 * 1000) / 60_000);
    assert.equal(summary.targets.find((t) => t.target === 'direct')?.kernelUsPerConnection, undefined);
    const table = tcpMarkdown(summary);
    assert.match(table, /^\| Ballast \| 6000 \| 2\.00 \| 0\.40 \| 1 \| 0 \| 12\.00 \| 42 \| 12\.00 \| 42 \| 60\.0 \| 0 \|$/m);
    assert.match(table, /^\| bare Node\.js pipe \| 5000 \|/m);
    assert.match(table, /^bare Node\.js pipe ÷ HAProxy: connections\/s \*\*0\.42\*\*/m);
    assert.match(table, /^- MISSED: Ballast connections\/s ÷ HAProxy connections\/s ≥ 0\.9 — measured 0\.50$/m);
    assert.doesNotMatch(table, /MISSED: bare Node/);
  });

  test('configs: Ballast and HAProxy forward the same two listeners', () => {
    const doc = parseYaml(ballastTcpConfig(41000, 41001, backends, 5201)) as { listeners: unknown[] };
    assert.deepEqual(doc.listeners, [
      { name: 'conn', protocol: 'tcp', listen: '127.0.0.1:41000', pool: 'web' },
      { name: 'bulk', protocol: 'tcp', listen: '127.0.0.1:41001', pool: 'iperf' },
    ]);
    const cfg = haproxyTcpConfig('/tmp/x', 41000, 41001, backends, 5201);
    for (const line of ['mode tcp', 'nbthread 1', 'bind 127.0.0.1:41000', 'bind 127.0.0.1:41001', 'server b2 127.0.0.1:40002', 'server iperf 127.0.0.1:5201']) {
      assert.ok(cfg.includes(line), line);
    }
  });

  test('bare Node.js pipe arguments', () => {
    assert.deepEqual(parsePipeArgs(['8000=9001,9002', '8001=5201']), [
      { port: 8000, targets: [9001, 9002] },
      { port: 8001, targets: [5201] },
    ]);
    assert.throws(() => parsePipeArgs([]));
    assert.throws(() => parsePipeArgs(['8000']));
    assert.throws(() => parsePipeArgs(['8000=']));
    assert.throws(() => parsePipeArgs(['8000=70000']));
    assert.throws(() => parsePipeArgs(['0=9001']));
  });
});
