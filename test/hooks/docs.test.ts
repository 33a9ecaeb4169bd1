import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { delimiter, dirname } from 'node:path';
import { parse } from 'yaml';
import { HookDispatcher } from '../../src/hooks/dispatcher.js';
import { HOOK_EVENT_TYPES } from '../../src/hooks/types.js';
import { freePort } from '../helpers/net.js';
import { event, execAction, hook, killPidFile, recordingLogger, startReceiver, tempDir, waitUntil } from './helpers.js';

// The use case in docs/hooks.md is run here: its script, against its config file, with a
// stand-in for the admin API that records the reload call.
const DOC = readFileSync('docs/hooks.md', 'utf8');

function block(language: string, start: string): string {
  const fence = new RegExp('```' + language + '\\n([\\s\\S]*?)```', 'g');
  for (const match of DOC.matchAll(fence)) {
    if ((match[1] ?? '').startsWith(start)) return match[1] ?? '';
  }
  throw new Error(`docs/hooks.md has no ${language} block starting with ${JSON.stringify(start)}`);
}

test('docs/hooks.md: the events table lists every event type', () => {
  const table = DOC.slice(DOC.indexOf('## Events'), DOC.indexOf('## Payload'));
  const listed = new Set([...table.matchAll(/`([a-z]+(?:-[a-z]+)+)`/g)].map((match) => match[1]));
  assert.deepEqual(HOOK_EVENT_TYPES.filter((type) => !listed.has(type)), []);
  assert.deepEqual([...listed].filter((type) => !(HOOK_EVENT_TYPES as readonly string[]).includes(type ?? '')), []);
});

interface PoolDoc {
  name: string;
  servers: { name: string; address: string }[];
}

function poolServers(configFile: string): string[] {
  const config = parse(readFileSync(configFile, 'utf8')) as { pools: PoolDoc[] };
  return (config.pools[0]?.servers ?? []).map((server) => `${server.name}=${server.address}`);
}

test('docs/hooks.md: add-capacity.sh starts a spare, adds it to the pool, reloads, and respects its cool-down', async (t) => {
  const curl = spawnSync('curl', ['--version']);
  assert.equal(curl.error, undefined, 'curl is not installed (Debian package curl)');

  const tmp = tempDir();
  const configFile = tmp.file('ballast.yaml');
  writeFileSync(configFile, block('yaml', '# ballast.yaml\n'));
  const script = tmp.file('add-capacity.sh');
  writeFileSync(script, block('sh', '#!/bin/sh\n# add-capacity.sh'));
  chmodSync(script, 0o755);

  const documented = parse(readFileSync(configFile, 'utf8')) as { hooks: { name: string; on: string[]; pools: string[]; exec: { command: string } }[] };
  assert.deepEqual(documented.hooks[0], { name: 'add-capacity', on: ['pool-degraded', 'pool-empty'], pools: ['web'], exec: { command: './add-capacity.sh', timeout: '30s' } });
  assert.deepEqual(poolServers(configFile), ['web-1=127.0.0.1:3001', 'web-2=127.0.0.1:3002']);

  const admin = await startReceiver((request, res) => {
    res.writeHead(request.url === '/api/v1/reload' ? 200 : 404, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
  });
  t.after(() => admin.close());
  const spares = [await freePort(), await freePort()];
  const saved = { ...process.env };
  t.after(() => {
    for (const name of ['BALLAST_ADMIN_TOKEN', 'BALLAST_ADMIN_URL', 'SPARE_PORTS', 'COOLDOWN_SECONDS', 'PATH']) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
  });
  process.env['BALLAST_ADMIN_TOKEN'] = 'docs-admin-token';
  process.env['BALLAST_ADMIN_URL'] = admin.url.replace(/\/hook$/, '');
  process.env['SPARE_PORTS'] = spares.join(' ');
  // The demo backend is started with `node`: the one running these tests.
  process.env['PATH'] = `${dirname(process.execPath)}${delimiter}${saved['PATH'] ?? ''}`;
  t.after(() => {
    for (const port of spares) killPidFile(tmp.file(`spare-${port}.pid`));
    tmp.cleanup();
  });

  const logger = recordingLogger();
  const dispatcher = new HookDispatcher(
    [hook('add-capacity', execAction(script, [], { cwd: tmp.dir, timeout: 30_000 }), { on: ['pool-degraded', 'pool-empty'], pools: ['web'] })],
    { logger },
  );
  t.after(() => dispatcher.close(0));
  const delivered = (count: number) => () => dispatcher.stats()[0]?.delivered === count;
  const stdoutOf = (index: number): unknown => logger.lines.filter((line) => line.message === 'hook delivered')[index]?.fields['stdout'];

  // The pool loses a server: one spare is started, added and announced by a reload.
  dispatcher.handle(event('pool-degraded', { pool: 'web', reason: 'refused', detail: { health: 'degraded' } }));
  await waitUntil(delivered(1), 'the first run', 30_000);
  assert.equal(dispatcher.stats()[0]?.failed, 0, String(dispatcher.stats()[0]?.lastError));
  assert.equal(stdoutOf(0), `pool web: added spare-${spares[0]} after pool-degraded (refused)`);
  assert.deepEqual(poolServers(configFile), ['web-1=127.0.0.1:3001', 'web-2=127.0.0.1:3002', `spare-${spares[0]}=127.0.0.1:${spares[0]}`]);
  assert.deepEqual(admin.requests.map((request) => [request.method, request.url, request.headers['authorization']]), [
    ['POST', '/api/v1/reload', 'Bearer docs-admin-token'],
  ]);
  // The spare may still be starting: ask for up to 15 s.
  let answer = '';
  for (let tries = 0; tries < 150 && answer === ''; tries++) {
    answer = await fetch(`http://127.0.0.1:${spares[0]}/healthz`).then(
      (response) => response.text(),
      () => new Promise<string>((done) => setTimeout(() => done(''), 100)),
    );
  }
  assert.equal(answer, `spare ${spares[0]}\n`);

  // Within the cool-down a further event changes nothing.
  dispatcher.handle(event('pool-empty', { pool: 'web', reason: 'refused' }));
  await waitUntil(delivered(2), 'the second run', 30_000);
  assert.match(String(stdoutOf(1)), /^pool web: pool-empty ignored, last step \d+ s ago$/);
  assert.equal(poolServers(configFile).length, 3);
  assert.equal(admin.requests.length, 1);

  // Without a cool-down the next spare port is used; the one in the config is skipped.
  process.env['COOLDOWN_SECONDS'] = '0';
  dispatcher.handle(event('pool-empty', { pool: 'web', reason: 'refused' }));
  await waitUntil(delivered(3), 'the third run', 30_000);
  assert.equal(stdoutOf(2), `pool web: added spare-${spares[1]} after pool-empty (refused)`);
  assert.deepEqual(poolServers(configFile).slice(2), [`spare-${spares[0]}=127.0.0.1:${spares[0]}`, `spare-${spares[1]}=127.0.0.1:${spares[1]}`]);
  assert.equal(admin.requests.length, 2);
  assert.match(readFileSync(configFile, 'utf8'), /^ {6}- \{ name: spare-\d+, address: 127\.0\.0\.1:\d+ \}\n {6}# spares: web\n/m);
});
