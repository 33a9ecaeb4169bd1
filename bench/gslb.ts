/**
 * GSLB benchmark: failure detection and DNS switch-over times, measured on
 * real processes over loopback, the false-suspicion rate of the detector on
 * lossy links (simulated), and authoritative DNS throughput with dnsperf.
 *
 *   npm run bench:gslb        (tsc -p tsconfig.test.json && node build/bench/gslb.js)
 *
 * Environment: GSLB_BENCH_ROUNDS (default 5) rounds per failure kind;
 * GSLB_BENCH_DNSPERF_SECONDS (default 10) per dnsperf run.
 * Prints a Markdown report on stdout.
 */
import { execFile, spawnSync } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { GslbNode } from '../src/gslb/index.js';
import { PhiAccrualDetector, elapsedForPhi } from '../src/gslb/phi-accrual.js';
import { seededRandom } from '../src/core/random.js';
import { freeUdpPort, gslbConfig, HeartbeatRelay, queryA, requireProgram, SiteProcess, sleep, waitFor, wwwFailover } from '../test/gslb/helpers.js';

const ROUNDS = Number(process.env['GSLB_BENCH_ROUNDS'] ?? 5);
const DNSPERF_SECONDS = Number(process.env['GSLB_BENCH_DNSPERF_SECONDS'] ?? 10);
const EU = '127.0.0.10';
const US = '127.0.0.20';
const INTERVAL = 250;
const TTL_SECONDS = 5;

interface Summary {
  min: number;
  median: number;
  p90: number;
  max: number;
}

function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return { min: sorted[0] ?? NaN, median: at(0.5), p90: at(0.9), max: sorted.at(-1) ?? NaN };
}

const fmt = (ms: number): string => `${Math.round(ms)} ms`;

/** Polls `port` every 10 ms until www answers `address`; the wall time it first did. */
async function until(port: number, address: string, timeout = 10_000): Promise<number> {
  return waitFor(async () => ((await queryA(port, 'www.example.com', 200))?.join() === address ? Date.now() : undefined), timeout, `www = ${address}`, 10);
}

/** Two site processes; each round fails eu (SIGKILL or no healthy servers) and times the switch at us. */
async function twoSiteRounds(dir: string, kind: 'kill' | 'unready'): Promise<number[]> {
  const [euPort, usPort] = [await freeUdpPort(), await freeUdpPort()];
  const common = { records: [wwwFailover()], interval: INTERVAL, failbackDelay: 1000 };
  const euConfig = gslbConfig({ site: 'eu', heartbeatPort: euPort, peers: [{ site: 'us', port: usPort }], ...common });
  const usConfig = gslbConfig({ site: 'us', heartbeatPort: usPort, peers: [{ site: 'eu', port: euPort }], ...common });
  const us = await SiteProcess.start(dir, usConfig, true);
  let eu = await SiteProcess.start(dir, euConfig, true);
  const samples: number[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      await until(us.dnsPort, EU);
      // Fail at a random phase of the heartbeat interval.
      await sleep(500 + Math.random() * INTERVAL);
      const failedAt = Date.now();
      if (kind === 'kill') eu.kill('SIGKILL');
      else eu.setReady(false);
      samples.push((await until(us.dnsPort, US)) - failedAt);
      if (kind === 'kill') {
        await eu.exited;
        eu = await SiteProcess.start(dir, euConfig, true);
      } else {
        eu.setReady(true);
      }
    }
  } finally {
    await Promise.all([eu.stop(), us.stop()]);
  }
  return samples;
}

/** Three in-process sites behind a relay; each round cuts eu off from both others and times the switch at us. */
async function isolationRounds(): Promise<number[]> {
  const names = ['eu', 'us', 'witness'];
  const ports = new Map<string, number>();
  for (const name of names) ports.set(name, await freeUdpPort());
  const relay = await HeartbeatRelay.start(ports);
  const nodes = names.map(
    (name) =>
      new GslbNode(
        gslbConfig({
          site: name,
          heartbeatPort: ports.get(name) ?? 0,
          peers: relay.peersOf(name),
          witness: name === 'witness',
          failbackDelay: 1000,
          ...(name === 'witness' ? {} : { records: [wwwFailover()] }),
        }),
        { localReady: () => true },
      ),
  );
  const samples: number[] = [];
  try {
    await Promise.all(nodes.map((node) => node.start()));
    const usPort = nodes[1]?.dnsPort ?? 0;
    for (let round = 0; round < ROUNDS; round++) {
      await until(usPort, EU);
      await sleep(500 + Math.random() * INTERVAL);
      const cutAt = Date.now();
      relay.isolate('eu', true);
      samples.push((await until(usPort, US)) - cutAt);
      relay.isolate('eu', false);
    }
  } finally {
    await Promise.all(nodes.map((node) => node.close()));
    await relay.close();
  }
  return samples;
}

/** False suspicions per hour of one detector with default settings, for independent packet loss. */
function falseSuspicionsPerHour(loss: number): number {
  const random = seededRandom(Math.round(loss * 1000) + 1);
  const detector = new PhiAccrualDetector({ threshold: 8, expectedInterval: INTERVAL, minStdDeviation: 0.6 * INTERVAL });
  const slots = (4 * 3600 * 1000) / INTERVAL; // four simulated hours
  let now = 0;
  let suspected = false;
  let count = 0;
  for (let slot = 0; slot < slots; slot++) {
    for (let t = 0; t < INTERVAL; t += 10) {
      const down = detector.lastHeartbeat !== undefined && !detector.isAvailable(now + t);
      if (down && !suspected) count++;
      suspected = down;
    }
    now += INTERVAL;
    if (random() >= loss) detector.heartbeat(now);
  }
  return count / 4;
}

function run(command: string, args: readonly string[], timeout: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, [...args], { timeout, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} failed: ${stderr || error.message}`));
      else resolve(stdout);
    });
  });
}

/** dnsperf against one site process pinned to one core; returns queries per second and the output. */
async function dnsperf(dir: string): Promise<{ qps: number; lost: string; latency: string; output: string }> {
  requireProgram('dnsperf', 'dnsperf');
  const port = await freeUdpPort();
  const www = { ...wwwFailover(), targets: [{ site: 'eu', address: EU, weight: 1 }] };
  const config = gslbConfig({ site: 'eu', heartbeatPort: port, peers: [], records: [www], interval: INTERVAL });
  const site = await SiteProcess.start(dir, config, true);
  try {
    const pin = spawnSync('taskset', ['-cp', '0', String(site.pid)]);
    if (pin.status !== 0) process.stderr.write('taskset unavailable: the server is not pinned to one core\n');
    const queries = join(dir, 'queries.txt');
    const lines: string[] = [];
    for (let i = 0; i < 1000; i++) {
      const pick = i % 10;
      lines.push(pick < 7 ? 'www.example.com A' : pick < 8 ? 'example.com SOA' : pick < 9 ? `nx${i}.example.com A` : 'www.example.com AAAA');
    }
    writeFileSync(queries, `${lines.join('\n')}\n`);
    const prefix = cpus().length > 1 ? ['taskset', '-c', '1'] : [];
    const [command, ...args] = [...prefix, 'dnsperf', '-s', '127.0.0.1', '-p', String(site.dnsPort), '-d', queries, '-l', String(DNSPERF_SECONDS), '-c', '4', '-q', '200'];
    const output = await run(command ?? 'dnsperf', args, (DNSPERF_SECONDS + 30) * 1000);
    const qps = Number(/Queries per second:\s+([\d.]+)/.exec(output)?.[1] ?? NaN);
    const lost = /Queries lost:\s+(.*)/.exec(output)?.[1]?.trim() ?? '?';
    const latency = /Average Latency \(s\):\s+(.*)/.exec(output)?.[1]?.trim() ?? '?';
    return { qps, lost, latency, output };
  } finally {
    await site.stop();
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ballast-bench-gslb-'));
  try {
    const kill = summarize(await twoSiteRounds(dir, 'kill'));
    const unready = summarize(await twoSiteRounds(dir, 'unready'));
    const isolation = summarize(await isolationRounds());
    const theory = elapsedForPhi(8, INTERVAL, 0.6 * INTERVAL);
    const perf = await dnsperf(dir);

    const out: string[] = [];
    out.push('## GSLB benchmark', '');
    out.push(`Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, heartbeat ${INTERVAL} ms, phiThreshold 8, ${ROUNDS} rounds each.`, '');
    out.push('### Detection and switch-over (failure → authoritative answer changed at the surviving site)', '');
    out.push('| failure | min | median | p90 | max |', '|---|---|---|---|---|');
    const row = (name: string, s: Summary): string => `| ${name} | ${fmt(s.min)} | ${fmt(s.median)} | ${fmt(s.p90)} | ${fmt(s.max)} |`;
    out.push(row('eu process SIGKILLed (2 sites)', kill));
    out.push(row('eu has no healthy servers (2 sites)', unready));
    out.push(row('eu cut off from us and witness (3 sites)', isolation));
    out.push('', `Silence after the last heartbeat at which phi reaches 8 on a steady link: ${fmt(theory)}.`, '');
    out.push(`### Compared (DNS TTL ${TTL_SECONDS} s; clients behind caching resolvers move after the answer changes plus up to one TTL)`, '');
    out.push('| mechanism | answer changes after | clients moved after (worst case) |', '|---|---|---|');
    out.push(`| Ballast GSLB, process death | ${fmt(kill.median)} (median) | ${fmt(kill.max + TTL_SECONDS * 1000)} |`);
    out.push(`| Route 53 health check, 10 s interval × 3 failures | ≈ ${fmt(30_000)} | ≈ ${fmt(30_000 + TTL_SECONDS * 1000)} |`);
    out.push(`| VRRP (keepalived), 1 s advert × 3 + skew | ≈ ${fmt(3_000)}–${fmt(3_600)} (one L2 segment, no DNS) | ≈ ${fmt(3_600)} |`);
    out.push('', '### False suspicions of a live site on a lossy link (simulated, four hours, independent loss)', '');
    out.push('| loss | false suspicions per hour |', '|---|---|');
    for (const loss of [0.01, 0.05, 0.1, 0.2]) out.push(`| ${loss * 100} % | ${falseSuspicionsPerHour(loss).toFixed(2)} |`);
    out.push('', `### DNS throughput (dnsperf ${DNSPERF_SECONDS} s, 4 clients, 200 outstanding; server pinned to one core)`, '');
    out.push(`- queries per second: **${Math.round(perf.qps)}**`, `- lost: ${perf.lost}`, `- average latency: ${perf.latency} s`, '');
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
