/**
 * Acceptance: a pool fed by SRV records from a real BIND 9 server follows
 * the records as they are changed with dynamic updates (nsupdate).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { configFromObject } from '../../src/config/index.js';
import { EventBus } from '../../src/core/events.js';
import { DiscoveryBinding } from '../../src/discovery/index.js';
import { Pool } from '../../src/pools/pool.js';
import { startNamed, type NamedServer } from '../helpers/named.js';
import { requireProgram } from '../helpers/programs.js';
import { dnsDiscovery, tempDir, waitFor } from './helpers.js';

const SECRET = Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 53 + 7) & 0xff)).toString('base64');
const SRV = '_web._tcp.example.com';

/** Sends one RFC 2136 update with nsupdate, signed with the test key. */
function nsupdate(named: NamedServer, commands: readonly string[]): Promise<void> {
  const program = requireProgram('nsupdate', 'dnsutils');
  return new Promise((resolve, reject) => {
    const child = spawn(program, ['-y', `hmac-sha256:${named.keyName}:${named.secret}`], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`nsupdate exited with ${code}: ${output}`));
    });
    child.stdin.end([`server 127.0.0.1 ${named.port}`, 'zone example.com', ...commands, 'send', ''].join('\n'));
  });
}

test('a pool fed by SRV records from BIND follows record changes', async (t) => {
  const named = await startNamed(t, tempDir(t), {
    ttl: 1,
    secret: SECRET,
    records: [
      'a IN A 127.0.0.1',
      'b IN A 127.0.0.1',
      'c IN A 127.0.0.1',
      '_web._tcp IN SRV 0 1 8001 a.example.com.',
      '_web._tcp IN SRV 0 1 8002 b.example.com.',
    ],
  });
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
  await nsupdate(named, [
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
  await nsupdate(named, [`update delete ${SRV}.`]);
  await waitFor(() => (/NXDOMAIN|NODATA/.test(binding.status().sources[0]?.lastError ?? '') ? true : undefined), 10_000, 'the deletion to be seen');
  assert.equal(members(), '127.0.0.1_8002/5 127.0.0.1_8003/1 127.0.0.1_8004/1/backup static-1/1');
});
