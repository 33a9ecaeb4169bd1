/**
 * A Ballast runtime with its admin API (REST, event stream, /metrics) on
 * 127.0.0.1 port 0, wired the way the runtime wires them, for drills that
 * follow events and call the admin API over real sockets.
 */
import { AdminServer } from '../../src/admin/api.js';
import { createMetrics } from '../../src/admin/metrics.js';
import type { AdminView } from '../../src/admin/view.js';
import { configFromObject } from '../../src/config/index.js';
import { Runtime } from '../../src/runtime/runtime.js';

export const ADMIN_TOKEN = 'drill-test-admin-token-0123456789';

export interface AdminBallast {
  readonly runtime: Runtime;
  /** `http://127.0.0.1:PORT` of the admin API. */
  readonly adminUrl: string;
  /** `http://127.0.0.1:PORT` of a listener (default: the first). */
  url(listener?: string): string;
  close(): Promise<void>;
}

/** Starts Ballast from `config` (the YAML shape, without `admin`) plus an admin server with ADMIN_TOKEN. */
export async function startAdminBallast(config: Record<string, unknown>): Promise<AdminBallast> {
  const runtime = await Runtime.start(
    configFromObject({ log: { level: 'silent', access: 'off' }, ...config, admin: { listen: '127.0.0.1:0', token: ADMIN_TOKEN } }),
  );
  const metrics = createMetrics(undefined, { processMetrics: false });
  const view: AdminView = {
    status: () => runtime.status(),
    serverAction: (pool, server, action) => runtime.serverAction(pool, server, action),
    reload: async () => ({ ok: false, errors: ['this harness has no config file'] }),
    events: runtime.events,
    availability: () => ({}),
    metrics: async () => ({ contentType: metrics.registry.contentType, body: await metrics.registry.metrics() }),
  };
  const adminConfig = runtime.currentConfig.admin;
  if (adminConfig === undefined) throw new Error('no admin section');
  const admin = new AdminServer(adminConfig, view);
  try {
    await admin.listen();
  } catch (error) {
    await runtime.close(0);
    throw error;
  }
  let closed = false;
  return {
    runtime,
    adminUrl: `http://127.0.0.1:${admin.address.port}`,
    url: (listener) => {
      const name = listener ?? runtime.currentConfig.listeners[0]?.name ?? 'web';
      const address = runtime.listenerAddress(name);
      if (address === undefined) throw new Error(`no listener named ${name}`);
      return `http://127.0.0.1:${address.port}`;
    },
    close: async () => {
      if (closed) return;
      closed = true;
      await admin.close();
      await runtime.close(200);
    },
  };
}
