import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { writeTempFile } from '../helpers/ballast.js';
import { curl } from '../helpers/curl.js';
import { run, runCli, spawnCli } from '../helpers/process.js';

const VALID = `listeners:
  - name: web
    protocol: http
    listen: 127.0.0.1:18080
    routes: [ { pool: app } ]
pools:
  - name: app
    algorithm: round-robin
    servers:
      - { name: a, address: 127.0.0.1:3001 }
      - { name: b, address: 127.0.0.1:3002 }
`;

const INVALID = `listeners:
  - name: web
    protocol: http
    listen: 127.0.0.1:18080
    routes: [ { pool: missing } ]
pools:
  - name: app
    algorithm: round-robin
    timeouts: { connect: 5 sec }
    servers:
      - { name: a, address: 127.0.0.1:3001, colour: blue }
`;

describe('ballast validate', () => {
  test('exits 0 with a one-line summary for a valid file', async () => {
    const file = writeTempFile('valid.yaml', VALID);
    const result = await runCli(['validate', '-c', file]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim().split('\n').length, 1);
    assert.match(result.stdout, /OK \(1 listener, 1 pool, 2 servers\)/);
  });

  test('exits 1 and prints every problem as FILE:LINE:COL: message', async () => {
    const file = writeTempFile('invalid.yaml', INVALID);
    const result = await runCli(['validate', '-c', file]);
    assert.equal(result.code, 1);
    const lines = result.stderr.trim().split('\n');
    assert.ok(lines.length >= 3, `all problems are reported:\n${result.stderr}`);
    for (const line of lines) assert.match(line, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: .+`));
    assert.ok(lines.some((line) => line.startsWith(`${file}:5:`) && /unknown pool "missing"/.test(line)), result.stderr);
    assert.ok(lines.some((line) => line.startsWith(`${file}:9:`) && /duration/i.test(line)), result.stderr);
    assert.ok(lines.some((line) => line.startsWith(`${file}:11:`) && /colour/.test(line)), result.stderr);
  });

  test('exits 1 with a clear message for a missing file', async () => {
    const result = await runCli(['validate', '-c', '/nonexistent/ballast.yaml']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /nonexistent\/ballast\.yaml/);
  });

  test('exits 2 without -c', async () => {
    const result = await runCli(['validate']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /-c FILE/);
  });
});

describe('ballast --help / --version / schema', () => {
  test('--version prints the package version', async () => {
    const manifest = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    const result = await runCli(['--version']);
    assert.equal(result.code, 0);
    assert.equal(result.stdout.trim(), manifest.version);
  });

  test('--help lists the commands', async () => {
    const result = await runCli(['--help']);
    assert.equal(result.code, 0);
    for (const command of ['demo', 'start', 'validate', 'schema']) assert.match(result.stdout, new RegExp(`ballast ${command}|ballast \\[demo\\]`));
  });

  test('an unknown command exits 2', async () => {
    const result = await runCli(['frobnicate']);
    assert.equal(result.code, 2);
  });

  test('schema prints a JSON Schema', async () => {
    const result = await runCli(['schema']);
    assert.equal(result.code, 0);
    const schema = JSON.parse(result.stdout) as { properties?: Record<string, unknown> };
    assert.ok(schema.properties?.listeners && schema.properties.pools);
  });
});

test('the demo answers through its listener and stops on SIGINT', async (t) => {
  const demo = spawnCli(['demo', '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--dns', '127.0.0.1:0']);
  t.after(() => demo.kill());
  const match = await demo.waitFor(/listener\s+(http:\/\/127\.0\.0\.1:\d+)/);
  const url = match[1] as string;
  const seen = new Set<string>();
  for (let i = 0; i < 6; i++) {
    const response = await curl([`${url}/`]);
    if (response.status === 200) seen.add(response.headers['x-served-by'] ?? '');
  }
  assert.ok(seen.size >= 2, `requests are balanced across demo servers: ${[...seen].join(', ')}`);
  assert.match(demo.output(), /curl/);
  const dashboard = (demo.output().match(/dashboard\s+(http:\/\/127\.0\.0\.1:\d+)\//) as RegExpMatchArray)[1] as string;
  assert.equal((await curl([`${dashboard}/`])).status, 200, 'the dashboard answers');
  const dnsPort = (demo.output().match(/dns\s+127\.0\.0\.1:(\d+)/) as RegExpMatchArray)[1] as string;
  const answer = await run('dig', ['@127.0.0.1', '-p', dnsPort, 'www.example.com', '+short']);
  assert.equal(answer.stdout.trim(), '127.0.0.10', 'the demo DNS answers with the healthy site');
  demo.child.kill('SIGINT');
  assert.equal(await demo.exited(), 0);
});
