/**
 * Real Redis servers for tests: each on its own free port on 127.0.0.1 with
 * its own working directory in a fresh temporary folder that `stop()`
 * removes; no persistence. A replica is started with `--replicaof`.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { freePort, eventually } from './net.js';
import { supervise } from './process.js';

const INSTALL_HINT = 'install the Debian package "redis-server" (scripts/install-test-deps.sh)';

export interface StartRedisOptions {
  /** Sets `requirepass` (and `masterauth`, so replicas of a master with the same password can sync). */
  readonly password?: string;
  /** Start as a replica of this server (`--replicaof`). */
  readonly replicaOf?: { readonly host: string; readonly port: number };
  /** Extra `redis-server` arguments, e.g. `['--maxmemory', '10mb']`. */
  readonly args?: readonly string[];
  /** How long to wait for PONG (and, for a replica, for the link to the master). Default 15 s. */
  readonly startTimeoutMs?: number;
}

export interface RedisServer {
  readonly host: string;
  readonly port: number;
  readonly dir: string;
  readonly pid: number;
  /** Runs one command with `redis-cli` (authenticated when a password is set); resolves with its raw output, trimmed. */
  command(...args: string[]): Promise<string>;
  /** The `role:` line of `INFO replication`: `master` or `slave`. */
  role(): Promise<string>;
  /** Sends `signal` (default SIGKILL) to the server, to simulate a crash. */
  kill(signal?: NodeJS.Signals): void;
  /** Graceful shutdown (SIGKILL after 10 s), then removes the temporary folder. Safe to call twice. */
  stop(): Promise<void>;
  logs(): string;
}

/** The absolute path of `name` on PATH, or a loud error naming the Debian package. */
export function redisProgram(name: 'redis-server' | 'redis-cli'): string {
  for (const dir of (process.env['PATH'] ?? '/usr/bin:/bin').split(delimiter)) {
    const candidate = join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`${name} not found on PATH: ${INSTALL_HINT}`);
}

function redisCli(port: number, password: string | undefined, args: readonly string[]): Promise<string> {
  const auth = password === undefined ? [] : ['-a', password, '--no-auth-warning'];
  return new Promise((resolve, reject) => {
    execFile(redisProgram('redis-cli'), ['-h', '127.0.0.1', '-p', String(port), ...auth, ...args], { timeout: 10_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`redis-cli ${args.join(' ')} failed: ${error.message}\n${stderr}`));
      else resolve(stdout.trim());
    });
  });
}

/** Starts a Redis server (a master, or a replica of `options.replicaOf`). */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  const dir = await mkdtemp(join(tmpdir(), 'ballast-redis-'));
  let lastError: unknown;
  // A port taken between freePort() and bind() makes the server exit; try another.
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await launch(dir, await freePort(), options);
    } catch (error) {
      lastError = error;
      if (!String(error).includes('Address already in use')) break;
    }
  }
  await rm(dir, { recursive: true, force: true });
  throw lastError;
}

async function launch(dir: string, port: number, options: StartRedisOptions): Promise<RedisServer> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--logfile', ''];
  // Replicas sync at once instead of after the default 5 s wait for more replicas.
  args.push('--repl-diskless-sync-delay', '0');
  if (options.password !== undefined) args.push('--requirepass', options.password, '--masterauth', options.password);
  if (options.replicaOf !== undefined) args.push('--replicaof', options.replicaOf.host, String(options.replicaOf.port));
  args.push(...(options.args ?? []));
  const child = spawn(redisProgram('redis-server'), args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
  const proc = supervise(child, `could not start redis-server: ${INSTALL_HINT}`);

  let removed = false;
  const server: RedisServer = {
    host: '127.0.0.1',
    port,
    dir,
    pid: proc.pid,
    command: (...commandArgs) => redisCli(port, options.password, commandArgs),
    role: async () => /^role:(\w+)/m.exec(await server.command('INFO', 'replication'))?.[1] ?? 'unknown',
    kill: (signal) => proc.kill(signal),
    stop: async () => {
      await proc.stop('SIGTERM');
      if (!removed) {
        removed = true;
        await rm(dir, { recursive: true, force: true });
      }
    },
    logs: proc.log,
  };

  const timeoutMs = options.startTimeoutMs ?? 15_000;
  try {
    await eventually(
      async () => {
        if (!proc.running()) throw new Error('redis-server exited while starting');
        return (await server.command('PING').catch(() => '')) === 'PONG';
      },
      `redis-server on port ${port} to answer PING`,
      timeoutMs,
      50,
    );
    if (options.replicaOf !== undefined) {
      await eventually(
        async () => /master_link_status:up/.test(await server.command('INFO', 'replication')),
        `replica on port ${port} to sync with its master`,
        timeoutMs,
        100,
      );
    }
  } catch (error) {
    await proc.stop('SIGKILL');
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n--- server log ---\n${proc.log()}`);
  }
  return server;
}
