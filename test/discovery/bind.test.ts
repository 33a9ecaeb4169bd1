/**
 * Acceptance: a pool fed by SRV records from a real BIND 9 server follows
 * the records as they are changed with dynamic updates (nsupdate).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { configFromObject } from '../../src/config/index.js';
import { EventBus } from '../../src/core/events.js';
import { DiscoveryBinding } from '../../src/discovery/index.js';
import { queryServer } from '../../src/discovery/dns-client.js';
import { Pool } from '../../src/pools/pool.js';
import { dnsDiscovery, requireProgram, tempDir, waitFor } from './helpers.js';

const KEY_NAME = 'ballast-key';
const SECRET = Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 53 + 7) & 0xff)).toString('base64');
const SRV = '_web._tcp.example.com';

interface Named {
  readonly port: number;
  readonly log: string[];
}

async function freePort(): Promise<number> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  const port = (socket.address() as AddressInfo).port;
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

/** Starts named on 127.0.0.1 serving example.com with SRV records for ports 8001 and 8002. */
async function startNamed(t: { after(fn: () => Promise<void>): void }, dir: string): Promise<Named> {
  const named = requireProgram('named', 'bind9', ['/usr/sbin/named', '/usr/bin/named']);
  const log: string[] = [];
  writeFileSync(
    join(dir, 'example.com.zone'),
    [
      '$TTL 1',
      '@ IN SOA ns1.example.com. hostmaster.example.com. 1 3600 600 604800 1',
      '@ IN NS ns1.example.com.',
      'ns1 IN A 127.0.0.1',
      'a IN A 127.0.0.1',
      'b IN A 127.0.0.1',
      'c IN A 127.0.0.1',
      '_web._tcp IN SRV 0 1 8001 a.example.com.',
      '_web._tcp IN SRV 0 1 8002 b.example.com.',
      '',
    ].join('\n'),
  );
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    writeFileSync(
      join(dir, 'named.conf'),
      [
        'options {',
        `  directory "${dir}";`,
        `  listen-on port ${port} { 127.0.0.1; };`,
        '  listen-on-v6 { none; };',
        `  pid-file "${join(dir, 'named.pid')}";`,
        `  session-keyfile "${join(dir, 'session.key')}";`,
        '  recursion no;',
        '  dnssec-validation no;',
        '  allow-query { any; };',
        '};',
        'controls { };',
        `key "${KEY_NAME}" { algorithm hmac-sha256; secret "${SECRET}"; };`,
        `zone "example.com" { type primary; file "${join(dir, 'example.com.zone')}"; update-policy { grant ${KEY_NAME} zonesub ANY; }; };`,
        '',
      ].join('\n'),
    );
    const child = spawn(named, ['-g', '-c', join(dir, 'named.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => {
        log.push(line);
        if (log.length > 200) log.shift();
      });
    }
    const stop = async (): Promise<void> => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    };
    t.after(stop);
    try {
      await waitFor(
        async () => {
          if (child.exitCode !== null) throw new Error('named exited');
          try {
            const response = await queryServer({ host: '127.0.0.1', port }, 'example.com', 'A', { timeout: 500 });
            return response.authorities.length > 0 || response.answers.length > 0 ? true : undefined;
          } catch {
            return undefined;
          }
        },
        10_000,
        'named to serve example.com',
        100,
      );
      return { port, log };
    } catch (error) {
      await stop();
      if (attempt < 3 && log.some((line) => line.includes('address in use'))) continue;
      throw new Error(`named did not start: ${error instanceof Error ? error.message : String(error)}\n${log.slice(-20).join('\n')}`);
    }
  }
}

/** Sends one RFC 2136 update with nsupdate, signed with the test key. */
function nsupdate(port: number, commands: readonly string[]): Promise<void> {
  const program = requireProgram('nsupdate', 'dnsutils');
  return new Promise((resolve, reject) => {
    const child = spawn(program, ['-y', `hmac-sha256:${KEY_NAME}:${SECRET}`], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`nsupdate exited with ${code}: ${output}`));
    });
    child.stdin.end([`server 127.0.0.1 ${port}`, 'zone example.com', ...commands, 'send', ''].join('\n'));
  });
}

test('a pool fed by SRV records from BIND follows record changes', async (t) => {
  const named = await startNamed(t, tempDir(t));
  const config = configFromObject({
    pools: [{ name: 'web', algorithm: 'least-connections', servers: [{ name: 'static-1', address: '127.0.0.1:8000' }] }],
  }).pools[0];
  assert.ok(config !== undefined);
  const pool = new Pool(config, { events: new EventBus() });
  const binding = new DiscoveryBinding(pool, {
    name: 'web',
    servers: config.servers,
    discovery: [dnsDiscovery({ name: SRV, recordType: 'SRV', resolver: `127.0.0.1:${named.port}`, interval: '2s', minInterval: '200ms', timeout: '1s' })],
  });
  t.after(async () => {
    await binding.stop();
    await pool.stop();
  });
  const members = (): string => [...pool.list()].map((server) => `${server.name}/${server.configuredWeight}${server.backup ? '/backup' : ''}`).sort().join(' ');

  await waitFor(() => (members() === '127.0.0.1_8001/1 127.0.0.1_8002/1 static-1/1' ? true : undefined), 10_000, 'the records at start');

  // Replace a by c, weigh b 5, and add a lower-priority (backup) record.
  await nsupdate(named.port, [
    `update delete ${SRV}. SRV`,
    `update add ${SRV}. 1 SRV 0 5 8002 b.example.com.`,
    `update add ${SRV}. 1 SRV 0 1 8003 c.example.com.`,
    `update add ${SRV}. 1 SRV 10 1 8004 c.example.com.`,
  ]);
  await waitFor(
    () => (members() === '127.0.0.1_8002/5 127.0.0.1_8003/1 127.0.0.1_8004/1/backup static-1/1' ? true : undefined),
    10_000,
    `the updated records (pool: ${members()})`,
  );

  // The records are deleted: NXDOMAIN keeps the last servers.
  await nsupdate(named.port, [`update delete ${SRV}.`]);
  await waitFor(() => (/NXDOMAIN|NODATA/.test(binding.status().sources[0]?.lastError ?? '') ? true : undefined), 10_000, 'the deletion to be seen');
  assert.equal(members(), '127.0.0.1_8002/5 127.0.0.1_8003/1 127.0.0.1_8004/1/backup static-1/1');
});
