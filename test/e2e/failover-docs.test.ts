/**
 * The examples in docs/failover.md are complete configs that Ballast accepts,
 * and the first one really runs: it is started with its addresses pointed at
 * live backends and fails over when one of them dies.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parse } from 'yaml';
import { checkConfigText } from '../../src/config/index.js';
import { formatConfigIssue } from '../../src/core/errors.js';
import { startBallast } from '../helpers/ballast.js';
import { startBackend, type TestBackend } from '../helpers/http-backend.js';
import { eventually } from '../helpers/net.js';

const DOC = readFileSync('docs/failover.md', 'utf8');

function yamlBlocks(): string[] {
  return [...DOC.matchAll(/```yaml\n([\s\S]*?)```/g)].map((match) => match[1] ?? '');
}

test('every YAML example in docs/failover.md is a valid config', () => {
  const blocks = yamlBlocks();
  assert.ok(blocks.length >= 4, `the doc has its examples (${blocks.length})`);
  for (const block of blocks) {
    const result = checkConfigText(block, 'failover.yaml', {});
    assert.deepEqual(result.errors.map(formatConfigIssue), [], block);
  }
});

test('the configuration to start from serves, and fails over when a server dies', async (t) => {
  const example = yamlBlocks()[0] as string;
  const config = parse(example) as {
    listeners: { listen: string }[];
    pools: { servers: { name: string; address: string }[] }[];
  };
  const backends = new Map<string, TestBackend>();
  t.after(async () => {
    await Promise.all([...backends.values()].map((b) => b.close()));
  });
  for (const server of config.pools[0]?.servers ?? []) {
    const backend = await startBackend(server.name, (req, res, self) => {
      req.resume();
      res.writeHead(200, { 'x-backend': self.name });
      res.end(req.url === '/healthz' ? 'ok' : self.name);
    });
    backends.set(server.name, backend);
    server.address = backend.address;
  }
  (config.listeners[0] as { listen: string }).listen = '127.0.0.1:0';
  const lb = await startBallast(config as unknown as Record<string, unknown>);
  t.after(() => lb.close());
  await eventually(
    () => lb.handle.status().pools[0]?.servers.every((s) => s.state === 'healthy') === true,
    'every server healthy',
  );
  await backends.get('app-2')?.close();
  const seen = new Map<string, number>();
  for (let i = 0; i < 12; i++) {
    const response = await fetch(`${lb.url()}/`);
    assert.equal(response.status, 200);
    const name = await response.text();
    seen.set(name, (seen.get(name) ?? 0) + 1);
  }
  assert.equal(seen.get('app-2'), undefined);
  assert.equal(seen.get('spare'), undefined, 'the backup stays idle while primaries are healthy');
  assert.ok((seen.get('app-1') ?? 0) > 0 && (seen.get('app-3') ?? 0) > 0, `the others share the load: ${JSON.stringify([...seen])}`);
});
