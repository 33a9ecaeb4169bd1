/**
 * A running Ballast runtime with an admin server, for the admin API and
 * dashboard tests: real listeners on 127.0.0.1 port 0, a config file on disk
 * (for reload), an availability ledger in a temporary directory and a fresh
 * metrics registry, tied together the way the runtime ties them.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdminServer } from '../../src/admin/api.js';
import type { AdminServerOptions } from '../../src/admin/api.js';
import { AvailabilityLedger } from '../../src/admin/ledger.js';
import { createMetrics } from '../../src/admin/metrics.js';
import type { AdminView } from '../../src/admin/view.js';
import { loadConfigFile } from '../../src/config/index.js';
import type { AdminConfig } from '../../src/config/types.js';
import { Runtime } from '../../src/runtime/runtime.js';
import type { RuntimeStatus } from '../../src/runtime/status.js';
import { curl, type CurlResponse } from '../helpers/curl.js';

export const TOKEN = 'admin-token-for-tests-0123456789';

export interface LoggedWarning {
  readonly obj: object;
  readonly msg: string;
}

export interface AdminHarness {
  readonly runtime: Runtime;
  readonly admin: AdminServer;
  readonly ledger: AvailabilityLedger;
  /** `http://127.0.0.1:PORT` of the admin server. */
  readonly base: string;
  /** The config file `reload` re-reads. */
  readonly configPath: string;
  /** What the admin server logged. */
  readonly warnings: LoggedWarning[];
  /** `http://127.0.0.1:PORT` of a listener (default: the first). */
  proxyUrl(listener?: string): string;
  /** Replaces the config file the runtime reloads from (an object shaped like the YAML, written as JSON, or raw text). */
  writeConfig(config: Record<string, unknown> | string): void;
  /** curl against the admin server; `path` starts with `/`. */
  call(method: string, path: string, options?: { token?: string; body?: string; headers?: readonly string[] }): Promise<CurlResponse>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  /** Admin token; null configures none. Default TOKEN. */
  readonly token?: string | null;
  readonly adminOptions?: AdminServerOptions;
  /** Adds sections to the status document (e.g. a `gslb` section). */
  readonly extendStatus?: (status: RuntimeStatus) => RuntimeStatus;
}

/**
 * Starts the runtime from `config` (the YAML shape, without `admin`) and an
 * admin server of the test's own on a free loopback port, so tests can set
 * its options, see its log and extend the status. The runtime itself gets no
 * `admin` section: it would start a second admin server and ledger.
 */
export async function startAdmin(config: Record<string, unknown>, options: HarnessOptions = {}): Promise<AdminHarness> {
  const dir = mkdtempSync(join(tmpdir(), 'ballast-admin-'));
  const configPath = join(dir, 'ballast.yaml');
  const token = options.token === undefined ? TOKEN : options.token;
  const writeConfig = (next: Record<string, unknown> | string): void => {
    const text = typeof next === 'string' ? next : JSON.stringify({ log: { level: 'silent', access: 'off' }, ...next }, null, 2);
    writeFileSync(configPath, text);
  };
  writeConfig(config);
  const runtime = await Runtime.start(await loadConfigFile(configPath));
  const ledger = AvailabilityLedger.open(join(dir, 'data'), { aliveIntervalMs: 0 });
  const unsubscribe = runtime.events.subscribe((event) => ledger.recordEvent(event));
  const metrics = createMetrics(undefined, { processMetrics: false });
  const extend = options.extendStatus ?? ((status: RuntimeStatus) => status);
  const view: AdminView = {
    status: () => extend(runtime.status()),
    serverAction: (pool, server, action) => runtime.serverAction(pool, server, action),
    reload: () => runtime.reloadFromSource(),
    events: runtime.events,
    availability: () => ledger.availability(),
    metrics: async () => ({ contentType: metrics.registry.contentType, body: await metrics.registry.metrics() }),
  };
  const warnings: LoggedWarning[] = [];
  const adminConfig: AdminConfig = { listen: { host: '127.0.0.1', port: 0 }, token: token ?? undefined };
  const server = new AdminServer(adminConfig, view, { warn: (obj, msg) => warnings.push({ obj, msg }) }, options.adminOptions);
  await server.listen();
  const base = `http://127.0.0.1:${server.address.port}`;
  let closed = false;
  return {
    runtime,
    admin: server,
    ledger,
    base,
    configPath,
    warnings,
    proxyUrl: (listener) => {
      const name = listener ?? runtime.currentConfig.listeners[0]?.name ?? 'web';
      const address = runtime.listenerAddress(name);
      if (address === undefined) throw new Error(`no listener named ${name}`);
      return `http://127.0.0.1:${address.port}`;
    },
    writeConfig,
    call: (method, path, callOptions = {}) => {
      const args = ['-X', method];
      if (callOptions.token !== undefined) args.push('-H', `Authorization: Bearer ${callOptions.token}`);
      for (const header of callOptions.headers ?? []) args.push('-H', header);
      if (callOptions.body !== undefined) args.push('-H', 'Content-Type: application/json', '--data-binary', callOptions.body);
      args.push(`${base}${path}`);
      return curl(args, 15_000);
    },
    close: async () => {
      if (closed) return;
      closed = true;
      unsubscribe();
      await server.close();
      await runtime.close(500);
      ledger.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The parsed JSON body of a curl answer. */
export function json(response: CurlResponse): unknown {
  try {
    return JSON.parse(response.body);
  } catch {
    throw new Error(`not JSON (status ${response.status}): ${response.body.slice(0, 300)}`);
  }
}

/** The `error.code` of a JSON error answer. */
export function errorCode(response: CurlResponse): string {
  const body = json(response) as { error?: { code?: unknown } };
  return String(body.error?.code);
}

/** One server's status entry. */
export function serverStatus(status: RuntimeStatus, pool: string, server: string): RuntimeStatus['pools'][number]['servers'][number] {
  const found = status.pools.find((p) => p.name === pool)?.servers.find((s) => s.name === server);
  if (found === undefined) throw new Error(`no server ${pool}/${server} in status`);
  return found;
}
