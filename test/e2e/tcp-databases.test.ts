/**
 * Real databases behind a `tcp` listener, driven by their real clients:
 * `psql` against PostgreSQL and `redis-cli` against Redis, each server started
 * by the test on its own port and data directory. The pools use the
 * protocol-aware health checks (`postgres` with `role: primary`, `redis` with
 * `role: master`), so these tests show Ballast following a failover end to end.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ServerState } from '../../src/core/server.js';
import { startBallast, type RunningBallast } from '../helpers/ballast.js';
import { eventually } from '../helpers/net.js';
import { postgresProgram, startPostgres, type PostgresServer, type PostgresUser } from '../helpers/postgres.js';
import { run } from '../helpers/process.js';
import { redisProgram, startRedis, type RedisServer } from '../helpers/redis.js';

const APP: PostgresUser = { name: 'app', password: 'app-s3cret', method: 'scram-sha-256' };

/** Fast checks so a failover is seen within about a second. */
const FAST_CHECK = { interval: '300ms', timeout: '1s', healthyThreshold: 1, unhealthyThreshold: 1 } as const;

/** Generous: a loaded CI machine may need several check rounds. */
const STATE_TIMEOUT_MS = 15_000;

async function psql(port: number, commands: readonly string[], password = APP.password): Promise<{ code: number; stdout: string; stderr: string }> {
  const args = ['-h', '127.0.0.1', '-p', String(port), '-U', APP.name, '-d', 'postgres', '-XAtq', '-v', 'ON_ERROR_STOP=1'];
  for (const command of commands) args.push('-c', command);
  return run(postgresProgram('psql'), args, {
    env: { ...process.env, PGPASSWORD: password, PGCONNECT_TIMEOUT: '10' },
    timeoutMs: 30_000,
  });
}

/** Runs SQL as `app` through `port`; resolves with psql's unaligned, tuples-only output. */
async function sql(port: number, ...commands: string[]): Promise<string> {
  const result = await psql(port, commands);
  if (result.code !== 0) throw new Error(`psql ${commands.join('; ')} exited ${result.code}:\n${result.stderr}`);
  return result.stdout.trim();
}

/** Runs one redis command with the real `redis-cli` through `port`; resolves with its output. */
async function redisCli(port: number, ...args: string[]): Promise<string> {
  const result = await run(redisProgram('redis-cli'), ['-h', '127.0.0.1', '-p', String(port), ...args], { timeoutMs: 20_000 });
  if (result.code !== 0) throw new Error(`redis-cli ${args.join(' ')} exited ${result.code}:\n${result.stderr}${result.stdout}`);
  return result.stdout.trim();
}

function states(lb: RunningBallast, pool: string): Record<string, ServerState> {
  const found = lb.handle.status().pools.find((p) => p.name === pool);
  return Object.fromEntries((found?.servers ?? []).map((s) => [s.name, s.state]));
}

/** Waits until every server named in `want` is in the given state. */
async function waitForStates(lb: RunningBallast, pool: string, want: Readonly<Record<string, ServerState>>): Promise<void> {
  await eventually(
    () => Object.entries(want).every(([name, state]) => states(lb, pool)[name] === state),
    `pool ${pool} to reach ${JSON.stringify(want)} (now ${JSON.stringify(states(lb, pool))})`,
    STATE_TIMEOUT_MS,
    50,
  );
}

async function startPg(t: TestContext, options: { standbyOf?: PostgresServer } = {}): Promise<PostgresServer> {
  const server = await startPostgres(options.standbyOf === undefined ? { users: [APP] } : { standbyOf: options.standbyOf });
  t.after(() => server.stop());
  // Since PostgreSQL 15 only the owner may create tables in `public`; a standby inherits the grant.
  if (options.standbyOf === undefined) await server.query(`GRANT CREATE ON SCHEMA public TO ${APP.name}`);
  return server;
}

async function startLb(t: TestContext, pool: string, servers: Record<string, number>, healthCheck: Record<string, unknown>): Promise<{ lb: RunningBallast; port: number }> {
  const lb = await startBallast({
    listeners: [{ name: 'db', protocol: 'tcp', listen: '127.0.0.1:0', pool }],
    pools: [
      {
        name: pool,
        algorithm: 'round-robin',
        servers: Object.entries(servers).map(([name, port]) => ({ name, address: `127.0.0.1:${port}` })),
        healthCheck: { ...healthCheck, ...FAST_CHECK },
        timeouts: { connect: '1s' },
      },
    ],
  });
  t.after(() => lb.close());
  const port = lb.handle.address('db')?.port;
  assert.ok(port !== undefined, 'the tcp listener is bound');
  return { lb, port };
}

const pgCheck = { type: 'postgres', user: APP.name, database: 'postgres', password: APP.password, role: 'primary' } as const;

test('psql runs queries through the tcp listener', async (t) => {
  const pg = await startPg(t);
  const { lb, port } = await startLb(t, 'pg', { 'pg-1': pg.port }, pgCheck);
  await waitForStates(lb, 'pg', { 'pg-1': 'healthy' });

  // One session with several round trips: DDL, writes, a read back.
  const out = await sql(
    port,
    'CREATE TABLE items (id int PRIMARY KEY, name text)',
    "INSERT INTO items SELECT g, 'item-' || g FROM generate_series(1, 500) g",
    'SELECT count(*), sum(id), max(name) FROM items',
  );
  assert.equal(out, '500|125250|item-99');
  // The server really answered: its own port, and the client address it saw is Ballast's.
  assert.equal(await sql(port, 'SELECT inet_server_port(), host(inet_client_addr())'), `${pg.port}|127.0.0.1`);
  assert.equal(await pg.query('SELECT count(*) FROM items'), '500');

  // A result of about 2 MB crosses the proxy intact.
  const big = await sql(port, "SELECT string_agg(repeat(chr(97 + g % 26), 1000), ',' ORDER BY g) FROM generate_series(1, 2000) g");
  assert.equal(big.length, 2000 * 1000 + 1999);
  assert.equal(big.slice(0, 3), 'bbb');
  assert.equal(big.slice(-3), 'yyy');

  // Errors of the protocol pass through untouched: a wrong password is PostgreSQL's own refusal.
  const refused = await psql(port, ['SELECT 1'], 'wrong-password');
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /password authentication failed for user "app"/);

  await eventually(() => lb.handle.status().listeners[0]?.inFlight === 0, 'every proxied connection to close');
});

test('with two PostgreSQL servers, stopping one moves new connections to the other', async (t) => {
  const [pg1, pg2] = await Promise.all([startPg(t), startPg(t)]);
  const { lb, port } = await startLb(t, 'pg', { 'pg-1': pg1.port, 'pg-2': pg2.port }, pgCheck);
  await waitForStates(lb, 'pg', { 'pg-1': 'healthy', 'pg-2': 'healthy' });

  const answered = new Set<string>();
  for (let i = 0; i < 4; i++) answered.add(await sql(port, 'SELECT inet_server_port()'));
  assert.deepEqual(answered, new Set([String(pg1.port), String(pg2.port)]), 'round robin reaches both servers');

  await pg1.stop();
  await waitForStates(lb, 'pg', { 'pg-1': 'unhealthy', 'pg-2': 'healthy' });
  for (let i = 0; i < 6; i++) {
    assert.equal(await sql(port, 'SELECT inet_server_port()'), String(pg2.port), `connection ${i + 1} after the stop`);
  }
  assert.equal(await sql(port, 'CREATE TABLE after_stop (x int)', 'INSERT INTO after_stop VALUES (1)', 'SELECT count(*) FROM after_stop'), '1');
});

test('role primary follows a promoted standby', async (t) => {
  const primary = await startPg(t);
  const standby = await startPg(t, { standbyOf: primary });
  const { lb, port } = await startLb(t, 'pg', { primary: primary.port, standby: standby.port }, pgCheck);
  await waitForStates(lb, 'pg', { primary: 'healthy', standby: 'unhealthy' });

  // Only the primary gets connections while the standby is in recovery.
  for (let i = 0; i < 4; i++) {
    assert.equal(await sql(port, 'SELECT pg_is_in_recovery(), inet_server_port()'), `f|${primary.port}`);
  }
  await sql(port, 'CREATE TABLE orders (id int)', 'INSERT INTO orders VALUES (1)');
  await eventually(async () => (await standby.query('SELECT count(*) FROM orders').catch(() => '')) === '1', 'the standby to replay the write');

  await primary.stop();
  await standby.promote();
  await waitForStates(lb, 'pg', { primary: 'unhealthy', standby: 'healthy' });
  assert.equal(
    await sql(port, 'INSERT INTO orders VALUES (2)', 'SELECT pg_is_in_recovery(), inet_server_port(), count(*) FROM orders'),
    `f|${standby.port}|2`,
  );
});

test('redis-cli writes reach the master, and the new master after a promotion', async (t) => {
  const master = await startRedis();
  t.after(() => master.stop());
  const replica: RedisServer = await startRedis({ replicaOf: { host: master.host, port: master.port } });
  t.after(() => replica.stop());
  const { lb, port } = await startLb(t, 'cache', { 'redis-a': master.port, 'redis-b': replica.port }, { type: 'redis', role: 'master' });
  await waitForStates(lb, 'cache', { 'redis-a': 'healthy', 'redis-b': 'unhealthy' });

  // Round robin over the pool, yet the replica (which would answer READONLY) gets nothing.
  for (let i = 0; i < 4; i++) assert.equal(await redisCli(port, 'SET', `before-${i}`, `v${i}`), 'OK');
  for (let i = 0; i < 4; i++) assert.equal(await master.command('GET', `before-${i}`), `v${i}`);
  assert.equal(await redisCli(port, 'GET', 'before-3'), 'v3');
  await eventually(async () => (await replica.command('GET', 'before-3')) === 'v3', 'the replica to receive the writes');

  // The master dies; an operator (or Sentinel) promotes the replica.
  await master.stop();
  assert.equal(await replica.command('REPLICAOF', 'NO', 'ONE'), 'OK');
  assert.equal(await replica.role(), 'master');
  await waitForStates(lb, 'cache', { 'redis-a': 'unhealthy', 'redis-b': 'healthy' });

  for (let i = 0; i < 4; i++) assert.equal(await redisCli(port, 'SET', `after-${i}`, `w${i}`), 'OK');
  for (let i = 0; i < 4; i++) assert.equal(await replica.command('GET', `after-${i}`), `w${i}`);
  // Data written before the failover is still served, now by the new master.
  assert.equal(await redisCli(port, 'GET', 'before-0'), 'v0');
});

/** One RESP command, as a client library would encode it. */
function resp(...args: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = typeof arg === 'string' ? Buffer.from(arg) : arg;
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/**
 * Sends `command` on a new connection to `port` and reads one reply of
 * exactly `replyLength` bytes. With `stallMs`, the client reads nothing for
 * that long after sending: the kernel buffers of the connection fill and the
 * proxy is left holding data it could not write yet.
 */
function exchange(port: number, command: Buffer, replyLength: number, stallMs = 0): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(command);
      if (stallMs > 0) {
        socket.pause();
        setTimeout(() => socket.resume(), stallMs);
      }
    });
    socket.setTimeout(30_000, () => socket.destroy(new Error(`no complete reply after ${received} of ${replyLength} bytes`)));
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
      if (received >= replyLength) {
        socket.end();
        resolve(Buffer.concat(chunks));
      }
    });
    socket.on('error', reject);
  });
}

test('large values through the listener arrive intact to stalled and fast readers at once', async (t) => {
  const redis = await startRedis();
  t.after(() => redis.stop());
  const { lb, port } = await startLb(t, 'cache', { redis: redis.port }, { type: 'redis', role: 'any' });
  await waitForStates(lb, 'cache', { redis: 'healthy' });

  // Distinct values written through Ballast (client to server) ...
  const values = Array.from({ length: 8 }, () => randomBytes(4 * 1024 * 1024));
  await Promise.all(values.map((value, i) => exchange(port, resp('SET', `blob-${i}`, value), '+OK\r\n'.length)));
  for (let i = 0; i < values.length; i++) {
    const digest = await redis.command('EVAL', "return redis.sha1hex(redis.call('GET', KEYS[1]))", '1', `blob-${i}`);
    assert.equal(digest, createHash('sha1').update(values[i] as Buffer).digest('hex'), `blob-${i} as stored`);
  }
  // ... and read back (server to client): four readers stall, so Ballast
  // holds bytes it could not write to them yet, while four others read at
  // full speed through the same listener meanwhile.
  const replyLength = (value: Buffer): number => `$${value.length}\r\n`.length + value.length + 2;
  const stalled = values.slice(0, 4).map((value, i) => exchange(port, resp('GET', `blob-${i}`), replyLength(value), 1500));
  await sleep(300);
  const fast = values.slice(4).map((value, i) => exchange(port, resp('GET', `blob-${i + 4}`), replyLength(value)));
  const replies = await Promise.all([...stalled, ...fast]);
  replies.forEach((reply, i) => {
    const value = values[i] as Buffer;
    const header = `$${value.length}\r\n`;
    assert.equal(reply.subarray(0, header.length).toString(), header);
    assert.ok(reply.subarray(header.length, header.length + value.length).equals(value), `blob-${i} read back intact`);
  });
});
