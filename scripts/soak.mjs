#!/usr/bin/env node
// Soak test: runs the built Ballast (dist/) as its own process for a long
// time under mixed load while backends are killed and restarted, servers are
// drained and enabled, and the config is reloaded (SIGHUP and the admin API).
// Samples Ballast's resident memory and open file descriptors and prints a
// verdict:
//   - RSS after warm-up grows by less than 10 %,
//   - open file descriptors at quiet points do not grow,
//   - 0 unexpected errors (a failure is expected only within a few seconds
//     after a backend was killed, and only for a request that could not be
//     retried), and Ballast never exits.
//
// Usage: npm run build && node scripts/soak.mjs [--minutes 10] [--concurrency 16]
// Everything listens on 127.0.0.1 and the load only goes there.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '16' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log('usage: node scripts/soak.mjs [--minutes 10] [--concurrency 16]   (run "npm run build" first)');
  process.exit(0);
}
const MINUTES = Number(values.minutes);
const CONCURRENCY = Number(values.concurrency);
if (!(MINUTES > 0) || !(CONCURRENCY > 0)) {
  console.error('--minutes and --concurrency must be positive numbers');
  process.exit(2);
}
const DURATION_MS = MINUTES * 60_000;
/** Memory is compared from the end of the warm-up: 20 % of the run, at least 30 s. */
const WARMUP_MS = Math.max(30_000, DURATION_MS * 0.2);
const SAMPLE_MS = 10_000;
/** A chaos action every CYCLE_MS; failures within EXPECTED_MS after a kill are expected. */
const CYCLE_MS = 15_000;
const EXPECTED_MS = 3_000;
const TOKEN = 'soak-admin-token';
const BACKENDS = ['s1', 's2', 's3'];
const CLI = 'dist/cli/main.js';

/** A backend server as its own process, so it can be SIGKILLed like a crashed one. */
const BACKEND_SOURCE = `
import { createServer } from 'node:http';
const name = process.env.SOAK_NAME;
const server = createServer({ keepAliveTimeout: 30000 }, (req, res) => {
  let bytes = 0;
  req.on('data', (chunk) => { bytes += chunk.length; });
  req.on('end', () => {
    const reply = () => { res.writeHead(200, { 'content-type': 'text/plain', 'x-backend': name, 'x-bytes': String(bytes) }); res.end(name + ' ' + bytes); };
    if (req.url.startsWith('/slow')) setTimeout(reply, 50); else reply();
  });
});
server.listen(Number(process.env.SOAK_PORT), '127.0.0.1', () => process.stdout.write('listening\\n'));
`;

async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function waitForOutput(child, pattern, timeoutMs = 15_000) {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}: ${output}`)), timeoutMs);
    const onData = (chunk) => {
      output += chunk.toString();
      if (pattern.test(output)) {
        clearTimeout(timer);
        child.stdout.off('data', onData);
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited (${code}) before printing ${pattern}: ${output}`));
    });
  });
}

const backendPorts = new Map();
const backendProcesses = new Map();

async function startBackendProcess(name) {
  const child = spawn(process.execPath, ['--input-type=module', '-e', BACKEND_SOURCE], {
    env: { ...process.env, SOAK_NAME: name, SOAK_PORT: String(backendPorts.get(name)) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  backendProcesses.set(name, child);
  await waitForOutput(child, /listening/);
  child.stdout.resume();
}

function configText(adminPort, listenPort, weight) {
  return [
    'log: { level: warn, access: off }',
    `admin: { listen: 127.0.0.1:${adminPort}, token: ${TOKEN} }`,
    'drainTimeout: 2s',
    'listeners:',
    `  - { name: web, protocol: http, listen: 127.0.0.1:${listenPort}, routes: [ { pool: app } ] }`,
    'pools:',
    '  - name: app',
    '    algorithm: least-connections',
    '    servers:',
    ...BACKENDS.map((name) => `      - { name: ${name}, address: 127.0.0.1:${backendPorts.get(name)}, weight: ${name === 's3' ? weight : 1} }`),
    '    healthCheck: { type: http, path: /healthz, interval: 500ms, timeout: 500ms, healthyThreshold: 1, unhealthyThreshold: 1 }',
    '    outlierDetection: { consecutiveFailures: 3, ejectionTime: 2s }',
    '    retries: { attempts: 2 }',
    // Short idle time upstream, so that at a quiet point no pooled connection remains open.
    '    timeouts: { connect: 1s, response: 10s, idle: 1s }',
    '',
  ].join('\n');
}

function rssMiB(pid) {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : 0;
}

function openFds(pid) {
  return readdirSync(`/proc/${pid}/fd`).length;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'ballast-soak-'));
  const configFile = join(dir, 'ballast.yaml');
  for (const name of BACKENDS) backendPorts.set(name, await freePort());
  const adminPort = await freePort();
  const listenPort = await freePort();
  for (const name of BACKENDS) await startBackendProcess(name);
  let weight = 1;
  writeFileSync(configFile, configText(adminPort, listenPort, weight));

  const ballast = spawn(process.execPath, [CLI, 'start', '-c', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let ballastExited = false;
  let stoppingBallast = false;
  let ballastLog = '';
  ballast.stderr.on('data', (chunk) => {
    ballastLog += chunk.toString();
  });
  ballast.once('exit', (code, signal) => {
    ballastExited = true;
    if (!stoppingBallast) console.error(`Ballast exited unexpectedly (${code ?? signal})`);
  });
  const cleanup = () => {
    if (!ballastExited) ballast.kill('SIGKILL');
    for (const child of backendProcesses.values()) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  await sleep(1500);
  if (ballastExited) throw new Error(`Ballast did not start: ${ballastLog}`);
  const base = `http://127.0.0.1:${listenPort}`;
  const admin = `http://127.0.0.1:${adminPort}`;

  // ---------------------------------------------------------------- load
  let pool = new Pool(base, { connections: CONCURRENCY, keepAliveTimeout: 30_000 });
  let paused = false;
  let stopping = false;
  const stats = { requests: 0, ok: 0, expected: 0, unexpected: 0, reasons: new Map() };
  let lastKillAt = -Infinity;
  const startedAt = performance.now();
  const elapsed = () => performance.now() - startedAt;
  const streamedBody = Buffer.alloc(100 * 1024, 7);
  const smallBody = Buffer.alloc(1024, 3);

  function record(failure) {
    if (failure === undefined) {
      stats.ok++;
      return;
    }
    if (elapsed() - lastKillAt < EXPECTED_MS) {
      stats.expected++;
      return;
    }
    stats.unexpected++;
    stats.reasons.set(failure, (stats.reasons.get(failure) ?? 0) + 1);
  }

  async function oneRequest(i) {
    const kind = i % 10;
    let options;
    if (kind < 5) options = { path: `/page/${i % 100}`, method: 'GET' };
    else if (kind < 7) options = { path: '/slow', method: 'GET' };
    else if (kind < 9) options = { path: '/form', method: 'POST', body: smallBody, headers: { 'idempotency-key': `k${i}` } };
    else options = { path: '/upload', method: 'PUT', body: [streamedBody] };
    if (options.body !== undefined && Array.isArray(options.body)) {
      // An async iterable: sent chunked, so the body streams through Ballast (no retry buffer).
      const chunks = options.body;
      options.body = (async function* () {
        for (const chunk of chunks) yield chunk;
      })();
    }
    stats.requests++;
    try {
      const response = await pool.request({ ...options, headersTimeout: 15_000, bodyTimeout: 15_000 });
      await response.body.text();
      record(response.statusCode === 200 ? undefined : `status ${response.statusCode}`);
    } catch (error) {
      record(error.code ?? error.message);
    }
  }

  async function client(id) {
    let i = id;
    while (!stopping) {
      if (paused) {
        await sleep(50);
        continue;
      }
      await oneRequest(i);
      i += CONCURRENCY;
    }
  }
  const clients = Array.from({ length: CONCURRENCY }, (_, id) => client(id));

  /** Stops the load, closes the client connections and waits for upstream idle connections to close. */
  async function quietFds() {
    paused = true;
    await sleep(300);
    await pool.close();
    pool = new Pool(base, { connections: CONCURRENCY, keepAliveTimeout: 30_000 });
    await sleep(2500);
    const fds = openFds(ballast.pid);
    paused = false;
    return fds;
  }

  // ---------------------------------------------------------------- chaos
  const actions = [
    async () => {
      const victim = BACKENDS[Math.floor(elapsed() / CYCLE_MS) % BACKENDS.length];
      lastKillAt = elapsed();
      backendProcesses.get(victim).kill('SIGKILL');
      await sleep(4000);
      await startBackendProcess(victim);
      return `killed and restarted ${victim}`;
    },
    async () => {
      const response = await fetch(`${admin}/api/v1/pools/app/servers/s2/drain`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
      await sleep(5000);
      const enabled = await fetch(`${admin}/api/v1/pools/app/servers/s2/enable`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
      return `drained and enabled s2 (${response.status}, ${enabled.status})`;
    },
    async () => {
      weight = weight === 1 ? 3 : 1;
      writeFileSync(configFile, configText(adminPort, listenPort, weight));
      ballast.kill('SIGHUP');
      return `reloaded by SIGHUP (weight of s3 ${weight})`;
    },
    async () => {
      weight = weight === 1 ? 3 : 1;
      writeFileSync(configFile, configText(adminPort, listenPort, weight));
      const response = await fetch(`${admin}/api/v1/reload`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
      return `reloaded by the admin API (${response.status})`;
    },
  ];
  let cycle = 0;
  const chaos = (async () => {
    while (!stopping) {
      await sleep(CYCLE_MS);
      if (stopping) break;
      const action = actions[cycle++ % actions.length];
      const done = await action();
      console.log(`  t=${Math.round(elapsed() / 1000)}s ${done}`);
    }
  })();

  // ---------------------------------------------------------------- samples
  const samples = [];
  console.log(`soak: ${MINUTES} min, ${CONCURRENCY} clients, warm-up ${Math.round(WARMUP_MS / 1000)} s, Ballast pid ${ballast.pid}`);
  let baselineFds;
  let warmedUp = false;
  while (elapsed() < DURATION_MS && !ballastExited) {
    await sleep(SAMPLE_MS);
    if (ballastExited) break;
    if (!warmedUp && elapsed() >= WARMUP_MS) {
      warmedUp = true;
      baselineFds = await quietFds();
      console.log(`  warm-up over: ${baselineFds} open descriptors at a quiet point`);
    }
    const sample = { t: elapsed(), rss: rssMiB(ballast.pid), fds: openFds(ballast.pid), afterWarmup: warmedUp };
    samples.push(sample);
    console.log(
      `t=${String(Math.round(sample.t / 1000)).padStart(4)}s rss=${sample.rss.toFixed(1).padStart(6)} MiB fds=${String(sample.fds).padStart(4)} ` +
        `requests=${stats.requests} ok=${stats.ok} expected-failures=${stats.expected} unexpected=${stats.unexpected}`,
    );
  }
  stopping = true;
  await chaos;
  const endFds = ballastExited ? NaN : await quietFds();
  stopping = true;
  await Promise.all(clients);
  await pool.close();

  // ---------------------------------------------------------------- verdict
  // Garbage collection moves RSS by several percent from one sample to the next: compare the
  // medians of the first and the last quarter of the samples after warm-up.
  const measured = samples.filter((sample) => sample.afterWarmup);
  const quarter = Math.max(3, Math.floor(measured.length / 4));
  const first = median(measured.slice(0, quarter).map((sample) => sample.rss));
  const last = median(measured.slice(-quarter).map((sample) => sample.rss));
  const growth = first > 0 ? (last - first) / first : NaN;
  const problems = [];
  if (ballastExited) problems.push('Ballast exited during the run');
  if (measured.length < 4) problems.push(`too few samples after warm-up (${measured.length}); run longer`);
  if (!(growth < 0.1)) problems.push(`RSS grew ${(growth * 100).toFixed(1)} % (${first.toFixed(1)} -> ${last.toFixed(1)} MiB)`);
  // A health check may hold one connection per server at the moment of a sample.
  if (!(endFds <= baselineFds + BACKENDS.length)) problems.push(`open descriptors grew from ${baselineFds} to ${endFds} at quiet points`);
  if (stats.unexpected > 0) problems.push(`${stats.unexpected} unexpected errors: ${JSON.stringify([...stats.reasons])}`);
  if (stats.ok === 0) problems.push('no request succeeded');
  console.log(
    `\nrequests ${stats.requests}, ok ${stats.ok}, expected failures ${stats.expected} (within ${EXPECTED_MS / 1000} s of a kill), unexpected ${stats.unexpected}`,
  );
  console.log(`RSS after warm-up ${first.toFixed(1)} MiB, at the end ${last.toFixed(1)} MiB (${(growth * 100).toFixed(1)} %)`);
  console.log(`open descriptors at quiet points: ${baselineFds} after warm-up, ${endFds} at the end`);
  if (!ballastExited) {
    stoppingBallast = true;
    ballast.kill('SIGTERM');
    await new Promise((resolve) => ballast.once('exit', resolve));
  }
  cleanup();
  if (problems.length > 0) {
    console.log(`\nFAIL\n- ${problems.join('\n- ')}`);
    return 1;
  }
  console.log('\nPASS');
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
