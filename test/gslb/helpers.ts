/**
 * Shared helpers of the GSLB tests: configs, free ports, dig, a UDP relay
 * between sites, and site processes.
 */
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { queryUdp } from '../helpers/dns.js';
import type { DnsRecordConfig, GslbConfig } from '../../src/config/types.js';
import type { BallastEvent } from '../../src/core/events.js';
import type { GslbOptions, GslbStatus, SiteStatus } from '../../src/gslb/index.js';

export const SECRET = 'heartbeat-secret-for-tests';
export const ZONE = 'example.com';

export { freeUdpPort } from '../helpers/net.js';
export { requireProgram } from '../helpers/programs.js';

export function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'ballast-gslb-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `probe` until it returns a value other than undefined, or fails after `timeout` ms. */
export async function waitFor<T>(probe: () => T | undefined | Promise<T | undefined>, timeout: number, what: string, every = 50): Promise<T> {
  const deadline = Date.now() + timeout;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeout} ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
    }
    await sleep(every);
  }
}

/** Runs dig against 127.0.0.1:port and returns its stdout. */
export function dig(port: number, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('dig', ['@127.0.0.1', '-p', String(port), '+time=1', '+tries=1', ...args], { timeout: 10_000 }, (error, stdout, stderr) => {
      if (error && stdout === '') reject(new Error(`dig failed: ${stderr || error.message}`));
      else resolve(stdout);
    });
  });
}

/** `dig +short` answer lines, e.g. ["127.0.0.10"]. */
export async function digShort(port: number, name: string, type = 'A'): Promise<string[]> {
  const out = await dig(port, [name, type, '+short']);
  return out
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith(';'));
}

/** The addresses of one A query over UDP (see `queryUdp`), or undefined after `timeout` ms. */
export async function queryA(port: number, name: string, timeout = 500): Promise<string[] | undefined> {
  const answers = await queryUdp(port, name, 'A', timeout);
  return answers?.flatMap((answer) => (answer.type === 'A' ? [answer.data] : []));
}

export interface SiteSpec {
  readonly site: string;
  readonly heartbeatPort: number;
  readonly peers: readonly { site: string; port: number }[];
  readonly dnsPort?: number;
  readonly records?: readonly DnsRecordConfig[];
  readonly witness?: boolean;
  readonly interval?: number;
  readonly failbackDelay?: number;
  readonly failback?: 'auto' | 'manual';
  readonly secret?: string;
  readonly dynamicUpdate?: NonNullable<GslbConfig['dns']>['dynamicUpdate'];
}

/** The record every two- and three-site test serves: www → eu 127.0.0.10, then us 127.0.0.20. */
export function wwwFailover(): DnsRecordConfig {
  return {
    name: 'www',
    type: 'A',
    policy: 'failover',
    targets: [
      { site: 'eu', address: '127.0.0.10', weight: 1 },
      { site: 'us', address: '127.0.0.20', weight: 1 },
    ],
  };
}

export function gslbConfig(spec: SiteSpec): GslbConfig {
  return {
    site: spec.site,
    witness: spec.witness ?? false,
    heartbeat: {
      listen: { host: '127.0.0.1', port: spec.heartbeatPort },
      interval: spec.interval ?? 250,
      phiThreshold: 8,
      secret: spec.secret ?? SECRET,
    },
    peers: spec.peers.map((peer) => ({ site: peer.site, address: { host: '127.0.0.1', port: peer.port } })),
    failbackDelay: spec.failbackDelay ?? 2000,
    failback: spec.failback ?? 'auto',
    dns:
      spec.records === undefined
        ? undefined
        : {
            listen: { host: '127.0.0.1', port: spec.dnsPort ?? 0 },
            zone: ZONE,
            ttl: 5000,
            records: spec.records,
            dynamicUpdate: spec.dynamicUpdate,
          },
  };
}

type Line =
  | { type: 'listening'; dnsPort: number | null; heartbeatPort: number }
  | { type: 'event'; event: BallastEvent }
  | { type: 'status'; status: GslbStatus }
  | { type: 'failback'; result: SiteStatus }
  | { type: 'error'; message: string };

/** A site running as its own process (test/fixtures/gslb/site.ts). */
export class SiteProcess {
  readonly events: BallastEvent[] = [];
  readonly stderr: string[] = [];
  dnsPort = 0;
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly waiters: ((line: Line) => boolean)[] = [];
  readonly exited: Promise<void>;

  private constructor(specPath: string, readyPath: string) {
    this.child = spawn(process.execPath, ['build/test/fixtures/gslb/site.js', specPath, readyPath], { stdio: 'pipe' });
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
    createInterface({ input: this.child.stdout }).on('line', (text) => {
      let line: Line;
      try {
        line = JSON.parse(text) as Line;
      } catch {
        return;
      }
      if (line.type === 'event') this.events.push(line.event);
      for (let i = 0; i < this.waiters.length; i++) {
        const waiter = this.waiters[i];
        if (waiter !== undefined && waiter(line)) {
          this.waiters.splice(i, 1);
          break;
        }
      }
    });
    createInterface({ input: this.child.stderr }).on('line', (text) => {
      this.stderr.push(text);
      if (this.stderr.length > 500) this.stderr.shift();
    });
  }

  /** Starts a site process and waits until it serves. `dir` holds its spec and readiness files. */
  static async start(dir: string, config: GslbConfig, ready: boolean, options: GslbOptions = {}): Promise<SiteProcess> {
    const specPath = join(dir, `${config.site}.json`);
    const readyPath = join(dir, `${config.site}.ready`);
    writeFileSync(specPath, JSON.stringify({ config, options }));
    writeFileSync(readyPath, ready ? 'ready' : 'down');
    const site = new SiteProcess(specPath, readyPath);
    site.readyPath = readyPath;
    const listening = await site.next((line) => line.type === 'listening', 15_000, `${config.site} to listen`);
    if (listening.type === 'listening') site.dnsPort = listening.dnsPort ?? 0;
    return site;
  }

  private readyPath = '';

  get pid(): number {
    return this.child.pid ?? 0;
  }

  setReady(ready: boolean): void {
    writeFileSync(this.readyPath, ready ? 'ready' : 'down');
  }

  async status(): Promise<GslbStatus> {
    const reply = this.next((line) => line.type === 'status', 5000, 'status');
    this.child.stdin.write('status\n');
    const line = await reply;
    if (line.type !== 'status') throw new Error('unexpected reply');
    return line.status;
  }

  kill(signal: NodeJS.Signals): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }

  /** SIGKILL and wait for the exit (idempotent). */
  async stop(): Promise<void> {
    this.kill('SIGKILL');
    await this.exited;
  }

  private next(match: (line: Line) => boolean, timeout: number, what: string): Promise<Line> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; stderr:\n${this.stderr.slice(-20).join('\n')}`)), timeout);
      this.waiters.push((line) => {
        if (!match(line)) return false;
        clearTimeout(timer);
        resolve(line);
        return true;
      });
      void this.exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`site process exited while waiting for ${what}; stderr:\n${this.stderr.slice(-20).join('\n')}`));
      });
    });
  }
}

/**
 * A UDP relay for heartbeats: one socket per ordered pair of sites. Site A
 * reaches B at `portFor(A, B)`; the relay forwards to B's real heartbeat port
 * unless the A→B direction is cut. Forwarded packets may be recorded.
 */
export class HeartbeatRelay {
  private readonly sockets = new Map<string, dgram.Socket>();
  private readonly cutLinks = new Set<string>();
  readonly captured = new Map<string, Buffer[]>();

  private constructor(private readonly targets: ReadonlyMap<string, number>) {}

  /** `targets`: site → its real heartbeat port. */
  static async start(targets: ReadonlyMap<string, number>): Promise<HeartbeatRelay> {
    const relay = new HeartbeatRelay(targets);
    for (const from of targets.keys()) {
      for (const [to, port] of targets) {
        if (from === to) continue;
        const key = `${from}>${to}`;
        const socket = dgram.createSocket('udp4');
        socket.on('message', (message) => {
          if (relay.cutLinks.has(key)) return;
          const list = relay.captured.get(key) ?? [];
          list.push(message);
          if (list.length > 50) list.shift();
          relay.captured.set(key, list);
          socket.send(message, port, '127.0.0.1');
        });
        await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
        relay.sockets.set(key, socket);
      }
    }
    return relay;
  }

  portFor(from: string, to: string): number {
    const socket = this.sockets.get(`${from}>${to}`);
    if (socket === undefined) throw new Error(`no relay ${from}>${to}`);
    return socket.address().port;
  }

  /** Peers list for `site`'s config: every other site, reached through the relay. */
  peersOf(site: string): { site: string; port: number }[] {
    return [...this.targets.keys()].filter((other) => other !== site).map((other) => ({ site: other, port: this.portFor(site, other) }));
  }

  cut(from: string, to: string): void {
    this.cutLinks.add(`${from}>${to}`);
  }

  restore(from: string, to: string): void {
    this.cutLinks.delete(`${from}>${to}`);
  }

  /** Cuts (or restores) both directions between `site` and every other site. */
  isolate(site: string, isolated: boolean): void {
    for (const other of this.targets.keys()) {
      if (other === site) continue;
      for (const key of [`${site}>${other}`, `${other}>${site}`]) {
        if (isolated) this.cutLinks.add(key);
        else this.cutLinks.delete(key);
      }
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.sockets.values()].map((socket) => new Promise<void>((resolve) => socket.close(() => resolve()))));
  }
}

