/**
 * The validated, normalized configuration that runtime code reads. The YAML
 * schema (`schema.ts`) produces exactly these objects, with every default
 * applied, every duration in milliseconds, every address split into host and
 * port, every `${env:NAME}` resolved, and everything deeply frozen.
 * Runtime code never reads raw YAML.
 */
import type { BallastEventType } from '../core/events.js';
import type { HostPort } from '../core/server.js';
import type { DiscoveryConfig } from '../discovery/types.js';

export type {
  AddressDiscoveryConfig,
  AddressFamily,
  DiscoveryConfig,
  DnsDiscoveryConfig,
  FileDiscoveryConfig,
  SrvDiscoveryConfig,
} from '../discovery/types.js';

/** Milliseconds. */
export type Millis = number;

export const ALGORITHMS = [
  'round-robin',
  'weighted-round-robin',
  'least-connections',
  'response-time',
  'power-of-two',
  'random',
  'source-ip',
  'consistent-hash',
] as const;
export type AlgorithmName = (typeof ALGORITHMS)[number];

export interface BallastConfig {
  /** Path of the file this config came from ("<inline>" for programmatic configs). */
  readonly source: string;
  readonly admin: AdminConfig | undefined;
  readonly listeners: readonly ListenerConfig[];
  readonly pools: readonly PoolConfig[];
  readonly gslb: GslbConfig | undefined;
  /** Programs and webhooks told about events, in config order. Default none. */
  readonly hooks: readonly HookConfig[];
  readonly log: LogConfig;
  /** How long SIGTERM waits for in-flight requests before closing them. Default 30s. */
  readonly drainTimeout: Millis;
  /** Where durable state (the availability ledger) lives. Default `.ballast-data`. */
  readonly dataDir: string;
  /** Proxy processes: `auto` (one per core) or a number. Default 1 (no extra processes). */
  readonly workers: number | 'auto';
}

export interface AdminConfig {
  readonly listen: HostPort;
  /** Bearer token for state-changing calls; undefined means such calls are refused. */
  readonly token: string | undefined;
}

export interface LogConfig {
  readonly level: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  /** Access log destination: `stdout`, `stderr`, `off`, or a file path. Default `stdout`. */
  readonly access: string;
}

export type ListenerConfig = HttpListenerConfig | HttpsListenerConfig | TcpListenerConfig;

interface ListenerCommon {
  readonly name: string;
  readonly listen: HostPort;
  /** CIDRs or addresses whose X-Forwarded-For / PROXY header is believed. Default none. */
  readonly trustedProxies: readonly string[];
}

export interface HttpListenerTimeouts {
  /** Time allowed to receive the complete request headers (408 after it). Default 10s. */
  readonly requestHeaders: Millis;
  /** Time allowed to receive the complete request body, counted from the end of the headers (408). 0 = no limit. Default 5m. */
  readonly requestBody: Millis;
  /** Longest pause between two pieces of a request body (408). 0 = no limit. Default 30s. */
  readonly requestBodyIdle: Millis;
  /** Keep-alive idle time of a client connection between requests. Default 60s. */
  readonly idle: Millis;
}

/** What a client may send to an http or https listener; beyond these limits it is refused. */
export interface HttpListenerLimits {
  /** Client connections open at once; further ones are closed when accepted. Default 10000. */
  readonly maxConnections: number;
  /** Client connections open at once from one address; undefined = no limit (default). Trusted proxies are exempt. */
  readonly maxConnectionsPerIp: number | undefined;
  /** Largest request body, bytes (413); undefined = no limit (default). */
  readonly maxBodySize: number | undefined;
  /** Longest request target (the URL in the request line), bytes (414). Default 8 KiB. */
  readonly maxUrlLength: number;
  /** Largest total size of the request header fields, names and values, bytes (431). Default 16 KiB. */
  readonly maxHeaderSize: number;
  /** Most header fields in one request (431). Default 100. */
  readonly maxHeaders: number;
  /** Header names containing `_`: removed before forwarding (`drop`, default), refused with 400 (`reject`), or forwarded (`allow`). */
  readonly underscoreHeaders: 'drop' | 'reject' | 'allow';
}

export interface HttpListenerConfig extends ListenerCommon, HttpListenerLimits {
  readonly protocol: 'http';
  readonly routes: readonly RouteConfig[];
  readonly timeouts: HttpListenerTimeouts;
}

export interface TlsCertificateConfig {
  /** Absolute path of the PEM certificate chain. */
  readonly cert: string;
  /** Absolute path of the PEM private key. */
  readonly key: string;
}

export interface HttpsListenerConfig extends ListenerCommon, HttpListenerLimits {
  readonly protocol: 'https';
  readonly routes: readonly RouteConfig[];
  readonly timeouts: HttpListenerTimeouts;
  /** HTTP/2: streams a client may have open at once on one connection. Default 128. */
  readonly maxConcurrentStreams: number;
  readonly tls: {
    /** The first certificate is the default for clients without SNI. */
    readonly certificates: readonly TlsCertificateConfig[];
    readonly http2: boolean;
  };
}

export interface TcpListenerConfig extends ListenerCommon {
  readonly protocol: 'tcp';
  readonly pool: string;
  /** PROXY protocol header sent to servers. */
  readonly proxyProtocol: 'v1' | 'v2' | undefined;
  /** Accept a PROXY header from peers in `trustedProxies`. Default false. */
  readonly acceptProxyProtocol: boolean;
  readonly timeouts: {
    /** Close a connection idle in both directions this long. Default 1h. */
    readonly idle: Millis;
  };
}

export interface RouteConfig {
  readonly match: RouteMatchConfig;
  readonly pool: string;
}

/** All present conditions must hold. An empty match matches every request. */
export interface RouteMatchConfig {
  /** Exact host (case-insensitive, port ignored) or `*.example.com`. */
  readonly host: string | undefined;
  /** Path prefix. */
  readonly path: string | undefined;
  /** Regular expression source tested against the path (without query). */
  readonly pathRegex: string | undefined;
  /** Upper-case method names. */
  readonly methods: readonly string[] | undefined;
  /** Lower-case header name → exact value. */
  readonly headers: Readonly<Record<string, string>> | undefined;
  /** Cookie name → exact value. */
  readonly cookies: Readonly<Record<string, string>> | undefined;
}

export type HashKeyConfig =
  | { readonly kind: 'source-ip' }
  | { readonly kind: 'path' }
  | { readonly kind: 'header'; readonly name: string }
  | { readonly kind: 'cookie'; readonly name: string }
  | { readonly kind: 'query'; readonly name: string };

export interface ServerConfig {
  readonly name: string;
  readonly address: HostPort;
  /** Default 1; 0 means never picked. */
  readonly weight: number;
  /** Used only when no primary server is healthy. Default false. */
  readonly backup: boolean;
}

export interface StatusRange {
  readonly min: number;
  readonly max: number;
}

interface HealthCheckCommon {
  readonly interval: Millis;
  readonly timeout: Millis;
  /** Consecutive successes that make an unhealthy server healthy (rise). */
  readonly healthyThreshold: number;
  /** Consecutive failures that make a healthy server unhealthy (fall). */
  readonly unhealthyThreshold: number;
  /** Fraction of `interval` added at random to spread checks. Default 0.1. */
  readonly jitter: number;
  /** State before the first verdict: `healthy` (serve at once) or `unknown` (wait for a success). Default `unknown`, healthy after the first success. */
  readonly initialState: 'unknown' | 'healthy';
}

export type HealthCheckConfig =
  | (HealthCheckCommon & {
      readonly type: 'http';
      readonly path: string;
      readonly expectStatus: readonly StatusRange[];
      readonly expectBody: string | undefined;
      readonly host: string | undefined;
    })
  | (HealthCheckCommon & { readonly type: 'tcp' })
  | (HealthCheckCommon & {
      readonly type: 'postgres';
      readonly user: string;
      readonly database: string;
      readonly password: string | undefined;
      readonly role: 'any' | 'primary';
    })
  | (HealthCheckCommon & {
      readonly type: 'redis';
      readonly password: string | undefined;
      readonly role: 'any' | 'master';
    });

export interface OutlierDetectionConfig {
  readonly consecutiveFailures: number;
  /** Base ejection time; the n-th ejection lasts n times this. */
  readonly ejectionTime: Millis;
  readonly maxEjectedPercent: number;
}

export const RETRY_CONDITIONS = ['connect-failure', 'reset', 'timeout', '502', '503', '504'] as const;
export type RetryCondition = (typeof RETRY_CONDITIONS)[number];

export interface RetriesConfig {
  /** Other servers tried after a failure. Default 2 (0 disables retries). */
  readonly attempts: number;
  readonly on: readonly RetryCondition[];
  /** Retries allowed as a percentage of requests, to stop retry storms. Default 20. */
  readonly budgetPercent: number;
  /** Request bodies up to this many bytes are buffered so they can be replayed. Default 64 KiB. */
  readonly bufferBytes: number;
}

export type StickySessionConfig =
  | {
      readonly type: 'cookie';
      readonly cookie: string;
      readonly secret: string;
      readonly ttl: Millis;
    }
  | { readonly type: 'source-ip' };

export interface PoolConfig {
  readonly name: string;
  readonly algorithm: AlgorithmName;
  /** consistent-hash only; default source-ip. */
  readonly hashKey: HashKeyConfig | undefined;
  readonly servers: readonly ServerConfig[];
  readonly healthCheck: HealthCheckConfig | undefined;
  readonly outlierDetection: OutlierDetectionConfig | undefined;
  readonly retries: RetriesConfig;
  readonly stickySession: StickySessionConfig | undefined;
  /** Ramp-up time of a new or recovered server's weight. 0 = off. */
  readonly slowStart: Millis;
  /** Per server; undefined = unlimited. */
  readonly maxConnections: number | undefined;
  readonly queue: { readonly size: number; readonly timeout: Millis };
  readonly timeouts: {
    readonly connect: Millis;
    /** Time to the response headers. */
    readonly response: Millis;
    /** Idle time of a pooled keep-alive connection to a server. */
    readonly idle: Millis;
  };
  /** Percent of healthy primaries below which all servers get traffic (Envoy panic mode). undefined = off. */
  readonly panicThreshold: number | undefined;
  /** Sources of further servers (DNS, watched files), merged after `servers`. Empty = static servers only. */
  readonly discovery: readonly DiscoveryConfig[];
}

export interface GslbTargetConfig {
  readonly site: string;
  readonly address: string;
  readonly weight: number;
}

export interface DnsRecordConfig {
  /** Relative to the zone; `@` is the apex. */
  readonly name: string;
  readonly type: 'A' | 'AAAA' | 'CNAME';
  readonly policy: 'failover' | 'all-healthy' | 'weighted';
  readonly targets: readonly GslbTargetConfig[];
}

export interface GslbConfig {
  readonly site: string;
  /** A witness votes on site state but serves no traffic. */
  readonly witness: boolean;
  readonly heartbeat: {
    readonly listen: HostPort;
    readonly interval: Millis;
    readonly phiThreshold: number;
    readonly secret: string;
  };
  readonly peers: readonly { readonly site: string; readonly address: HostPort }[];
  /** Time a recovered site must stay healthy before answers return to it. Default 30s. */
  readonly failbackDelay: Millis;
  readonly failback: 'auto' | 'manual';
  readonly dns:
    | {
        readonly listen: HostPort;
        readonly zone: string;
        readonly ttl: Millis;
        readonly records: readonly DnsRecordConfig[];
        readonly dynamicUpdate:
          | {
              readonly server: HostPort;
              readonly zone: string;
              readonly tsig: { readonly name: string; readonly algorithm: 'hmac-sha256'; readonly secret: string };
            }
          | undefined;
        /** Per-client UDP response rate limit; absent = off. */
        readonly rateLimit?: { readonly perSecond: number; readonly burst: number };
      }
    | undefined;
}

/** Runs a program (no shell) with the event as JSON on stdin and in environment variables. */
export interface ExecHookAction {
  readonly type: 'exec';
  /** An absolute path, or a bare program name looked up in PATH. */
  readonly command: string;
  readonly args: readonly string[];
  /** Absolute working directory of the program. Default: the config file's directory. */
  readonly cwd: string;
  /** The program (and every process in its process group) is killed with SIGKILL after this. Default 30s. */
  readonly timeout: Millis;
  /** Further attempts after a non-zero exit, a kill or a failure to start. Default 0. */
  readonly retries: number;
  /** Wait before the first retry; doubles for each further one. Default 1s. */
  readonly retryDelay: Millis;
}

/** POSTs the event as JSON to one URL; a 2xx answer means delivered. */
export interface WebhookHookAction {
  readonly type: 'webhook';
  /** An absolute http: or https: URL. Redirects are not followed. */
  readonly url: string;
  /** Extra request headers, lower-case names; they override the defaults except content-length. */
  readonly headers: Readonly<Record<string, string>>;
  /** Whole exchange, from connecting to the end of the answer. Default 5s. */
  readonly timeout: Millis;
  /** Further attempts after a network error, a timeout, 408, 429 or 5xx. Default 3. */
  readonly retries: number;
  /** Wait before the first retry; doubles for each further one. Default 1s. */
  readonly retryDelay: Millis;
}

export type HookAction = ExecHookAction | WebhookHookAction;

export interface HookConfig {
  /** Unique among hooks; used in logs, stats and the payload. */
  readonly name: string;
  /** Event types delivered; undefined means every type. */
  readonly on: readonly BallastEventType[] | undefined;
  /** When set, only events naming one of these pools are delivered. */
  readonly pools: readonly string[] | undefined;
  /** When set, only events naming one of these sites are delivered. */
  readonly sites: readonly string[] | undefined;
  /** Events that may wait for delivery (the one being delivered not counted). Default 1000. */
  readonly queueSize: number;
  readonly action: HookAction;
}
