/**
 * Starting the backends and the proxies under test. Each start writes its
 * config into the run's temporary folder, launches the program in the
 * foreground (pinned when asked), waits until it answers on loopback, and
 * checks that requests really alternate between both backends.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ballastConfig,
  haproxyConfig,
  nginxBackendConfig,
  nginxProxyConfig,
  nginxTempModules,
} from './configs.js';
import type { Backend } from './configs.js';
import { freePorts, httpGet, LOOPBACK, waitForHttp } from './net.js';
import { versionOf, which } from './processes.js';
import type { ManagedProcess, ProcessGroup } from './processes.js';
import type { BackendChoice, TargetName } from './options.js';

/** How long a program gets to start answering. */
const READY_TIMEOUT_MS = 20_000;

export interface Context {
  readonly group: ProcessGroup;
  /** Temporary folder for configs, pid and log files. */
  readonly dir: string;
  readonly repoRoot: string;
  /** CPU for proxies, or null. */
  readonly proxyCpu: number | null;
  /** CPU for backends (and the load generator), or null. */
  readonly clientCpu: number | null;
}

export interface RunningBackends {
  readonly kind: 'nginx' | 'node';
  readonly version: string;
  readonly servers: readonly Backend[];
  readonly process: ManagedProcess;
}

export interface RunningTarget {
  readonly name: TargetName;
  readonly url: string;
  readonly version: string;
  /** The proxy process whose memory is reported; undefined for the direct path. */
  readonly process: ManagedProcess | undefined;
}

/** A target that cannot run on this machine, and why. */
export interface Unavailable {
  readonly name: TargetName;
  readonly reason: string;
}

/** Everything a program prints (both streams); `nginx -V` writes its build options to stderr. */
function fullOutput(bin: string, args: readonly string[]): string {
  const res = spawnSync(bin, args, { encoding: 'utf8', timeout: 5000 });
  return `${res.stdout ?? ''}${res.stderr ?? ''}`;
}

/** Starts the two backends: NGINX when installed (or asked for), else the Node backend. */
export async function startBackends(ctx: Context, choice: BackendChoice): Promise<RunningBackends> {
  const nginx = which('nginx');
  if (choice === 'nginx' && nginx === undefined) {
    throw new Error('--backend nginx: nginx is not installed (Debian package nginx-light)');
  }
  const [p1, p2] = await freePorts(2);
  const servers: Backend[] = [
    { name: 'b1', port: p1 as number },
    { name: 'b2', port: p2 as number },
  ];
  let proc: ManagedProcess;
  let kind: 'nginx' | 'node';
  let version: string;
  if (nginx !== undefined && choice !== 'node') {
    kind = 'nginx';
    const info = fullOutput(nginx, ['-V']);
    version = firstLine(info) ?? 'nginx';
    const modules = nginxTempModules(info);
    makeTempDirs(ctx.dir, 'backend', modules);
    const conf = join(ctx.dir, 'backend.conf');
    writeFileSync(conf, nginxBackendConfig(ctx.dir, servers, modules));
    proc = ctx.group.start({
      name: 'nginx backend',
      command: nginx,
      args: ['-e', join(ctx.dir, 'backend-early.log'), '-p', `${ctx.dir}/`, '-c', conf],
      cpu: ctx.clientCpu,
    });
  } else {
    kind = 'node';
    version = `node ${process.version}`;
    const script = join(ctx.repoRoot, 'build', 'bench', 'backends', 'node-backend.js');
    if (!existsSync(script)) throw new Error(`${script} is missing; compile with: npx tsc -p tsconfig.test.json`);
    proc = ctx.group.start({
      name: 'node backend',
      command: process.execPath,
      args: [script, ...servers.map((s) => `${s.name}=${s.port}`)],
      cpu: ctx.clientCpu,
    });
  }
  for (const s of servers) {
    await waitForHttp(`http://${LOOPBACK}:${s.port}/`, READY_TIMEOUT_MS, () => proc.assertRunning());
  }
  return { kind, version, servers, process: proc };
}

function firstLine(text: string): string | undefined {
  return text
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l !== '');
}

function makeTempDirs(dir: string, role: string, modules: readonly string[]): void {
  for (const m of ['client_body', 'proxy', ...modules]) mkdirSync(join(dir, `${role}-temp`, m), { recursive: true });
}

/** Path of Ballast's compiled CLI, relative to the repository root. */
export const BALLAST_CLI = join('dist', 'cli', 'main.js');

/**
 * Whether each target can run here. The direct path always can; Ballast needs
 * its build; HAProxy and NGINX need their programs.
 */
export function availability(repoRoot: string, name: TargetName): Unavailable | undefined {
  switch (name) {
    case 'direct':
      return undefined;
    case 'ballast':
      return existsSync(join(repoRoot, BALLAST_CLI))
        ? undefined
        : { name, reason: `${BALLAST_CLI} is missing; build it with: npm run build` };
    case 'haproxy':
      return which('haproxy') === undefined
        ? { name, reason: 'haproxy is not installed (Debian package haproxy)' }
        : undefined;
    case 'nginx':
      return which('nginx') === undefined
        ? { name, reason: 'nginx is not installed (Debian package nginx-light)' }
        : undefined;
    default: {
      const unknown: never = name;
      throw new Error(`unknown target ${String(unknown)}`);
    }
  }
}

/** Newest modification time of any file under `dir`, in ms; 0 when there is none. */
function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** A warning when Ballast's build is older than its sources, else undefined. */
export function staleBuildWarning(repoRoot: string): string | undefined {
  const cli = join(repoRoot, BALLAST_CLI);
  const src = join(repoRoot, 'src');
  if (!existsSync(cli) || !existsSync(src)) return undefined;
  return newestMtime(src) > statSync(cli).mtimeMs
    ? `warning: src/ changed after ${BALLAST_CLI} was built; this measures the old build (run npm run build)`
    : undefined;
}

/** Extra node flags for Ballast, e.g. `--cpu-prof`. */
export interface BallastStartOptions {
  readonly nodeArgs: readonly string[];
  /** Distinguishes the files of a second Ballast instance (the profiled one). */
  readonly tag: string;
}

/** Starts one target and returns once it answers and balances over both backends. */
export async function startTarget(
  ctx: Context,
  name: TargetName,
  backends: RunningBackends,
  ballast: BallastStartOptions = { nodeArgs: [], tag: 'ballast' },
): Promise<RunningTarget> {
  const first = backends.servers[0];
  if (first === undefined) throw new Error('no backend servers');
  if (name === 'direct') {
    return { name, url: `http://${LOOPBACK}:${first.port}/`, version: backends.version, process: undefined };
  }
  const [port] = await freePorts(1);
  const url = `http://${LOOPBACK}:${port as number}/`;
  let proc: ManagedProcess;
  let version: string;
  switch (name) {
    case 'ballast': {
      const cli = join(ctx.repoRoot, BALLAST_CLI);
      const conf = join(ctx.dir, `${ballast.tag}.yaml`);
      writeFileSync(conf, ballastConfig(port as number, backends.servers));
      const workDir = join(ctx.dir, ballast.tag);
      mkdirSync(workDir, { recursive: true });
      version = `ballast ${versionOf(process.execPath, [cli, '--version']) ?? '(unknown version)'}`;
      proc = ctx.group.start({
        name: ballast.tag,
        command: process.execPath,
        args: [...ballast.nodeArgs, cli, 'start', '-c', conf],
        cpu: ctx.proxyCpu,
        // Ballast keeps durable state in its working folder; keep it out of the repository.
        cwd: workDir,
        env: { NODE_ENV: 'production' },
      });
      break;
    }
    case 'haproxy': {
      const bin = which('haproxy') as string;
      version = (versionOf(bin, ['-v']) ?? 'haproxy').replace(/ - https?:\S+$/, '');
      const conf = join(ctx.dir, 'haproxy.cfg');
      writeFileSync(conf, haproxyConfig(ctx.dir, port as number, backends.servers));
      // -db: foreground, no daemon; -Ws is not used so there is a single process.
      proc = ctx.group.start({ name: 'haproxy', command: bin, args: ['-db', '-f', conf], cpu: ctx.proxyCpu });
      break;
    }
    case 'nginx': {
      const bin = which('nginx') as string;
      const info = fullOutput(bin, ['-V']);
      version = firstLine(info) ?? 'nginx';
      const modules = nginxTempModules(info);
      makeTempDirs(ctx.dir, 'proxy', modules);
      const conf = join(ctx.dir, 'proxy.conf');
      writeFileSync(conf, nginxProxyConfig(ctx.dir, port as number, backends.servers, modules));
      proc = ctx.group.start({
        name: 'nginx proxy',
        command: bin,
        args: ['-e', join(ctx.dir, 'proxy-early.log'), '-p', `${ctx.dir}/`, '-c', conf],
        cpu: ctx.proxyCpu,
      });
      break;
    }
    default: {
      const unknown: never = name;
      throw new Error(`unknown target ${String(unknown)}`);
    }
  }
  await waitForHttp(url, READY_TIMEOUT_MS, () => proc.assertRunning());
  await assertBalances(url, backends.servers);
  return { name, url, version, process: proc };
}

/**
 * Sends a few requests, each on a new connection, and requires an answer from
 * every backend: proof that the proxy round-robins as configured.
 */
async function assertBalances(url: string, servers: readonly Backend[]): Promise<void> {
  const seen = new Set<string>();
  for (let i = 0; i < servers.length * 3 && seen.size < servers.length; i++) {
    const res = await httpGet(url, 5000);
    if (res.status !== 200) throw new Error(`${url} answered ${res.status}`);
    seen.add(res.body.trim());
  }
  const missing = servers.filter((s) => !seen.has(s.name)).map((s) => s.name);
  if (missing.length > 0) {
    throw new Error(`${url} never reached backend(s) ${missing.join(', ')}; saw ${[...seen].join(', ')}`);
  }
}
