/**
 * slowhttptest (slowloris and slow-body attacks, 500 connections each)
 * against a listener with default limits, run as its own process, while a
 * normal client sends a steady stream of requests: the legitimate requests
 * served per second stay at 80 % of the baseline or better.
 *
 * The legitimate client is paced (a fixed rate well below what the machine
 * sustains) rather than flat out: the attacking tool itself polls 500 sockets
 * and takes a good share of a small machine's CPU, so a flat-out client would
 * measure the tool's appetite, not Ballast. What is measured is whether
 * Ballast keeps serving clients at their demand while it holds the attack's
 * connections. Each figure is the median of several windows.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Pool } from 'undici';
import { writeTempFile } from '../helpers/ballast.js';
import { startBackend } from '../helpers/http-backend.js';
import { freePort } from '../helpers/net.js';
import { spawnCli, spawnProcess, type Spawned } from '../helpers/process.js';
import { requireProgram } from '../helpers/programs.js';

const WINDOW_MS = 3000;
const WINDOWS = 3;
/** Legitimate requests per second offered. */
const RATE = 300;
/** slowhttptest's own run time; the measuring happens inside it. */
const ATTACK_SECONDS = 18;

/**
 * Offers RATE requests per second for `ms` (in 10 ms ticks, at most 256 in
 * flight) and returns the successful answers per second.
 */
async function pacedWindow(pool: Pool, ms: number): Promise<{ rate: number; failed: number }> {
  const perTick = RATE / 100;
  let due = 0;
  let inFlight = 0;
  let ok = 0;
  let failed = 0;
  const pending: Promise<void>[] = [];
  const started = performance.now();
  while (performance.now() - started < ms) {
    due += perTick;
    while (due >= 1) {
      due -= 1;
      if (inFlight >= 256) continue;
      inFlight++;
      pending.push(
        pool
          .request({ path: '/', method: 'GET', headersTimeout: 5000, bodyTimeout: 5000 })
          .then(async (response) => {
            await response.body.text();
            if (response.statusCode === 200) ok++;
            else failed++;
          })
          .catch(() => {
            failed++;
          })
          .finally(() => {
            inFlight--;
          }),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await Promise.all(pending);
  return { rate: ok / (ms / 1000), failed };
}

/** The median successful rate over WINDOWS windows. */
async function throughput(url: string): Promise<number> {
  const pool = new Pool(url, { connections: 64, keepAliveTimeout: 30_000 });
  try {
    const rates: number[] = [];
    for (let i = 0; i < WINDOWS; i++) {
      const window = await pacedWindow(pool, WINDOW_MS);
      assert.equal(window.failed, 0, 'no legitimate request fails');
      rates.push(window.rate);
    }
    rates.sort((a, b) => a - b);
    return rates[Math.floor(rates.length / 2)] as number;
  } finally {
    await pool.close();
  }
}

/** The largest "connected" count slowhttptest reported (its output is coloured with ANSI codes). */
function peakConnected(output: string): number {
  const plain = output.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');
  let peak = 0;
  for (const match of plain.matchAll(/connected:\s+(\d+)/g)) peak = Math.max(peak, Number(match[1]));
  return peak;
}

describe('slow HTTP attacks', () => {
  test('slowloris and slow-body attacks keep legitimate throughput at >= 80 % of the baseline', { timeout: 150_000 }, async (t) => {
    requireProgram('slowhttptest', 'slowhttptest');
    const backend = await startBackend('b1');
    t.after(() => backend.close());
    const port = await freePort();
    const config = writeTempFile(
      'ballast.yaml',
      [
        'log: { level: info, access: off }',
        'listeners:',
        `  - { name: web, protocol: http, listen: 127.0.0.1:${port}, routes: [ { pool: app } ] }`,
        'pools:',
        `  - { name: app, servers: [ { name: b1, address: "${backend.address}" } ] }`,
        '',
      ].join('\n'),
    );
    const ballast = spawnCli(['start', '-c', config]);
    t.after(() => ballast.kill());
    await ballast.waitFor(/listening/);
    const url = `http://127.0.0.1:${port}/`;

    const baseline = await throughput(url);
    assert.ok(baseline > RATE * 0.5, `baseline ${Math.round(baseline)} req/s of ${RATE} offered`);

    for (const [mode, args] of [
      ['slowloris', ['-H', '-t', 'GET']],
      ['slow body', ['-B', '-t', 'POST', '-s', '8192']],
    ] as const) {
      const attack: Spawned = spawnProcess('slowhttptest', [
        ...args,
        '-c', '500', '-i', '10', '-r', '200', '-x', '24', '-p', '3',
        '-l', String(ATTACK_SECONDS),
        '-u', url,
      ]);
      t.after(() => attack.kill());
      // 500 connections at 200 per second: all open after about 3 s.
      await new Promise((resolve) => setTimeout(resolve, 4000));
      const during = await throughput(url);
      await attack.exited();
      const peak = peakConnected(attack.output());
      assert.ok(peak >= 250, `${mode}: the attack held ${peak} connections open`);
      const ratio = during / baseline;
      t.diagnostic(`${mode}: ${Math.round(during)} req/s under attack vs ${Math.round(baseline)} baseline (${Math.round(ratio * 100)} %), ${peak} attack connections`);
      assert.ok(ratio >= 0.8, `${mode}: ${Math.round(during)} req/s under attack, ${Math.round(ratio * 100)} % of ${Math.round(baseline)}`);
    }
    // Ballast is still healthy after both attacks.
    assert.ok((await throughput(url)) >= baseline * 0.8);
  });
});
