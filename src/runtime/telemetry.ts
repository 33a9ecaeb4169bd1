import { Registry } from 'prom-client';
import { bindRequests, bindServer, createMetrics, type Metrics, type RequestSeries, type ServerSeries } from '../admin/metrics.js';
import type { BallastEvent } from '../core/events.js';
import { VERSION } from '../core/version.js';
import type { CheckResult } from '../health/types.js';
import type { Pool } from '../pools/pool.js';
import type { PoolServer } from '../pools/server.js';

/** What the proxy reports per finished request; implemented once per listener. */
export interface RequestTelemetry {
  request(pool: Pool, server: PoolServer | undefined, status: number, totalMs: number, upstreamMs: number | undefined): void;
  retry(pool: Pool, reason: string): void;
}

interface PoolSeries {
  readonly byServer: Map<PoolServer | undefined, RequestSeries>;
  readonly duration: ReturnType<Metrics['http']['requestDuration']['labels']>;
}

/**
 * Feeds the metrics catalogue from the live runtime. Label-bound series are
 * created once per (listener, pool, server) and cached, so the request path
 * costs two map lookups and a few increments. Gauges that mirror state (server
 * states, connections, queues) are refreshed when /metrics is scraped.
 */
export class Telemetry {
  readonly metrics: Metrics;
  private readonly servers = new WeakMap<PoolServer, ServerSeries>();

  constructor() {
    this.metrics = createMetrics(new Registry());
    this.metrics.runtime.buildInfo.labels(VERSION).set(1);
  }

  forListener(listener: string): RequestTelemetry {
    const pools = new Map<Pool, PoolSeries>();
    const metrics = this.metrics;
    const seriesOf = (pool: Pool): PoolSeries => {
      let series = pools.get(pool);
      if (series === undefined) {
        series = { byServer: new Map(), duration: metrics.http.requestDuration.labels(listener, pool.name) };
        pools.set(pool, series);
      }
      return series;
    };
    return {
      request: (pool, server, status, totalMs, upstreamMs) => {
        const series = seriesOf(pool);
        let requests = series.byServer.get(server);
        if (requests === undefined) {
          requests = bindRequests(metrics, listener, pool.name, server?.name ?? '');
          series.byServer.set(server, requests);
        }
        requests.count(status);
        series.duration.observe(totalMs / 1000);
        if (server !== undefined && upstreamMs !== undefined) this.server(server).upstreamDuration.observe(upstreamMs / 1000);
      },
      retry: (pool, reason) => metrics.servers.retries.labels(pool.name, reason).inc(),
    };
  }

  healthCheck(server: PoolServer, result: CheckResult): void {
    this.server(server).healthCheck(result.ok ? 'success' : result.reason === 'timeout' ? 'timeout' : 'failure');
  }

  event(event: BallastEvent): void {
    if (event.type === 'server-ejected' && event.pool !== undefined && event.server !== undefined) {
      this.metrics.servers.ejections.labels(event.pool, event.server).inc();
    } else if (event.type === 'config-reloaded') {
      this.metrics.runtime.configReloads.labels('success').inc();
    } else if (event.type === 'config-reload-failed') {
      this.metrics.runtime.configReloads.labels('failure').inc();
    }
  }

  /** Mirrors pool state into gauges; called before each scrape. O(servers). */
  refreshPools(pools: Iterable<Pool>): void {
    for (const pool of pools) {
      this.metrics.http.queuedRequests.labels(pool.name).set(pool.queued);
      for (const server of pool.list()) {
        const series = this.server(server);
        series.setState(server.state);
        series.activeConnections.set(server.inFlight);
      }
    }
  }

  /** The registry as prom-client JSON, for aggregation across worker processes. */
  json(): Promise<object[]> {
    return this.metrics.registry.getMetricsAsJSON() as Promise<object[]>;
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.metrics.registry.contentType, body: await this.metrics.registry.metrics() };
  }

  private server(server: PoolServer): ServerSeries {
    let series = this.servers.get(server);
    if (series === undefined) {
      series = bindServer(this.metrics, server.pool, server.name);
      this.servers.set(server, series);
    }
    return series;
  }
}
