/**
 * The config schema: strict objects (an unknown key is an error),
 * discriminated unions on `protocol` and `type`, field-level parsing of units,
 * and the defaults. Its output is exactly the normalized shape of `types.ts`;
 * its input side is what `configJsonSchema()` exports for editors.
 *
 * Checks that relate several parts of the document (pool references,
 * duplicate names, address clashes) live in `semantic.ts`, which runs on the
 * same raw data so that all problems are reported in one pass.
 */
import { isAbsolute, resolve } from 'node:path';
import { isIP, isIPv4, isIPv6 } from 'node:net';
import { z } from 'zod';
import type { HostPort } from '../core/server.js';
import { discoveryListSchema } from '../discovery/schema.js';
import { checkCertificatePair } from './files.js';
import { describeValue } from './issues.js';
import { attempt, fail } from './refine.js';
import { ALGORITHMS, RETRY_CONDITIONS } from './types.js';
import { BALLAST_EVENT_TYPES } from '../core/events.js';
import type {
  AdminConfig,
  ExecHookAction,
  HookAction,
  HookConfig,
  WebhookHookAction,
  BallastConfig,
  DnsRecordConfig,
  GslbConfig,
  HealthCheckConfig,
  HttpListenerConfig,
  HttpListenerLimits,
  HttpsListenerConfig,
  PoolConfig,
  RetryCondition,
  RouteConfig,
  RouteMatchConfig,
  StatusRange,
  StickySessionConfig,
  TcpListenerConfig,
  TlsCertificateConfig,
} from './types.js';
import {
  DURATION_PATTERN,
  HASH_KEY_PATTERN,
  isHostname,
  parseAddress,
  parseDuration,
  parseHashKey,
  parseSize,
  parseStatusRange,
  SIZE_PATTERN,
  STATUS_PATTERN,
} from './units.js';

export interface SchemaOptions {
  /** Directory that relative file paths (TLS certificates and keys) are resolved against. */
  readonly baseDir: string;
  /** Recorded as `BallastConfig.source`. */
  readonly source: string;
  /** When false, named files are not opened (used to export the JSON Schema). Default true. */
  readonly checkFiles?: boolean;
}

// ---------------------------------------------------------------- scalars

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Identifiers used in URLs and metric labels: listener, pool, server and site names. */
function name(what: string) {
  return z
    .string()
    .regex(NAME_PATTERN, {
      error: (issue) =>
        `invalid ${what} name ${describeValue(issue.input)}: use letters, digits, ".", "_" and "-", starting with a letter or digit`,
    })
    .describe(`${what[0]?.toUpperCase() ?? ''}${what.slice(1)} name: letters, digits, ".", "_" and "-".`);
}

/**
 * A duration string (`250ms`, `2s`, `1m30s`; units ms s m h d) or the number
 * 0, converted to milliseconds. `zero` says whether 0 is meaningful.
 */
export function durationSchema(zero: 'allow-zero' | 'positive' = 'positive') {
  return z
    .union([z.string().meta({ pattern: DURATION_PATTERN }), z.literal(0)], {
      error: (issue) =>
        typeof issue.input === 'number'
          ? `invalid duration ${issue.input}: add a unit (ms, s, m, h, d), e.g. "${issue.input}s"`
          : `expected a duration such as "2s", got ${describeValue(issue.input)}`,
    })
    .transform((value, ctx) => {
      const ms = value === 0 ? 0 : attempt(parseDuration, value, ctx);
      if (ms === undefined) return z.NEVER;
      if (ms === 0 && zero === 'positive') {
        fail(ctx, 'must be longer than 0', value);
        return z.NEVER;
      }
      return ms;
    });
}

function duration(description: string, zero: 'allow-zero' | 'positive' = 'positive') {
  return durationSchema(zero).describe(`${description} Duration: a number with a unit (ms, s, m, h, d), e.g. "2s".`);
}

/** `host:port` or `[ipv6]:port`. Only listen addresses may use port 0 (any free port). */
function address(use: 'listen' | 'connect', description: string) {
  return z
    .string()
    .transform((text, ctx): HostPort => {
      const parsed = attempt(parseAddress, text, ctx);
      if (parsed === undefined) return z.NEVER;
      if (use === 'connect' && parsed.port === 0) {
        fail(ctx, `invalid address ${JSON.stringify(text)}: the port must be from 1 to 65535`, text);
        return z.NEVER;
      }
      return parsed;
    })
    .describe(`${description} Address: host:port, IPv6 in brackets (e.g. [::1]:8080).`);
}

/** A byte count: a number, or a string with B, KiB, MiB or GiB. */
function size(description: string) {
  return z
    .union([z.number().int().min(0), z.string().meta({ pattern: SIZE_PATTERN })], {
      error: (issue) => `expected a size such as "64KiB", got ${describeValue(issue.input)}`,
    })
    .transform((value, ctx) => {
      if (typeof value === 'number') return value;
      return attempt(parseSize, value, ctx) ?? z.NEVER;
    })
    .describe(`${description} Size: bytes, or a string with B, KiB, MiB or GiB (e.g. "64KiB").`);
}

function percent(description: string) {
  return z.number().min(0).max(100).describe(`${description} Percent, 0-100.`);
}

function integer(min: number, description: string) {
  return z.number().int().min(min).describe(description);
}

/** A header or cookie value; YAML scalars such as `true` or `1` are taken as their text. */
const matchValue = z
  .union([z.string(), z.number(), z.boolean()], {
    error: (issue) => `expected a string, got ${describeValue(issue.input)}`,
  })
  .transform((value) => String(value));

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function token(what: string) {
  return z.string().regex(TOKEN, {
    error: (issue) => `invalid ${what} ${describeValue(issue.input)}: letters, digits and !#$%&'*+.^_\`|~- only`,
  });
}

/** A DNS zone or name: lower-cased, without the trailing dot. */
const domain = z
  .string()
  .refine((text) => isHostname(text), {
    error: (issue) => `invalid domain name ${describeValue(issue.input)}`,
  })
  .transform((text) => text.toLowerCase().replace(/\.$/, ''));

/** An address (`10.0.0.1`, `::1`) or a CIDR block (`10.0.0.0/8`). */
const trustedProxy = z.string().refine(
  (text) => {
    const [ip, prefix, ...rest] = text.split('/');
    const family = isIP(ip ?? '');
    if (family === 0 || rest.length > 0) return false;
    if (prefix === undefined) return true;
    return /^[0-9]{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
  },
  { error: (issue) => `invalid trusted proxy ${describeValue(issue.input)}: expected an IP address or CIDR block` },
);

// ---------------------------------------------------------------- top level

const logSchema = z
  .strictObject({
    level: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info').describe('Log level.'),
    access: z
      .string()
      .min(1)
      .default('stdout')
      .describe('Access log: stdout, stderr, off, or a file path (relative to the working directory).'),
  })
  .prefault({});

const adminSchema = z
  .strictObject({
    listen: address('listen', 'Admin API, dashboard and /metrics.'),
    token: z.string().min(1).optional().describe('Bearer token required by every call that changes state.'),
  })
  .transform((admin): AdminConfig => ({ listen: admin.listen, token: admin.token }));

// ---------------------------------------------------------------- listeners

const matchSchema = z
  .strictObject({
    host: z
      .string()
      .regex(/^(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/, {
        error: (issue) => `invalid host ${describeValue(issue.input)}: expected a name like api.example.com or *.example.com`,
      })
      .transform((host) => host.toLowerCase())
      .optional()
      .describe('Exact host (case-insensitive, port ignored) or *.example.com.'),
    path: z
      .string()
      .regex(/^\//, { error: (issue) => `invalid path ${describeValue(issue.input)}: must start with "/"` })
      .optional()
      .describe('Path prefix.'),
    pathRegex: z
      .string()
      .superRefine((source, ctx) => {
        try {
          new RegExp(source);
        } catch (error) {
          fail(ctx, `invalid pathRegex: ${error instanceof Error ? error.message : String(error)}`, source);
        }
      })
      .optional()
      .describe('Regular expression tested against the path (without the query).'),
    methods: z
      .array(token('method').transform((method) => method.toUpperCase()))
      .min(1)
      .optional()
      .describe('Request methods, e.g. [GET, POST].'),
    headers: z
      .record(token('header name'), matchValue)
      .transform((headers) =>
        Object.fromEntries(Object.entries(headers).map(([header, value]) => [header.toLowerCase(), value])),
      )
      .optional()
      .describe('Header name → exact value.'),
    cookies: z.record(token('cookie name'), matchValue).optional().describe('Cookie name → exact value.'),
  })
  .transform(
    (match): RouteMatchConfig => ({
      host: match.host,
      path: match.path,
      pathRegex: match.pathRegex,
      methods: match.methods,
      headers: match.headers,
      cookies: match.cookies,
    }),
  );

const routeSchema = z
  .strictObject({
    match: matchSchema.prefault({}).describe('All conditions present must hold; no match matches every request.'),
    pool: z.string().min(1).describe('Pool that serves matching requests.'),
  })
  .transform((route): RouteConfig => ({ match: route.match, pool: route.pool }));

const listenerCommon = {
  name: name('listener'),
  listen: address('listen', 'Where to accept connections.'),
  trustedProxies: z
    .array(trustedProxy)
    .default([])
    .describe('Addresses or CIDR blocks whose X-Forwarded-For / PROXY header is believed.'),
};

const httpTimeouts = z
  .strictObject({
    requestHeaders: duration('Time allowed to receive the complete request headers (408 after it).').prefault('10s'),
    requestBody: duration(
      'Time allowed to receive the complete request body after the headers (408 after it); 0 means no limit.',
      'allow-zero',
    ).prefault('5m'),
    requestBodyIdle: duration('Longest pause between two pieces of a request body (408); 0 means no limit.', 'allow-zero').prefault(
      '30s',
    ),
    idle: duration('Keep-alive idle time of a client connection.').prefault('60s'),
  })
  .prefault({});

/** Limits on what a client may send to an http or https listener. */
const httpLimits = {
  maxConnections: integer(1, 'Client connections open at once; further ones are closed when accepted.').default(10_000),
  maxConnectionsPerIp: integer(1, 'Client connections open at once from one address (trusted proxies are exempt); none by default.').optional(),
  maxBodySize: size('Largest request body (413 beyond it); none by default.').optional(),
  maxUrlLength: size('Longest request target, the URL of the request line (414 beyond it).').prefault('8KiB'),
  maxHeaderSize: size('Largest total size of the request header fields, names and values (431 beyond it).').prefault('16KiB'),
  maxHeaders: integer(1, 'Most header fields in one request (431 beyond it).').default(100),
  underscoreHeaders: z
    .enum(['drop', 'reject', 'allow'])
    .default('drop')
    .describe('Header names containing "_": drop them before forwarding, reject the request with 400, or allow them.'),
};

/** The normalized limits of a parsed http or https listener. */
function limitsOf(listener: {
  maxConnections: number;
  maxConnectionsPerIp?: number | undefined;
  maxBodySize?: number | undefined;
  maxUrlLength: number;
  maxHeaderSize: number;
  maxHeaders: number;
  underscoreHeaders: 'drop' | 'reject' | 'allow';
}): HttpListenerLimits {
  return {
    maxConnections: listener.maxConnections,
    maxConnectionsPerIp: listener.maxConnectionsPerIp,
    maxBodySize: listener.maxBodySize,
    maxUrlLength: listener.maxUrlLength,
    maxHeaderSize: listener.maxHeaderSize,
    maxHeaders: listener.maxHeaders,
    underscoreHeaders: listener.underscoreHeaders,
  };
}

const routes = z
  .array(routeSchema)
  .min(1, { error: 'an HTTP listener needs at least one route' })
  .describe('First match wins; a route without match is the default.');

function certificateSchema(options: SchemaOptions) {
  return z
    .strictObject({
      cert: z.string().min(1).describe('PEM certificate chain, relative to the config file.'),
      key: z.string().min(1).describe('PEM private key, relative to the config file.'),
    })
    .transform((files, ctx): TlsCertificateConfig => {
      const cert = isAbsolute(files.cert) ? files.cert : resolve(options.baseDir, files.cert);
      const key = isAbsolute(files.key) ? files.key : resolve(options.baseDir, files.key);
      if (options.checkFiles !== false) {
        const problems = checkCertificatePair(cert, key);
        if (problems.cert !== undefined) fail(ctx, problems.cert, files.cert, ['cert']);
        if (problems.key !== undefined) fail(ctx, problems.key, files.key, ['key']);
      }
      return { cert, key };
    });
}

function listenerSchema(options: SchemaOptions) {
  const http = z
    .strictObject({ ...listenerCommon, protocol: z.literal('http'), routes, timeouts: httpTimeouts, ...httpLimits })
    .transform(
      (listener): HttpListenerConfig => ({
        name: listener.name,
        protocol: 'http',
        listen: listener.listen,
        trustedProxies: listener.trustedProxies,
        routes: listener.routes,
        timeouts: listener.timeouts,
        ...limitsOf(listener),
      }),
    );
  const https = z
    .strictObject({
      ...listenerCommon,
      protocol: z.literal('https'),
      routes,
      timeouts: httpTimeouts,
      ...httpLimits,
      maxConcurrentStreams: integer(1, 'HTTP/2: streams a client may have open at once on one connection.').default(128),
      tls: z.strictObject({
        certificates: z
          .array(certificateSchema(options))
          .min(1, { error: 'an https listener needs at least one certificate' })
          .describe('Chosen by SNI from the names in each certificate; the first is the default.'),
        http2: z.boolean().default(false).describe('Offer HTTP/2 through ALPN.'),
      }),
    })
    .transform(
      (listener): HttpsListenerConfig => ({
        name: listener.name,
        protocol: 'https',
        listen: listener.listen,
        trustedProxies: listener.trustedProxies,
        routes: listener.routes,
        timeouts: listener.timeouts,
        ...limitsOf(listener),
        maxConcurrentStreams: listener.maxConcurrentStreams,
        tls: listener.tls,
      }),
    );
  const tcp = z
    .strictObject({
      ...listenerCommon,
      protocol: z.literal('tcp'),
      pool: z.string().min(1).describe('Pool that serves the connections.'),
      proxyProtocol: z.enum(['v1', 'v2']).optional().describe('Send a PROXY protocol header to the servers.'),
      acceptProxyProtocol: z
        .boolean()
        .default(false)
        .describe('Read a PROXY protocol header from peers in trustedProxies.'),
      timeouts: z
        .strictObject({ idle: duration('Close a connection idle in both directions this long.').prefault('1h') })
        .prefault({}),
    })
    .transform(
      (listener): TcpListenerConfig => ({
        name: listener.name,
        protocol: 'tcp',
        listen: listener.listen,
        trustedProxies: listener.trustedProxies,
        pool: listener.pool,
        proxyProtocol: listener.proxyProtocol,
        acceptProxyProtocol: listener.acceptProxyProtocol,
        timeouts: listener.timeouts,
      }),
    );
  return z.discriminatedUnion('protocol', [http, https, tcp]);
}

// ---------------------------------------------------------------- pools

const serverSchema = z.strictObject({
  name: name('server'),
  address: address('connect', 'The server.'),
  weight: integer(0, 'Relative share of traffic; 0 means never picked.').default(1),
  backup: z.boolean().default(false).describe('Used only when no primary server is healthy.'),
});

const healthCommon = {
  interval: duration('Time between checks.').prefault('2s'),
  timeout: duration('Time a check may take.').prefault('1s'),
  healthyThreshold: integer(1, 'Consecutive successes that make a server healthy.').default(2),
  unhealthyThreshold: integer(1, 'Consecutive failures that make a server unhealthy.').default(2),
  jitter: z.number().min(0).max(1).default(0.1).describe('Fraction of the interval added at random.'),
  initialState: z
    .enum(['unknown', 'healthy'])
    .default('unknown')
    .describe('State before the first check: unknown (wait for a success) or healthy.'),
};

const STATUS_HINT = 'a status such as 200, "200-399" or "2xx", or a list of them';

/** `expectStatus`: one entry or a list; each entry parsed by `parseStatusRange`. */
const expectStatus = z
  .union(
    [
      z.number().int(),
      z.string().meta({ pattern: STATUS_PATTERN }),
      z.array(z.union([z.number().int(), z.string().meta({ pattern: STATUS_PATTERN })])).min(1),
    ],
    { error: (issue) => `expected ${STATUS_HINT}, got ${describeValue(issue.input)}` },
  )
  .transform((value, ctx): StatusRange[] => {
    const entries = Array.isArray(value) ? value : [value];
    const ranges: StatusRange[] = [];
    entries.forEach((entry, index) => {
      try {
        ranges.push(parseStatusRange(entry));
      } catch (error) {
        fail(ctx, error instanceof Error ? error.message : String(error), entry, Array.isArray(value) ? [index] : undefined);
      }
    });
    return ranges;
  })
  .describe(`Healthy statuses: ${STATUS_HINT}.`);

const healthCheckSchema = z
  .discriminatedUnion('type', [
    z.strictObject({
      ...healthCommon,
      type: z.literal('http'),
      path: z
        .string()
        .regex(/^\//, { error: (issue) => `invalid path ${describeValue(issue.input)}: must start with "/"` })
        .default('/')
        .describe('Path requested.'),
      expectStatus: expectStatus.prefault('200-399'),
      expectBody: z.string().optional().describe('Substring the response body must contain.'),
      host: z.string().min(1).optional().describe('Host header sent (default: the server address).'),
    }),
    z.strictObject({ ...healthCommon, type: z.literal('tcp') }),
    z.strictObject({
      ...healthCommon,
      type: z.literal('postgres'),
      user: z.string().min(1).describe('User for the startup message.'),
      database: z.string().min(1).optional().describe('Database (default: the user name).'),
      password: z.string().optional().describe('Password, when the server asks for one.'),
      role: z.enum(['any', 'primary']).default('any').describe('primary: only a server not in recovery is healthy.'),
    }),
    z.strictObject({
      ...healthCommon,
      type: z.literal('redis'),
      password: z.string().optional().describe('Password sent with AUTH.'),
      role: z.enum(['any', 'master']).default('any').describe('master: only a server whose role is master is healthy.'),
    }),
  ])
  .transform((check): HealthCheckConfig => {
    const common = {
      interval: check.interval,
      timeout: check.timeout,
      healthyThreshold: check.healthyThreshold,
      unhealthyThreshold: check.unhealthyThreshold,
      jitter: check.jitter,
      initialState: check.initialState,
    };
    switch (check.type) {
      case 'http':
        return {
          ...common,
          type: 'http',
          path: check.path,
          expectStatus: check.expectStatus,
          expectBody: check.expectBody,
          host: check.host,
        };
      case 'tcp':
        return { ...common, type: 'tcp' };
      case 'postgres':
        return {
          ...common,
          type: 'postgres',
          user: check.user,
          database: check.database ?? check.user,
          password: check.password,
          role: check.role,
        };
      case 'redis':
        return { ...common, type: 'redis', password: check.password, role: check.role };
      default: {
        const unknownType: never = check;
        throw new Error(`unknown health check type ${JSON.stringify(unknownType)}`);
      }
    }
  });

const outlierSchema = z.strictObject({
  consecutiveFailures: integer(1, 'Consecutive failed requests that eject a server.').default(5),
  ejectionTime: duration('Base ejection time; the n-th ejection lasts n times this.').prefault('10s'),
  maxEjectedPercent: percent('Most servers of the pool ejected at once.').default(50),
});

const retryCondition = z
  .union([z.enum(RETRY_CONDITIONS), z.literal(502), z.literal(503), z.literal(504)], {
    error: (issue) =>
      `invalid retry condition ${describeValue(issue.input)}: expected one of ${RETRY_CONDITIONS.join(', ')}`,
  })
  .transform((condition) => String(condition) as RetryCondition);

const retriesSchema = z
  .strictObject({
    attempts: z.number().int().min(0).max(10).default(2).describe('Other servers tried after a failure; 0 disables retries.'),
    on: z
      .array(retryCondition)
      .transform((conditions) => [...new Set(conditions)])
      .prefault([...RETRY_CONDITIONS])
      .describe('Failures that are retried.'),
    budgetPercent: percent('Retries allowed as a share of requests.').default(20),
    bufferBytes: size('Request bodies up to this size are buffered so they can be replayed.').prefault('64KiB'),
  })
  .prefault({});

const stickySchema = z
  .discriminatedUnion('type', [
    z.strictObject({
      type: z.literal('cookie'),
      cookie: token('cookie name').default('BALLAST_ROUTE').describe('Cookie name.'),
      secret: z
        .string()
        .min(16, { error: 'the cookie secret must be at least 16 characters long' })
        .describe('HMAC key signing the cookie; at least 16 characters.'),
      ttl: duration('Lifetime of the cookie.').prefault('1h'),
    }),
    z.strictObject({ type: z.literal('source-ip') }),
  ])
  .transform((sticky): StickySessionConfig =>
    sticky.type === 'cookie'
      ? { type: 'cookie', cookie: sticky.cookie, secret: sticky.secret, ttl: sticky.ttl }
      : { type: 'source-ip' },
  );

function poolSchema(options: SchemaOptions) {
  return z
    .strictObject({
      name: name('pool'),
      algorithm: z.enum(ALGORITHMS).default('round-robin').describe('Balancing algorithm.'),
      hashKey: z
        .string()
        .meta({ pattern: HASH_KEY_PATTERN })
        .transform((text, ctx) => attempt(parseHashKey, text, ctx) ?? z.NEVER)
        .optional()
        .describe('consistent-hash: source-ip | path | header:NAME | cookie:NAME | query:NAME.'),
      servers: z.array(serverSchema).default([]),
      discovery: discoveryListSchema(options).default([]),
      healthCheck: healthCheckSchema.optional().describe('Active health check; none means servers are assumed healthy.'),
      outlierDetection: outlierSchema.optional().describe('Passive ejection of servers that fail live traffic.'),
      retries: retriesSchema,
      stickySession: stickySchema.optional().describe('Keep a client on the server it was first sent to.'),
      slowStart: duration('Ramp-up time of a new or recovered server; 0 turns it off.', 'allow-zero').prefault(0),
      maxConnections: integer(1, 'Per server; further requests wait in the queue.').optional(),
      queue: z
        .strictObject({
          size: integer(0, 'Requests that may wait for a free server; 0 refuses at once.').default(1000),
          timeout: duration('Longest wait in the queue.').prefault('5s'),
        })
        .prefault({}),
      timeouts: z
        .strictObject({
          connect: duration('Time to connect to a server.').prefault('2s'),
          response: duration('Time to the response headers.').prefault('30s'),
          idle: duration('Idle time of a pooled keep-alive connection.').prefault('60s'),
        })
        .prefault({}),
      panicThreshold: percent('Below this percentage of healthy primaries, all servers get traffic.').optional(),
    })
    .superRefine((pool, ctx) => {
      if (pool.servers.length === 0 && pool.discovery.length === 0) {
        fail(ctx, 'a pool needs at least one server or a discovery source', pool.servers, ['servers']);
      }
    })
    .transform(
      (pool): PoolConfig => ({
        name: pool.name,
        algorithm: pool.algorithm,
        hashKey: pool.algorithm === 'consistent-hash' ? (pool.hashKey ?? { kind: 'source-ip' }) : undefined,
        servers: pool.servers,
        healthCheck: pool.healthCheck,
        outlierDetection: pool.outlierDetection,
        retries: pool.retries,
        stickySession: pool.stickySession,
        slowStart: pool.slowStart,
        maxConnections: pool.maxConnections,
        queue: pool.queue,
        timeouts: pool.timeouts,
        panicThreshold: pool.panicThreshold,
        discovery: pool.discovery,
      }),
    );
}

// ---------------------------------------------------------------- gslb

const recordSchema = z
  .strictObject({
    name: z
      .string()
      .refine((text) => text === '@' || (isHostname(text) && !text.endsWith('.')), {
        error: (issue) => `invalid record name ${describeValue(issue.input)}: expected a name relative to the zone, or @`,
      })
      .transform((text) => text.toLowerCase())
      .describe('Relative to the zone; @ is the apex.'),
    type: z.enum(['A', 'AAAA', 'CNAME']).default('A'),
    policy: z
      .enum(['failover', 'all-healthy', 'weighted'])
      .default('failover')
      .describe('failover: first healthy site in order; all-healthy; weighted.'),
    targets: z
      .array(
        z.strictObject({
          site: z.string().min(1).describe('Site whose health decides this answer.'),
          address: z.string().min(1).describe('IPv4 (A), IPv6 (AAAA) or a host name (CNAME).'),
          weight: integer(0, 'Share of answers under the weighted policy.').default(1),
        }),
      )
      .min(1),
  })
  .superRefine((record, ctx) => {
    record.targets.forEach((target, index) => {
      const ok =
        record.type === 'A'
          ? isIPv4(target.address)
          : record.type === 'AAAA'
            ? isIPv6(target.address)
            : isHostname(target.address);
      if (!ok) {
        const expected =
          record.type === 'A' ? 'an IPv4 address' : record.type === 'AAAA' ? 'an IPv6 address' : 'a host name';
        fail(ctx, `${record.type === 'CNAME' ? 'a' : 'an'} ${record.type} record needs ${expected}, got ${describeValue(target.address)}`, target.address, [
          'targets',
          index,
          'address',
        ]);
      }
    });
  })
  .transform(
    (record): DnsRecordConfig => ({
      name: record.name,
      type: record.type,
      policy: record.policy,
      targets: record.targets,
    }),
  );

const dnsSchema = z.strictObject({
  listen: address('listen', 'Authoritative DNS server (UDP and TCP).'),
  zone: domain.describe('Zone the records belong to.'),
  ttl: duration('TTL of the answers, whole seconds.', 'allow-zero')
    .refine((ms) => ms % 1000 === 0, { error: 'DNS TTLs are whole seconds' })
    .prefault('30s'),
  records: z.array(recordSchema).default([]),
  dynamicUpdate: z
    .strictObject({
      server: address('connect', 'DNS server that accepts RFC 2136 updates.'),
      zone: domain,
      tsig: z.strictObject({
        name: domain.describe('TSIG key name.'),
        algorithm: z.literal('hmac-sha256').default('hmac-sha256'),
        secret: z.string().min(1).describe('TSIG key, base64 as in BIND key files.'),
      }),
    })
    .optional()
    .describe('Also push the answers to an external DNS server.'),
  rateLimit: z
    .strictObject({
      perSecond: z.number().int().positive().describe('Sustained UDP queries per second from one client address.'),
      burst: z.number().int().positive().describe('Queries allowed in a burst above that rate.'),
    })
    .optional()
    .describe('Response rate limiting per client address (UDP); off by default, as public resolvers share addresses.'),
});

const gslbSchema = z
  .strictObject({
    site: name('site').describe("This instance's site."),
    witness: z.boolean().default(false).describe('A witness votes on site state but serves no traffic.'),
    heartbeat: z.strictObject({
      listen: address('listen', 'Where heartbeats from peers arrive.'),
      interval: duration('Time between heartbeats.').prefault('1s'),
      phiThreshold: z.number().positive().default(8).describe('Phi-accrual suspicion level that marks a site down.'),
      secret: z.string().min(1).describe('Key authenticating heartbeats; the same at every site.'),
    }),
    peers: z
      .array(z.strictObject({ site: name('site'), address: address('connect', "The peer's heartbeat address.") }))
      .default([]),
    failbackDelay: duration('Time a recovered site must stay healthy before answers return to it.', 'allow-zero').prefault(
      '30s',
    ),
    failback: z.enum(['auto', 'manual']).default('auto').describe('manual: a recovered site waits for an operator.'),
    dns: dnsSchema.optional(),
  })
  .transform(
    (gslb): GslbConfig => ({
      site: gslb.site,
      witness: gslb.witness,
      heartbeat: gslb.heartbeat,
      peers: gslb.peers,
      failbackDelay: gslb.failbackDelay,
      failback: gslb.failback,
      dns:
        gslb.dns === undefined
          ? undefined
          : {
              listen: gslb.dns.listen,
              zone: gslb.dns.zone,
              ttl: gslb.dns.ttl,
              records: gslb.dns.records,
              dynamicUpdate: gslb.dns.dynamicUpdate,
              ...(gslb.dns.rateLimit === undefined ? {} : { rateLimit: gslb.dns.rateLimit }),
            },
    }),
  );

// ---------------------------------------------------------------- hooks

/** Request headers Ballast sets itself from the body and the connection. */
const RESERVED_WEBHOOK_HEADERS = new Set(['content-length', 'host', 'transfer-encoding', 'connection']);

function retryDelay() {
  return duration('Wait before the first retry; it doubles for each further retry (at most 60s, unless longer).').prefault('1s');
}

function execHookSchema(options: SchemaOptions) {
  return z
    .strictObject({
      command: z
        .string()
        .min(1)
        .describe('Program run without a shell: a path (relative to the config file) or a name looked up in PATH.'),
      args: z.array(matchValue).default([]).describe('Arguments, passed as they are.'),
      cwd: z.string().min(1).optional().describe("Working directory, relative to the config file (default: the config file's directory)."),
      timeout: duration('The program and its process group are killed after this.').prefault('30s'),
      retries: z.number().int().min(0).max(20).default(0).describe('Further attempts after a non-zero exit, a timeout or a failure to start.'),
      retryDelay: retryDelay(),
    })
    .transform(
      (exec): ExecHookAction => ({
        type: 'exec',
        command: exec.command.includes('/') ? resolve(options.baseDir, exec.command) : exec.command,
        args: exec.args,
        cwd: resolve(options.baseDir, exec.cwd ?? '.'),
        timeout: exec.timeout,
        retries: exec.retries,
        retryDelay: exec.retryDelay,
      }),
    );
}

const webhookSchema = z
  .strictObject({
    url: z
      .string()
      .refine(
        (text) => {
          try {
            const url = new URL(text);
            return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
          } catch {
            return false;
          }
        },
        { error: (issue) => `invalid webhook url ${describeValue(issue.input)}: expected an absolute http:// or https:// URL` },
      )
      .describe('URL the event is POSTed to; redirects are not followed.'),
    headers: z
      .record(token('header name'), matchValue)
      .superRefine((headers, ctx) => {
        for (const header of Object.keys(headers)) {
          if (RESERVED_WEBHOOK_HEADERS.has(header.toLowerCase())) {
            fail(ctx, `header ${header} is set by Ballast and cannot be configured`, header, [header]);
          }
        }
      })
      .transform((headers) => Object.fromEntries(Object.entries(headers).map(([header, value]) => [header.toLowerCase(), value])))
      .default({})
      .describe('Extra request headers, e.g. authorization.'),
    timeout: duration('Time for the whole exchange.').prefault('5s'),
    retries: z.number().int().min(0).max(20).default(3).describe('Further attempts after a network error, the timeout, 408, 429 or 5xx.'),
    retryDelay: retryDelay(),
  })
  .transform(
    (webhook): WebhookHookAction => ({
      type: 'webhook',
      url: webhook.url,
      headers: webhook.headers,
      timeout: webhook.timeout,
      retries: webhook.retries,
      retryDelay: webhook.retryDelay,
    }),
  );

function hookSchema(options: SchemaOptions) {
  return z
    .strictObject({
      name: name('hook'),
      on: z
        .array(
          z.enum(BALLAST_EVENT_TYPES, {
            error: (issue) =>
              `unknown event type ${describeValue(issue.input)}: expected one of ${BALLAST_EVENT_TYPES.join(', ')}`,
          }),
        )
        .min(1)
        .transform((types) => [...new Set(types)])
        .optional()
        .describe('Event types delivered (default: every event).'),
      pools: z.array(z.string().min(1)).min(1).optional().describe('Deliver only events of these pools.'),
      sites: z.array(z.string().min(1)).min(1).optional().describe('Deliver only events of these sites.'),
      queueSize: integer(1, 'Events that may wait; when full the oldest waiting event is dropped.').default(1000),
      exec: execHookSchema(options).optional().describe('Run a program with the event on stdin and in BALLAST_* variables.'),
      webhook: webhookSchema.optional().describe('POST the event as JSON to a URL.'),
    })
    .superRefine((hook, ctx) => {
      if (hook.exec !== undefined && hook.webhook !== undefined) {
        fail(ctx, 'a hook has exactly one of exec or webhook, not both', hook.webhook, ['webhook']);
      } else if (hook.exec === undefined && hook.webhook === undefined) {
        fail(ctx, `hook "${hook.name}" needs exec or webhook`, hook);
      }
    })
    .transform(
      (hook): HookConfig => ({
        name: hook.name,
        on: hook.on,
        pools: hook.pools,
        sites: hook.sites,
        queueSize: hook.queueSize,
        // superRefine guarantees exactly one is present.
        action: (hook.exec ?? hook.webhook) as HookAction,
      }),
    );
}

// ---------------------------------------------------------------- root

/** Top-level keys that are ignored, e.g. `x-defaults: &defaults`: a home for YAML anchors. */
const EXTENSION_KEY = /^x-/;

/** `raw` without its top-level extension keys (a copy; `raw` is not modified). */
export function withoutExtensionKeys(raw: unknown): unknown {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return raw;
  return Object.fromEntries(Object.entries(raw).filter(([key]) => !EXTENSION_KEY.test(key)));
}

/** Builds the schema; file paths resolve against `options.baseDir`. */
export function createConfigSchema(options: SchemaOptions): z.ZodType<BallastConfig> {
  return z
    .strictObject({
      admin: adminSchema.optional().describe('REST API, dashboard and Prometheus metrics.'),
      listeners: z.array(listenerSchema(options)).default([]),
      pools: z.array(poolSchema(options)).default([]),
      gslb: gslbSchema.optional().describe('Cross-site failover: heartbeats and DNS answers.'),
      hooks: z.array(hookSchema(options)).default([]).describe('Programs and webhooks told about events.'),
      log: logSchema,
      drainTimeout: duration('How long SIGTERM waits for in-flight requests.', 'allow-zero').prefault('30s'),
      workers: z
        .union([z.literal('auto'), z.number().int().min(1).max(256)])
        .default(1)
        .describe('Proxy processes: a number, or auto for one per CPU core. Health checks, GSLB and the ledger run once.'),
      dataDir: z
        .string()
        .min(1)
        .default('.ballast-data')
        .describe('Durable state (availability history), relative to the working directory.'),
    })
    .transform(
      (config): BallastConfig => ({
        source: options.source,
        admin: config.admin,
        listeners: config.listeners,
        pools: config.pools,
        gslb: config.gslb,
        hooks: config.hooks,
        log: config.log,
        drainTimeout: config.drainTimeout,
        workers: config.workers,
        dataDir: config.dataDir,
      }),
    )
    .meta({
      title: 'Ballast configuration',
      patternProperties: { [EXTENSION_KEY.source]: { description: 'Ignored: a place for YAML anchors.' } },
    });
}
