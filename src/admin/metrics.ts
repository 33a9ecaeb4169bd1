/**
 * The metric catalogue: every metric Ballast exports on `GET /metrics` is
 * declared here, once, with its name, help text, type, label names and
 * buckets. The catalogue is a public contract (dashboards and alerts are
 * built on these names): rename nothing, add freely.
 *
 * Conventions (checked by tests): every name starts with `ballast_`, counters
 * end in `_total`, durations are histograms in `_seconds`, byte counts end in
 * `_bytes_total`. Process and Node.js runtime metrics come from prom-client's
 * default collectors under the same prefix (`ballast_process_*`,
 * `ballast_nodejs_*`); no catalogue name uses those two namespaces.
 *
 * Hot paths: `metric.labels(...)` hashes and allocates on every call. Code on
 * the request path binds the children it needs once, when a listener, pool or
 * server is created (`bindServer`, `bindRequests`, or its own stored
 * `labels(...)` results) and only calls `inc`/`observe`/`set` per request.
 * When a server, pool or listener leaves the configuration, `removeSeries`
 * drops its series so they stop being exported.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { SERVER_STATES } from '../core/server.js';
import type { ServerState } from '../core/server.js';

export type MetricType = 'counter' | 'gauge' | 'histogram';

/** One catalogue entry. */
export interface MetricSpec {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly labelNames: readonly string[];
  /** Histogram bucket upper bounds, ascending; only for histograms. */
  readonly buckets?: readonly number[];
  /** Label values when a label only takes a closed set of values. */
  readonly labelValues?: Readonly<Record<string, readonly string[]>>;
}

/** HTTP status classes used as the `code_class` label. */
export const CODE_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;
export type CodeClass = (typeof CODE_CLASSES)[number];

/** Outcomes of one active health check (`result` label). */
export const HEALTH_CHECK_RESULTS = ['success', 'failure', 'timeout'] as const;
export type HealthCheckResult = (typeof HEALTH_CHECK_RESULTS)[number];

/** `direction` of TCP byte counts, seen from the client side of a listener. */
export const BYTE_DIRECTIONS = ['received', 'sent'] as const;
export type ByteDirection = (typeof BYTE_DIRECTIONS)[number];

/** `result` of operations that either succeed or fail (DNS updates, reloads). */
export const OUTCOMES = ['success', 'failure'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** Prefix of every Ballast metric, including the process metrics. */
export const METRIC_PREFIX = 'ballast_';

/** Name prefixes owned by prom-client's default (process and Node.js) collectors. */
export const PROCESS_METRIC_PREFIXES = ['ballast_process_', 'ballast_nodejs_'] as const;

/** Latency buckets (seconds) for request and upstream durations: 1 ms to 30 s. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] as const;

/** Buckets (seconds) for TCP connection lifetimes: 10 ms to 1 h. */
export const CONNECTION_DURATION_BUCKETS = [0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600] as const;

/**
 * Every Ballast metric, grouped by area. `createMetrics` builds one handle
 * per entry with the same area/key path (`metrics.http.requests`, ...).
 */
export const METRIC_CATALOGUE = {
  http: {
    requests: {
      name: 'ballast_http_requests_total',
      help: 'HTTP requests answered, by listener, pool, server and status class. server is empty when no server was chosen.',
      type: 'counter',
      labelNames: ['listener', 'pool', 'server', 'code_class'],
      labelValues: { code_class: CODE_CLASSES },
    },
    requestDuration: {
      name: 'ballast_http_request_duration_seconds',
      help: 'Time from receiving the request headers to sending the last byte of the response, including queueing and retries.',
      type: 'histogram',
      labelNames: ['listener', 'pool'],
      buckets: LATENCY_BUCKETS,
    },
    upstreamDuration: {
      name: 'ballast_http_upstream_duration_seconds',
      help: 'Time from sending a request to a server to receiving its response headers, per attempt.',
      type: 'histogram',
      labelNames: ['pool', 'server'],
      buckets: LATENCY_BUCKETS,
    },
    activeRequests: {
      name: 'ballast_http_active_requests',
      help: 'HTTP requests in progress on a listener.',
      type: 'gauge',
      labelNames: ['listener'],
    },
    queuedRequests: {
      name: 'ballast_http_queued_requests',
      help: 'Requests waiting in a pool queue because every server reached its connection limit.',
      type: 'gauge',
      labelNames: ['pool'],
    },
  },
  servers: {
    state: {
      name: 'ballast_server_state',
      help: 'Current state of a server: 1 for the state it is in, 0 for the others.',
      type: 'gauge',
      labelNames: ['pool', 'server', 'state'],
      labelValues: { state: SERVER_STATES },
    },
    activeConnections: {
      name: 'ballast_server_active_connections',
      help: 'Requests or connections in flight to a server.',
      type: 'gauge',
      labelNames: ['pool', 'server'],
    },
    healthChecks: {
      name: 'ballast_health_checks_total',
      help: 'Active health checks run, by result.',
      type: 'counter',
      labelNames: ['pool', 'server', 'result'],
      labelValues: { result: HEALTH_CHECK_RESULTS },
    },
    retries: {
      name: 'ballast_retries_total',
      help: 'Requests retried on another server, by the failure that caused the retry (connect-failure, reset, timeout, or a status code).',
      type: 'counter',
      labelNames: ['pool', 'reason'],
    },
    ejections: {
      name: 'ballast_outlier_ejections_total',
      help: 'Times a server was ejected by passive outlier detection.',
      type: 'counter',
      labelNames: ['pool', 'server'],
    },
  },
  tcp: {
    connections: {
      name: 'ballast_tcp_connections_total',
      help: 'TCP connections proxied, by listener, pool and server.',
      type: 'counter',
      labelNames: ['listener', 'pool', 'server'],
    },
    activeConnections: {
      name: 'ballast_tcp_active_connections',
      help: 'TCP connections open on a listener.',
      type: 'gauge',
      labelNames: ['listener'],
    },
    bytes: {
      name: 'ballast_tcp_bytes_total',
      help: 'Bytes carried by TCP listeners: received from clients or sent to clients.',
      type: 'counter',
      labelNames: ['listener', 'direction'],
      labelValues: { direction: BYTE_DIRECTIONS },
    },
    connectErrors: {
      name: 'ballast_tcp_connect_errors_total',
      help: 'Failed attempts to connect to a server.',
      type: 'counter',
      labelNames: ['pool', 'server'],
    },
    connectionDuration: {
      name: 'ballast_tcp_connection_duration_seconds',
      help: 'Lifetime of proxied TCP connections.',
      type: 'histogram',
      labelNames: ['listener'],
      buckets: CONNECTION_DURATION_BUCKETS,
    },
  },
  gslb: {
    siteUp: {
      name: 'ballast_gslb_site_up',
      help: 'Whether a site is up (1) or down (0) as this instance sees it.',
      type: 'gauge',
      labelNames: ['site'],
    },
    heartbeatPhi: {
      name: 'ballast_gslb_heartbeat_phi',
      help: 'Current phi-accrual suspicion level of a peer site; the site is suspected above the configured threshold.',
      type: 'gauge',
      labelNames: ['site'],
    },
    dnsQueries: {
      name: 'ballast_dns_queries_total',
      help: 'DNS queries answered, by response code (NOERROR, NXDOMAIN, REFUSED, SERVFAIL, FORMERR, NOTIMP).',
      type: 'counter',
      labelNames: ['rcode'],
    },
    dnsUpdates: {
      name: 'ballast_dns_updates_total',
      help: 'Dynamic DNS (RFC 2136) updates sent, by result.',
      type: 'counter',
      labelNames: ['result'],
      labelValues: { result: OUTCOMES },
    },
  },
  runtime: {
    buildInfo: {
      name: 'ballast_build_info',
      help: 'Always 1; the labels tell the running Ballast version.',
      type: 'gauge',
      labelNames: ['version'],
    },
    configReloads: {
      name: 'ballast_config_reloads_total',
      help: 'Configuration reloads, by result.',
      type: 'counter',
      labelNames: ['result'],
      labelValues: { result: OUTCOMES },
    },
  },
} as const satisfies Readonly<Record<string, Readonly<Record<string, MetricSpec>>>>;

export type MetricCatalogue = typeof METRIC_CATALOGUE;
export type MetricArea = keyof MetricCatalogue;

/** The prom-client handle type a catalogue entry produces, with its label names. */
export type MetricHandle<S> = S extends { readonly type: 'counter'; readonly labelNames: readonly (infer L extends string)[] }
  ? Counter<L>
  : S extends { readonly type: 'gauge'; readonly labelNames: readonly (infer L extends string)[] }
    ? Gauge<L>
    : S extends { readonly type: 'histogram'; readonly labelNames: readonly (infer L extends string)[] }
      ? Histogram<L>
      : never;

/** Typed handles for every catalogue entry, grouped like the catalogue. */
export type Metrics = {
  readonly [A in MetricArea]: { readonly [K in keyof MetricCatalogue[A]]: MetricHandle<MetricCatalogue[A][K]> };
} & {
  /** The registry the handles are registered in; `registry.metrics()` renders `GET /metrics`. */
  readonly registry: Registry;
};

/** Every catalogue entry as a flat list, in catalogue order. */
export function catalogueEntries(): readonly MetricSpec[] {
  const entries: MetricSpec[] = [];
  for (const area of Object.values(METRIC_CATALOGUE)) {
    for (const spec of Object.values(area) as MetricSpec[]) entries.push(spec);
  }
  return entries;
}

export interface CreateMetricsOptions {
  /** Also export prom-client's process and Node.js metrics with the `ballast_` prefix. Default true. */
  readonly processMetrics?: boolean;
}

/**
 * Registers every catalogue metric in `registry` (a fresh one by default)
 * and returns typed handles. Call once per registry: registering the same
 * names twice in one registry throws.
 */
export function createMetrics(registry: Registry = new Registry(), options: CreateMetricsOptions = {}): Metrics {
  const areas: Record<string, Record<string, Counter | Gauge | Histogram>> = {};
  for (const [areaName, area] of Object.entries(METRIC_CATALOGUE)) {
    const handles: Record<string, Counter | Gauge | Histogram> = {};
    for (const [key, spec] of Object.entries(area) as [string, MetricSpec][]) {
      handles[key] = buildHandle(spec, registry);
    }
    areas[areaName] = handles;
  }
  if (options.processMetrics ?? true) collectProcessMetrics(registry);
  // The loop above fills exactly the areas and keys of the catalogue with the
  // handle type each entry's `type` selects, which is what `Metrics` spells out.
  return { ...areas, registry } as unknown as Metrics;
}

/**
 * Registers prom-client's process and Node.js collectors under the
 * `ballast_` prefix, minus the gauges it names `*_total`
 * (`nodejs_active_handles_total`, ...): that suffix is reserved for counters,
 * `promtool check metrics` rejects it, and each is only the sum of the
 * per-type gauge exported next to it.
 */
function collectProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  for (const metric of registry.getMetricsAsArray()) {
    if (!(metric instanceof Counter) && metric.name.endsWith('_total') && PROCESS_METRIC_PREFIXES.some((prefix) => metric.name.startsWith(prefix))) {
      registry.removeSingleMetric(metric.name);
    }
  }
}

function buildHandle(spec: MetricSpec, registry: Registry): Counter | Gauge | Histogram {
  const base = { name: spec.name, help: spec.help, labelNames: [...spec.labelNames], registers: [registry] };
  switch (spec.type) {
    case 'counter':
      return new Counter(base);
    case 'gauge':
      return new Gauge(base);
    case 'histogram':
      return new Histogram({ ...base, buckets: [...(spec.buckets ?? LATENCY_BUCKETS)] });
    default: {
      const unknown: never = spec.type;
      throw new TypeError(`unknown metric type ${String(unknown)}`);
    }
  }
}

/** The `code_class` label of an HTTP status; anything outside 100-599 counts as 5xx. */
export function codeClass(status: number): CodeClass {
  return CODE_CLASSES[codeClassIndex(status)] ?? '5xx';
}

function codeClassIndex(status: number): number {
  const index = Math.floor(status / 100) - 1;
  return index >= 0 && index < CODE_CLASSES.length ? index : CODE_CLASSES.length - 1;
}

/** Request counters of one (listener, pool, server), bound once; `count` is O(1) with no allocation. */
export interface RequestSeries {
  count(status: number): void;
}

/**
 * Binds `ballast_http_requests_total` for one (listener, pool, server) across
 * every status class. Create it when the route and server become known
 * (e.g. once per server per listener), not per request. `server` is `''`
 * for requests answered before a server was chosen.
 */
export function bindRequests(metrics: Metrics, listener: string, pool: string, server: string): RequestSeries {
  const byClass = CODE_CLASSES.map((cls) => metrics.http.requests.labels(listener, pool, server, cls));
  return {
    count(status: number): void {
      byClass[codeClassIndex(status)]?.inc();
    },
  };
}

/** The per-server series of one (pool, server), bound once when the server is created. */
export interface ServerSeries {
  readonly activeConnections: Gauge.Internal<'pool' | 'server'>;
  readonly upstreamDuration: Histogram.Internal<'pool' | 'server'>;
  readonly ejections: Counter.Internal;
  readonly connectErrors: Counter.Internal;
  healthCheck(result: HealthCheckResult): void;
  /** Sets `ballast_server_state` to 1 for `state` and 0 for every other state. O(number of states). */
  setState(state: ServerState): void;
}

export function bindServer(metrics: Metrics, pool: string, server: string): ServerSeries {
  const { servers, http, tcp } = metrics;
  const stateChildren = SERVER_STATES.map((state) => [state, servers.state.labels(pool, server, state)] as const);
  const healthChildren = new Map(HEALTH_CHECK_RESULTS.map((result) => [result, servers.healthChecks.labels(pool, server, result)]));
  return {
    activeConnections: servers.activeConnections.labels(pool, server),
    upstreamDuration: http.upstreamDuration.labels(pool, server),
    ejections: servers.ejections.labels(pool, server),
    connectErrors: tcp.connectErrors.labels(pool, server),
    healthCheck(result: HealthCheckResult): void {
      healthChildren.get(result)?.inc();
    },
    setState(state: ServerState): void {
      for (const [candidate, child] of stateChildren) child.set(candidate === state ? 1 : 0);
    },
  };
}

/** Label names `removeSeries` can match on. */
export type SeriesMatch = Partial<Record<'listener' | 'pool' | 'server' | 'site', string>>;

/**
 * Removes every series whose labels include all of `match` (for example
 * `{ pool: 'web', server: 'web-1' }` when that server leaves the
 * configuration), across every catalogue metric that has those labels.
 * Returns how many series were removed. O(total series); for reloads, not
 * for the request path. Children bound earlier recreate their series if used
 * again.
 */
export async function removeSeries(metrics: Metrics, match: SeriesMatch): Promise<number> {
  const keys = Object.keys(match) as (keyof SeriesMatch)[];
  if (keys.length === 0) return 0;
  let removed = 0;
  for (const [areaName, area] of Object.entries(METRIC_CATALOGUE)) {
    const handles = (metrics as unknown as Record<string, Record<string, Counter | Gauge | Histogram>>)[areaName];
    for (const [key, spec] of Object.entries(area) as [string, MetricSpec][]) {
      if (!keys.every((name) => spec.labelNames.includes(name))) continue;
      const handle = handles?.[key];
      if (handle === undefined) continue;
      const seen = new Set<string>();
      const { values } = await handle.get();
      for (const value of values) {
        const labels = value.labels as Record<string, string | number | undefined>;
        if (!keys.every((name) => String(labels[name]) === match[name])) continue;
        // Histogram values repeat per bucket (`le`) and per _sum/_count; keep the series labels only.
        const seriesLabels: Record<string, string | number> = {};
        for (const name of spec.labelNames) {
          const labelValue = labels[name];
          if (labelValue !== undefined) seriesLabels[name] = labelValue;
        }
        const id = spec.labelNames.map((name) => String(seriesLabels[name])).join('\u0000');
        if (seen.has(id)) continue;
        seen.add(id);
        handle.remove(seriesLabels);
        removed += 1;
      }
    }
  }
  return removed;
}
