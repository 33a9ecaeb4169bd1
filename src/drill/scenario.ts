/**
 * Drill scenarios: a YAML file and/or command-line flags in, one validated,
 * frozen {@link Scenario} out. Flags are turned into the same shape as the
 * file (see `ScenarioOverrides`), merged over it, and validated once, so a
 * problem is reported as `FILE:LINE:COL: message` when it comes from the file
 * and as `--flag: message` when it comes from a flag. `${env:NAME}` works in
 * every string, as in Ballast's config.
 */
import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { substituteEnvInDocument } from '../config/env.js';
import { deepFreeze } from '../config/freeze.js';
import { describeValue, formatPath, fromZodIssues, zodMessage } from '../config/issues.js';
import type { ConfigPath, PathIssue } from '../config/issues.js';
import { offsetOfPath } from '../config/positions.js';
import { attempt, fail } from '../config/refine.js';
import { durationSchema } from '../config/schema.js';
import type { StatusRange } from '../config/types.js';
import { parseAddress, parseStatusRange } from '../config/units.js';
import { BallastError, ConfigError, ErrorCodes } from '../core/errors.js';
import type { ConfigIssue } from '../core/errors.js';
import type { HostPort } from '../core/server.js';

/** Largest drill duration: drills are bounded in time. */
export const MAX_DURATION_MS = 3_600_000;
export const MAX_RATE = 100_000;
export const MAX_CONCURRENCY = 10_000;
/** Largest number of requests one drill may send. */
export const MAX_REQUESTS = 50_000_000;

export type Millis = number;

export interface DrillTarget {
  /** Where the load goes: a listener URL. With `dnsServers`, its host is resolved through them. */
  readonly url: string;
  /** Non-empty for a site drill: the DNS servers that answer for the URL's host. */
  readonly dnsServers: readonly HostPort[];
  readonly dnsType: 'A' | 'AAAA';
  /** How often every DNS server is asked during a site drill. */
  readonly dnsInterval: Millis;
}

export interface AdminTarget {
  /** Base URL of Ballast's admin listener, e.g. `http://127.0.0.1:9901`. */
  readonly url: string;
  readonly token: string | undefined;
}

export interface LoadSpec {
  /** `rate`: open loop, requests scheduled at a fixed rate; `concurrency`: closed loop, N clients. */
  readonly mode: 'rate' | 'concurrency';
  /** Requests per second (rate mode). */
  readonly rate: number;
  /** Clients (concurrency mode). */
  readonly concurrency: number;
  readonly durationMs: Millis;
  /** Load sent before time 0 and not recorded, so connections are open when measuring starts. */
  readonly warmupMs: Millis;
  /** Hard limit on requests sent. */
  readonly maxRequests: number;
  readonly method: string;
  /** Path and query of every request. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | undefined;
  /** A request without a complete response this long after its scheduled time fails as `timeout`. */
  readonly timeoutMs: Millis;
  /** A request taking longer than this counts as slow. */
  readonly slowMs: Millis;
  /** Statuses that count as success; every other status is a failed request. */
  readonly expectStatus: readonly StatusRange[];
  /** Upper bound of connections the generator opens to one address. */
  readonly connections: number;
}

export interface ProcessSpec {
  readonly name: string;
  /** Program and arguments; no shell is involved (write `[sh, -c, "..."]` for one). */
  readonly command: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string | undefined;
  /** How to know the process is ready: a regular expression its output matches, and/or a TCP address that accepts. */
  readonly ready: { readonly output: string | undefined; readonly tcp: HostPort | undefined; readonly timeoutMs: Millis };
}

/** Which Ballast server, pool or site a fault is expected to affect; narrows the events that count as its detection. */
export interface Affects {
  readonly pool: string | undefined;
  readonly server: string | undefined;
  readonly site: string | undefined;
}

export const SIGNALS = ['SIGKILL', 'SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGHUP', 'SIGUSR1', 'SIGUSR2'] as const;
export type DrillSignal = (typeof SIGNALS)[number];
export const ADMIN_CALLS = ['drain', 'disable', 'enable', 'weight'] as const;
export type AdminCall = (typeof ADMIN_CALLS)[number];

interface FaultCommon {
  /** A label for reports; defaults to a description of the action. */
  readonly name: string;
  /** When the fault is injected, from the start of the load. */
  readonly at: Millis;
  readonly affects: Affects;
}

export interface CommandStep {
  readonly command: readonly string[];
  readonly timeoutMs: Millis;
}

export type FaultSpec =
  | (FaultCommon & { readonly action: 'kill'; readonly process: string; readonly signal: DrillSignal; readonly restore: { readonly at: Millis } | undefined })
  | (FaultCommon & { readonly action: 'stop'; readonly process: string; readonly restore: { readonly at: Millis } | undefined })
  | (FaultCommon & { readonly action: 'start'; readonly process: string; readonly restore: { readonly at: Millis } | undefined })
  | (FaultCommon & {
      readonly action: 'exec';
      readonly command: readonly string[];
      readonly timeoutMs: Millis;
      readonly restore: ({ readonly at: Millis } & CommandStep) | undefined;
    })
  | (FaultCommon & {
      readonly action: 'admin';
      readonly call: AdminCall;
      readonly pool: string;
      readonly server: string;
      readonly weight: number | undefined;
      readonly restore: { readonly at: Millis; readonly call: AdminCall; readonly weight: number | undefined } | undefined;
    })
  | (FaultCommon & {
      readonly action: 'site';
      readonly site: string;
      /** The launched process that is the site's Ballast (killed with SIGKILL, started again on restore)… */
      readonly process: string | undefined;
      /** …or a command that kills it (and `restore.command` that starts it). */
      readonly command: readonly string[] | undefined;
      readonly timeoutMs: Millis;
      readonly restore: { readonly at: Millis; readonly command: readonly string[] | undefined } | undefined;
    });

export type FaultAction = FaultSpec['action'];

export interface Thresholds {
  /** Most failed requests allowed: a count, or a percentage of requests sent. */
  readonly maxFailed: { readonly count: number } | { readonly percent: number } | undefined;
  readonly maxRecoveryMs: Millis | undefined;
  readonly maxDetectionMs: Millis | undefined;
  readonly maxP99Ms: Millis | undefined;
  readonly maxDnsSwitchMs: Millis | undefined;
}

export interface Scenario {
  readonly name: string;
  readonly target: DrillTarget;
  readonly admin: AdminTarget | undefined;
  readonly load: LoadSpec;
  /** Programs the drill starts before the load (in order) and stops at the end. */
  readonly processes: readonly ProcessSpec[];
  /** Sorted by `at`. */
  readonly faults: readonly FaultSpec[];
  readonly thresholds: Thresholds;
}

// ---------------------------------------------------------------- schema helpers

const duration = durationSchema;

const address = z.string().transform((text, ctx): HostPort => {
  const parsed = attempt(parseAddress, text, ctx);
  if (parsed === undefined) return z.NEVER;
  if (parsed.port === 0) {
    fail(ctx, `invalid address ${JSON.stringify(text)}: the port must be from 1 to 65535`, text);
    return z.NEVER;
  }
  return parsed;
});

const httpUrl = z.string().refine(
  (text) => {
    try {
      const url = new URL(text);
      return (url.protocol === 'http:' || url.protocol === 'https:') && url.username === '' && url.password === '';
    } catch {
      return false;
    }
  },
  { error: (issue) => `invalid URL ${describeValue(issue.input)}: expected http://host:port/path or https://…` },
);

const NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]*$/;
const name = z.string().regex(NAME, {
  error: (issue) => `invalid name ${describeValue(issue.input)}: use letters, digits, ".", "_", "@" and "-"`,
});

const command = z.array(z.string().min(1)).min(1);

const scalarText = z.union([z.string(), z.number(), z.boolean()]).transform((value) => String(value));

const statusList = z
  .union([z.union([z.string(), z.number()]), z.array(z.union([z.string(), z.number()])).min(1)])
  .transform((value, ctx) => {
    const items = Array.isArray(value) ? value : [value];
    const ranges: StatusRange[] = [];
    for (const item of items) {
      const range = attempt(parseStatusRange, item, ctx);
      if (range === undefined) return z.NEVER;
      ranges.push(range);
    }
    return ranges;
  });

const METHOD = /^[A-Z]+$/;

// ---------------------------------------------------------------- schema

const affectsSchema = z
  .strictObject({ pool: name.optional(), server: name.optional(), site: name.optional() })
  .prefault({})
  .transform((a): Affects => ({ pool: a.pool, server: a.server, site: a.site }));

const faultCommon = {
  name: z.string().min(1).max(200).optional(),
  at: duration('allow-zero'),
  affects: affectsSchema,
};

const restoreAt = z.strictObject({ at: duration('allow-zero') });

const faultSchema = z.discriminatedUnion('action', [
  z.strictObject({ ...faultCommon, action: z.literal('kill'), process: name, signal: z.enum(SIGNALS).default('SIGKILL'), restore: restoreAt.optional() }),
  z.strictObject({ ...faultCommon, action: z.literal('stop'), process: name, restore: restoreAt.optional() }),
  z.strictObject({ ...faultCommon, action: z.literal('start'), process: name, restore: restoreAt.optional() }),
  z.strictObject({
    ...faultCommon,
    action: z.literal('exec'),
    command,
    timeout: duration().default(30_000),
    restore: z.strictObject({ at: duration('allow-zero'), command, timeout: duration().default(30_000) }).optional(),
  }),
  z.strictObject({
    ...faultCommon,
    action: z.literal('admin'),
    call: z.enum(ADMIN_CALLS),
    pool: name,
    server: name,
    weight: z.number().int().min(0).max(1000).optional(),
    restore: z
      .strictObject({ at: duration('allow-zero'), call: z.enum(ADMIN_CALLS).optional(), weight: z.number().int().min(0).max(1000).optional() })
      .optional(),
  }),
  z.strictObject({
    ...faultCommon,
    action: z.literal('site'),
    site: name,
    process: name.optional(),
    command: command.optional(),
    timeout: duration().default(30_000),
    restore: z.strictObject({ at: duration('allow-zero'), command: command.optional() }).optional(),
  }),
]);

type RawFault = z.output<typeof faultSchema>;

const processSchema = z.strictObject({
  name,
  command,
  env: z.record(z.string(), scalarText).default({}),
  cwd: z.string().min(1).optional(),
  ready: z
    .strictObject({ output: z.string().min(1).optional(), tcp: address.optional(), timeout: duration().default(10_000) })
    .prefault({}),
});

const maxFailed = z.union([z.number().int().min(0), z.string()]).transform((value, ctx) => {
  if (typeof value === 'number') return { count: value };
  const match = /^([0-9]+(?:\.[0-9]+)?)%$/.exec(value) ?? /^([0-9]+)$/.exec(value);
  if (match === null || Number(match[1]) > (value.endsWith('%') ? 100 : Number.MAX_SAFE_INTEGER)) {
    fail(ctx, `invalid maxFailed ${JSON.stringify(value)}: write a count such as 0 or a percentage such as "0.1%"`, value);
    return z.NEVER;
  }
  return value.endsWith('%') ? { percent: Number(match[1]) } : { count: Number(match[1]) };
});

const scenarioSchema = z.strictObject({
  name: z.string().min(1).max(200).default('drill'),
  target: z.strictObject({
    url: httpUrl,
    dnsServers: z.array(address).default([]),
    dnsType: z.enum(['A', 'AAAA']).default('A'),
    dnsInterval: duration().default(100),
  }),
  admin: z.strictObject({ url: httpUrl, token: z.string().min(1).optional() }).optional(),
  load: z
    .strictObject({
      rate: z.number().positive().max(MAX_RATE).optional(),
      concurrency: z.number().int().min(1).max(MAX_CONCURRENCY).optional(),
      duration: duration().default(10_000),
      warmup: duration('allow-zero').default(0),
      maxRequests: z.number().int().min(1).max(MAX_REQUESTS).optional(),
      method: z.string().regex(METHOD, { error: 'a method is upper-case letters, e.g. GET' }).default('GET'),
      path: z.string().startsWith('/', { error: 'a path starts with "/"' }).optional(),
      headers: z.record(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/), scalarText).default({}),
      body: z.string().optional(),
      timeout: duration().default(2_000),
      slow: duration().default(1_000),
      expectStatus: statusList.prefault('200-399'),
      connections: z.number().int().min(1).max(MAX_CONCURRENCY).optional(),
    })
    .prefault({}),
  processes: z.array(processSchema).default([]),
  faults: z.array(faultSchema).default([]),
  thresholds: z
    .strictObject({
      maxFailed: maxFailed.optional(),
      maxRecovery: duration('allow-zero').optional(),
      maxDetection: duration('allow-zero').optional(),
      maxP99: duration().optional(),
      maxDnsSwitch: duration('allow-zero').optional(),
    })
    .prefault({}),
});

type RawScenario = z.output<typeof scenarioSchema>;

// ---------------------------------------------------------------- normalization

function describeFault(fault: RawFault): string {
  switch (fault.action) {
    case 'kill':
      return `${fault.signal === 'SIGKILL' ? 'kill' : fault.signal} ${fault.process}`;
    case 'stop':
      return `stop (SIGSTOP) ${fault.process}`;
    case 'start':
      return `start ${fault.process}`;
    case 'exec':
      return fault.command.join(' ');
    case 'admin':
      return `${fault.call} ${fault.pool}/${fault.server}`;
    case 'site':
      return `site ${fault.site} down`;
    default: {
      const unreachable: never = fault;
      throw new Error(`unknown fault ${JSON.stringify(unreachable)}`);
    }
  }
}

function normalizeFault(fault: RawFault): FaultSpec {
  const common = { name: fault.name ?? describeFault(fault), at: fault.at };
  switch (fault.action) {
    case 'kill':
      return { ...common, affects: fault.affects, action: 'kill', process: fault.process, signal: fault.signal, restore: fault.restore };
    case 'stop':
      return { ...common, affects: fault.affects, action: 'stop', process: fault.process, restore: fault.restore };
    case 'start':
      return { ...common, affects: fault.affects, action: 'start', process: fault.process, restore: fault.restore };
    case 'exec':
      return {
        ...common,
        affects: fault.affects,
        action: 'exec',
        command: fault.command,
        timeoutMs: fault.timeout,
        restore: fault.restore === undefined ? undefined : { at: fault.restore.at, command: fault.restore.command, timeoutMs: fault.restore.timeout },
      };
    case 'admin': {
      const affects = { ...fault.affects, pool: fault.affects.pool ?? fault.pool, server: fault.affects.server ?? fault.server };
      const restore =
        fault.restore === undefined
          ? undefined
          : { at: fault.restore.at, call: fault.restore.call ?? (fault.call === 'enable' ? 'disable' : 'enable'), weight: fault.restore.weight };
      return { ...common, affects, action: 'admin', call: fault.call, pool: fault.pool, server: fault.server, weight: fault.weight, restore };
    }
    case 'site':
      return {
        ...common,
        affects: { ...fault.affects, site: fault.affects.site ?? fault.site },
        action: 'site',
        site: fault.site,
        process: fault.process,
        command: fault.command,
        timeoutMs: fault.timeout,
        restore: fault.restore === undefined ? undefined : { at: fault.restore.at, command: fault.restore.command },
      };
    default: {
      const unreachable: never = fault;
      throw new Error(`unknown fault ${JSON.stringify(unreachable)}`);
    }
  }
}

/** Cross-field checks on schema-valid data; every problem is returned with its path. */
function checkScenario(raw: RawScenario): PathIssue[] {
  const issues: PathIssue[] = [];
  const issue = (path: ConfigPath, message: string, at: PathIssue['at'] = 'value'): void => {
    issues.push({ path, at, message });
  };
  if (raw.load.rate !== undefined && raw.load.concurrency !== undefined) {
    issue(['load', 'concurrency'], 'give either rate (open loop) or concurrency (closed loop), not both');
  }
  const names = new Map<string, number>();
  raw.processes.forEach((process, index) => {
    const first = names.get(process.name);
    if (first !== undefined) issues.push({ path: ['processes', index, 'name'], at: 'value', message: `duplicate process name "${process.name}"`, related: ['processes', first, 'name'] });
    else names.set(process.name, index);
    if (process.ready.output !== undefined) {
      try {
        new RegExp(process.ready.output);
      } catch (error) {
        issue(['processes', index, 'ready', 'output'], `invalid regular expression: ${(error as Error).message}`);
      }
    }
  });
  const duration = raw.load.duration;
  raw.faults.forEach((fault, index) => {
    const path = ['faults', index];
    if (fault.at >= duration) issue([...path, 'at'], `the fault comes after the load ends (duration ${duration} ms)`);
    if (fault.restore !== undefined && fault.restore.at <= fault.at) issue([...path, 'restore', 'at'], 'the restore must come after the fault');
    if (fault.restore !== undefined && fault.restore.at > duration) issue([...path, 'restore', 'at'], `the restore comes after the load ends (duration ${duration} ms)`);
    if ((fault.action === 'kill' || fault.action === 'stop' || fault.action === 'start') && !names.has(fault.process)) {
      issue([...path, 'process'], `no process named "${fault.process}" in processes`);
    }
    if (fault.action === 'admin') {
      if (raw.admin === undefined) issue([...path, 'action'], 'admin faults need admin.url (or --admin URL)');
      if (fault.call === 'weight' && fault.weight === undefined) issue([...path, 'weight'], 'call "weight" needs weight', 'missing');
      const restoreCall = fault.restore?.call ?? (fault.call === 'enable' ? 'disable' : 'enable');
      if (fault.restore !== undefined && restoreCall === 'weight' && fault.restore.weight === undefined) {
        issue([...path, 'restore', 'weight'], 'a weight restore needs weight', 'missing');
      }
    }
    if (fault.action === 'site') {
      if ((fault.process === undefined) === (fault.command === undefined)) issue([...path, 'action'], 'a site fault needs either process (a launched site to kill) or command');
      if (fault.process !== undefined && !names.has(fault.process)) issue([...path, 'process'], `no process named "${fault.process}" in processes`);
      if (fault.command !== undefined && fault.restore !== undefined && fault.restore.command === undefined) {
        issue([...path, 'restore', 'command'], 'a site fault given as a command needs restore.command', 'missing');
      }
    }
  });
  return issues;
}

function normalize(raw: RawScenario): Scenario {
  const url = new URL(raw.target.url);
  const mode = raw.load.concurrency !== undefined ? 'concurrency' : 'rate';
  const rate = raw.load.rate ?? 100;
  const concurrency = raw.load.concurrency ?? 1;
  const planned = mode === 'rate' ? Math.ceil((rate * raw.load.duration) / 1000) : MAX_REQUESTS;
  // Open loop: enough connections for the rate at 50 ms per request, at least 16; requests beyond them queue (and that shows as latency).
  const connections = raw.load.connections ?? (mode === 'rate' ? Math.min(1024, Math.max(16, Math.ceil(rate / 20))) : concurrency);
  const faults = raw.faults.map(normalizeFault).sort((a, b) => a.at - b.at);
  const thresholds = raw.thresholds;
  return {
    name: raw.name,
    target: { url: url.href, dnsServers: raw.target.dnsServers, dnsType: raw.target.dnsType, dnsInterval: raw.target.dnsInterval },
    admin: raw.admin === undefined ? undefined : { url: raw.admin.url.replace(/\/+$/, ''), token: raw.admin.token },
    load: {
      mode,
      rate,
      concurrency,
      durationMs: raw.load.duration,
      warmupMs: raw.load.warmup,
      maxRequests: Math.min(raw.load.maxRequests ?? planned, planned),
      method: raw.load.method,
      path: raw.load.path ?? `${url.pathname}${url.search}`,
      headers: raw.load.headers,
      body: raw.load.body,
      timeoutMs: raw.load.timeout,
      slowMs: raw.load.slow,
      expectStatus: raw.load.expectStatus,
      connections,
    },
    processes: raw.processes.map((process) => ({
      name: process.name,
      command: process.command,
      env: process.env,
      cwd: process.cwd,
      ready: { output: process.ready.output, tcp: process.ready.tcp, timeoutMs: process.ready.timeout },
    })),
    faults,
    thresholds: {
      maxFailed: thresholds.maxFailed,
      maxRecoveryMs: thresholds.maxRecovery,
      maxDetectionMs: thresholds.maxDetection,
      maxP99Ms: thresholds.maxP99,
      maxDnsSwitchMs: thresholds.maxDnsSwitch,
    },
  };
}

function validateRaw(raw: unknown): { scenario: Scenario | undefined; issues: PathIssue[] } {
  const result = scenarioSchema.safeParse(raw, { error: zodMessage, reportInput: true });
  if (!result.success) return { scenario: undefined, issues: fromZodIssues(result.error.issues) };
  const issues = checkScenario(result.data);
  if (issues.length > 0) return { scenario: undefined, issues };
  return { scenario: deepFreeze(normalize(result.data)), issues: [] };
}

// ---------------------------------------------------------------- overrides (flags)

/**
 * Values from command-line flags, in the file's shape, each with the flag it
 * came from (for messages). `set` replaces the value at `path`; `append`
 * adds one item to the list at `path`.
 */
export interface Override {
  readonly flag: string;
  readonly path: ConfigPath;
  readonly value: unknown;
  readonly mode: 'set' | 'append';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Applies overrides to a copy of `raw` (plain data). */
function applyOverrides(raw: unknown, overrides: readonly Override[]): unknown {
  const root: Record<string, unknown> = isRecord(raw) ? structuredClone(raw) : {};
  for (const override of overrides) {
    let node: Record<string, unknown> = root;
    const parents = override.path.slice(0, -1);
    for (const segment of parents) {
      const key = String(segment);
      if (!isRecord(node[key])) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    const last = String(override.path[override.path.length - 1]);
    if (override.mode === 'append') {
      const list = Array.isArray(node[last]) ? (node[last] as unknown[]) : [];
      node[last] = [...list, override.value];
    } else {
      node[last] = override.value;
    }
  }
  return root;
}

/** Where a flag's value sits in the merged data: its path (with the index of an appended item) and its place among uses of the same flag. */
interface FlagPlace {
  readonly flag: string;
  readonly path: ConfigPath;
  /** 1-based use of a repeatable flag (`--fault` given three times: 1, 2, 3); 0 for single flags. */
  readonly ordinal: number;
}

/** The flag whose value holds `path`, if any (the last one wins, as in the merge). */
function flagFor(path: ConfigPath, overrides: readonly Override[], base: unknown): FlagPlace | undefined {
  const baseLength = (key: string): number => {
    const list = isRecord(base) ? base[key] : undefined;
    return Array.isArray(list) ? list.length : 0;
  };
  const appended = new Map<string, number>();
  let found: FlagPlace | undefined;
  for (const override of overrides) {
    let target = override.path;
    let ordinal = 0;
    if (override.mode === 'append') {
      const key = formatPath(override.path);
      ordinal = (appended.get(key) ?? 0) + 1;
      appended.set(key, ordinal);
      target = [...override.path, baseLength(String(override.path[0])) + ordinal - 1];
    }
    if (target.every((segment, i) => path[i] === segment)) found = { flag: override.flag, path: target, ordinal };
  }
  return found;
}

// ---------------------------------------------------------------- entry points

function flagIssue(place: FlagPlace, issue: PathIssue): ConfigIssue {
  const rest = issue.path.slice(place.path.length);
  // A missing key is named by the message itself.
  const shown = issue.at === 'missing' ? rest.slice(0, -1) : rest;
  const where = shown.length === 0 ? '' : ` (${formatPath(shown)})`;
  const file = place.ordinal > 1 ? `${place.flag} #${place.ordinal}` : place.flag;
  return { file, line: 0, column: 0, message: `${issue.message}${where}` };
}

/**
 * Validates scenario YAML text merged with flag overrides. Throws a
 * {@link ConfigError} listing every problem: file problems as
 * `FILE:LINE:COL: message`, flag problems with the flag as file and line 0.
 */
export function parseScenario(text: string, file: string, overrides: readonly Override[] = [], env: NodeJS.ProcessEnv = process.env): Scenario {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number, message: string): ConfigIssue => {
    const { line, col } = lineCounter.linePos(offset);
    return { file, line, column: col, message };
  };
  if (doc.errors.length > 0) throw new ConfigError(doc.errors.map((error) => at(error.pos[0], `invalid YAML: ${error.message}`)));
  const envProblems = substituteEnvInDocument(doc, text, env).map((problem) => at(problem.offset, problem.message));
  if (envProblems.length > 0) throw new ConfigError(envProblems);
  const base: unknown = doc.toJS() ?? {};
  if (!isRecord(base)) throw new ConfigError([at(0, 'a scenario is a mapping (target:, load:, faults: …)')]);
  return buildScenario(base, file, overrides, (issue) => {
    const position = at(offsetOfPath(doc, issue.path, issue.at), issue.message);
    if (issue.related === undefined) return position;
    return { ...position, message: `${issue.message} (first defined at line ${lineCounter.linePos(offsetOfPath(doc, issue.related, 'value')).line})` };
  });
}

/**
 * Validates a scenario given as plain data in the file's shape (a built-in
 * scenario, or none: flags only), merged with flag overrides. Problems name
 * the key path (`load.rate: …`) or the flag. Throws a {@link ConfigError}.
 */
export function buildScenario(
  base: Readonly<Record<string, unknown>>,
  source: string,
  overrides: readonly Override[] = [],
  place: (issue: PathIssue) => ConfigIssue = (issue) => ({ file: source, line: 0, column: 0, message: `${formatPath(issue.path)}: ${issue.message}` }),
): Scenario {
  const { scenario, issues } = validateRaw(applyOverrides(base, overrides));
  if (scenario !== undefined) return scenario;
  const placed = issues.map((issue) => {
    const flag = flagFor(issue.path, overrides, base);
    return flag === undefined ? place(issue) : flagIssue(flag, issue);
  });
  // File problems in reading order; flag problems (line 0) first, in flag order.
  throw new ConfigError(placed.map((issue, index) => ({ issue, index })).sort((a, b) => a.issue.line - b.issue.line || a.issue.column - b.issue.column || a.index - b.index).map((entry) => entry.issue));
}

/** Reads and validates a scenario file (plus overrides). Throws a CONFIG_READ BallastError or a ConfigError. */
export async function loadScenario(file: string | undefined, overrides: readonly Override[] = [], env: NodeJS.ProcessEnv = process.env): Promise<Scenario> {
  if (file === undefined) return buildScenario({}, 'flags', overrides);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new BallastError(ErrorCodes.CONFIG_READ, `cannot read scenario file ${file}: ${(error as Error).message}`, 500, { cause: error });
  }
  return parseScenario(text, file, overrides, env);
}

/**
 * Parses one YAML flow value given on the command line (e.g. `--fault
 * '{at: 2s, action: kill, process: app-2}'`). Throws a ConfigError naming the flag.
 */
export function parseFlagYaml(flag: string, text: string): unknown {
  const doc = parseDocument(text, { prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new ConfigError([{ file: flag, line: 0, column: 0, message: `invalid YAML: ${doc.errors[0]?.message ?? ''}` }]);
  }
  return doc.toJS();
}
