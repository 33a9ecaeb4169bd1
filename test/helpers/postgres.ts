/**
 * Real PostgreSQL servers for tests: each on its own free port on 127.0.0.1,
 * with its own data directory and Unix socket directory in a fresh temporary
 * folder that `stop()` removes. When the tests run as root, the server runs as
 * the `postgres` OS user (PostgreSQL refuses to run as root).
 *
 * Superuser `postgres` connects without a password from the Unix socket and
 * from 127.0.0.1 (replication included); every user given in `users` must log
 * in over TCP with its own authentication method.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { chown, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, eventually } from './net.js';
import { supervise } from './process.js';

const INSTALL_HINT = 'install the Debian package "postgresql" (scripts/install-test-deps.sh)';

export interface PostgresUser {
  readonly name: string;
  readonly password: string;
  /** How the user authenticates over TCP; the password is stored to match. */
  readonly method: 'md5' | 'scram-sha-256' | 'password';
}

export interface StartPostgresOptions {
  /** Login roles to create (on a primary; a standby inherits its primary's). */
  readonly users?: readonly PostgresUser[];
  /** Make this server a streaming standby of `standbyOf` (`pg_basebackup -R`). */
  readonly standbyOf?: PostgresServer;
  /** Extra server settings, passed as `-c name=value`. */
  readonly settings?: Readonly<Record<string, string>>;
  /** How long to wait for the server to accept connections. Default 30 s. */
  readonly startTimeoutMs?: number;
}

export interface PostgresServer {
  readonly host: string;
  readonly port: number;
  /** The temporary folder holding the data directory and the Unix socket. */
  readonly root: string;
  readonly dataDir: string;
  /** The postmaster's process id. */
  readonly pid: number;
  /** Runs SQL as superuser `postgres` through the Unix socket; resolves with unaligned, tuples-only output. */
  query(sql: string, database?: string): Promise<string>;
  /** Promotes a standby to primary and waits until it is done. */
  promote(): Promise<void>;
  /** Sends `signal` (default SIGKILL) to the postmaster, to simulate a crash. */
  kill(signal?: NodeJS.Signals): void;
  /** Fast shutdown (SIGKILL after 10 s), then removes the temporary folder. Safe to call twice. */
  stop(): Promise<void>;
  /** What the server has logged so far. */
  logs(): string;
}

/** The newest installed PostgreSQL's program `name`. */
export function postgresProgram(name: string): string {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base)
    ? readdirSync(base)
        .filter((v) => existsSync(join(base, v, 'bin', name)))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  const version = versions[0];
  if (version === undefined) throw new Error(`PostgreSQL program "${name}" not found under ${base}/*/bin: ${INSTALL_HINT}`);
  return join(base, version, 'bin', name);
}

interface Account {
  readonly uid: number;
  readonly gid: number;
}

/** The OS account the server runs as: `postgres` when we are root, else ourselves. */
function serverAccount(): Account | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith('postgres:'));
  const fields = line?.split(':');
  if (fields === undefined || fields.length < 4) throw new Error(`no "postgres" OS user to run the server as: ${INSTALL_HINT}`);
  return { uid: Number(fields[2]), gid: Number(fields[3]) };
}

function spawnAs(account: Account | undefined, file: string, args: readonly string[], home: string): ChildProcess {
  return spawn(file, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: home, LC_ALL: 'C' },
    ...(account === undefined ? {} : { uid: account.uid, gid: account.gid }),
  });
}

/** Runs a PostgreSQL program to completion; rejects with its output on failure. */
function runAs(account: Account | undefined, file: string, args: readonly string[], home: string, timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawnAs(account, file, args, home);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else reject(new Error(`${file} ${args.join(' ')} failed (${code ?? signal}):\n${stderr}${stdout}`));
    });
  });
}

function sqlLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

function sqlIdentifier(value: string): string {
  return `"${value.replaceAll('"', '""')}"`;
}

function hbaFile(users: readonly PostgresUser[]): string {
  const lines = ['local all all trust', 'host replication all 127.0.0.1/32 trust'];
  for (const user of users) lines.push(`host all ${sqlIdentifier(user.name)} 127.0.0.1/32 ${user.method}`);
  lines.push('host all all 127.0.0.1/32 trust');
  return lines.join('\n') + '\n';
}

/** Starts a PostgreSQL server (a primary, or a standby of `options.standbyOf`). */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<PostgresServer> {
  const account = serverAccount();
  const root = await mkdtemp(join(tmpdir(), 'ballast-pg-'));
  const dataDir = join(root, 'data');
  try {
    await mkdir(dataDir, { mode: 0o700 });
    if (account !== undefined) {
      await chown(root, account.uid, account.gid);
      await chown(dataDir, account.uid, account.gid);
    }
    const users = options.users ?? [];
    if (options.standbyOf === undefined) {
      await runAs(account, postgresProgram('initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--no-sync', '--locale=C', '--encoding=UTF8'], root);
      writeFileSync(join(dataDir, 'pg_hba.conf'), hbaFile(users));
    } else {
      const primary = options.standbyOf;
      await runAs(
        account,
        postgresProgram('pg_basebackup'),
        ['-h', primary.host, '-p', String(primary.port), '-U', 'postgres', '-D', dataDir, '-R', '-X', 'stream', '--checkpoint=fast', '--no-sync'],
        root,
      );
    }
    // A port taken between freePort() and bind() makes the postmaster exit; try another.
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const server = await launch(account, root, dataDir, await freePort(), options);
        if (options.standbyOf === undefined) {
          for (const user of users) {
            const encryption = user.method === 'md5' ? 'md5' : 'scram-sha-256';
            await server.query(
              `SET password_encryption = ${sqlLiteral(encryption)}; CREATE ROLE ${sqlIdentifier(user.name)} LOGIN PASSWORD ${sqlLiteral(user.password)};`,
            );
          }
        }
        return server;
      } catch (error) {
        lastError = error;
        if (!String(error).includes('could not bind')) break;
      }
    }
    throw lastError;
  } catch (error) {
    await rm(root, { recursive: true, force: true });
    throw error;
  }
}

async function launch(
  account: Account | undefined,
  root: string,
  dataDir: string,
  port: number,
  options: StartPostgresOptions,
): Promise<PostgresServer> {
  const settings: Record<string, string> = {
    port: String(port),
    listen_addresses: '127.0.0.1',
    unix_socket_directories: root,
    fsync: 'off',
    synchronous_commit: 'off',
    full_page_writes: 'off',
    shared_buffers: '16MB',
    max_connections: '30',
    logging_collector: 'off',
    ...options.settings,
  };
  const args = ['-D', dataDir];
  for (const [name, value] of Object.entries(settings)) args.push('-c', `${name}=${value}`);
  const child = spawnAs(account, postgresProgram('postgres'), args, root);
  const proc = supervise(child, `could not start postgres: ${INSTALL_HINT}`);

  let removed = false;
  const server: PostgresServer = {
    host: '127.0.0.1',
    port,
    root,
    dataDir,
    pid: proc.pid,
    query: (sql, database = 'postgres') =>
      runAs(account, postgresProgram('psql'), ['-h', root, '-p', String(port), '-U', 'postgres', '-d', database, '-XAtq', '-v', 'ON_ERROR_STOP=1', '-c', sql], root, 30_000).then((out) => out.trim()),
    promote: async () => {
      const done = await server.query('SELECT pg_promote(true, 30)');
      if (done !== 't') throw new Error(`promotion did not finish: ${done}`);
    },
    kill: (signal) => proc.kill(signal),
    stop: async () => {
      await proc.stop('SIGINT');
      if (!removed) {
        removed = true;
        await rm(root, { recursive: true, force: true });
      }
    },
    logs: proc.log,
  };

  try {
    const ready = postgresProgram('pg_isready');
    await eventually(
      async () => {
        if (!proc.running()) throw new Error('postgres exited while starting');
        try {
          await runAs(account, ready, ['-q', '-h', '127.0.0.1', '-p', String(port), '-t', '2'], root, 5_000);
          return true;
        } catch {
          return false;
        }
      },
      `postgres on port ${port} to accept connections`,
      options.startTimeoutMs ?? 30_000,
      100,
    );
  } catch (error) {
    await proc.stop('SIGKILL');
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n--- server log ---\n${proc.log()}`);
  }
  return server;
}
