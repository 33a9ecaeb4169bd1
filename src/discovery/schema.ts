/**
 * The YAML schema of discovery: a pool's `discovery` list (whose output is
 * the normalized `DiscoveryConfig` of `types.ts`) and the server list of a
 * watched file. Strict objects, messages written for people editing YAML,
 * the same duration and address syntax as the rest of the config.
 */
import { isAbsolute, resolve } from 'node:path';
import { isIP } from 'node:net';
import { z } from 'zod';
import type { ServerConfig } from '../config/types.js';
import { describeValue } from '../config/issues.js';
import { DURATION_PATTERN, parseAddress, parseDuration } from '../config/units.js';
import type { HostPort } from '../core/server.js';
import { serverNameFor } from './diff.js';
import { ADDRESS_FAMILIES, type DiscoveryConfig, type DnsDiscoveryConfig, type FileDiscoveryConfig } from './types.js';

/** Port of a resolver written without one. */
export const DNS_PORT = 53;

export interface DiscoverySchemaOptions {
  /** Directory that relative file paths are resolved against (the config file's). */
  readonly baseDir: string;
}

type Ctx = Pick<z.core.$RefinementCtx, 'addIssue'>;

function fail(ctx: Ctx, message: string, input: unknown, path?: (string | number)[]): void {
  ctx.addIssue({ code: 'custom', message, input, ...(path === undefined ? {} : { path }) });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function duration(description: string) {
  return z
    .string({ error: (issue) => `expected a duration such as "2s", got ${describeValue(issue.input)}` })
    .meta({ pattern: DURATION_PATTERN })
    .transform((text, ctx) => {
      let ms: number;
      try {
        ms = parseDuration(text);
      } catch (error) {
        fail(ctx, messageOf(error), text);
        return z.NEVER;
      }
      if (ms === 0) {
        fail(ctx, 'must be longer than 0', text);
        return z.NEVER;
      }
      return ms;
    })
    .describe(`${description} Duration: a number with a unit (ms, s, m, h, d), e.g. "2s".`);
}

const DNS_LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;

/** A host name whose labels may start with `_` (SRV owner names such as `_api._tcp.example.com`). */
export function isDnsName(text: string): boolean {
  const trimmed = text.endsWith('.') ? text.slice(0, -1) : text;
  if (trimmed.length === 0 || trimmed.length > 253 || /^[0-9.]+$/.test(trimmed)) return false;
  return trimmed.split('.').every((label) => DNS_LABEL.test(label));
}

const dnsName = z
  .string()
  .refine(isDnsName, {
    error: (issue) => `invalid DNS name ${describeValue(issue.input)}: expected a name such as _api._tcp.example.com`,
  })
  .transform((text) => text.toLowerCase().replace(/\.$/, ''))
  .describe('Absolute DNS name to resolve (search domains are not applied).');

/**
 * A resolver address: an IP address with an optional port (`10.0.0.2`,
 * `127.0.0.1:8053`, `::1`, `[::1]:8053`); the port defaults to 53.
 */
export function parseResolver(text: string): HostPort {
  const bad = (why: string): Error => new Error(`invalid resolver ${JSON.stringify(text)}: ${why}`);
  if (isIP(text) !== 0) return { host: text, port: DNS_PORT };
  let parsed: HostPort;
  try {
    parsed = parseAddress(text);
  } catch {
    if (isDnsName(text)) throw bad('a resolver must be an IP address, not a host name');
    throw bad('expected an IP address with an optional port, e.g. 10.0.0.2, 127.0.0.1:8053 or [::1]:8053');
  }
  if (isIP(parsed.host) === 0) throw bad('a resolver must be an IP address, not a host name');
  if (parsed.port === 0) throw bad('the port must be from 1 to 65535');
  return parsed;
}

/** One resolver address or a list of them, as a list; each bad entry is reported at its place. */
const resolverList = z
  .union([z.string(), z.array(z.string()).min(1)], {
    error: (issue) => `expected a resolver address or a list of them, got ${describeValue(issue.input)}`,
  })
  .transform((value, ctx): HostPort[] => {
    const entries = Array.isArray(value) ? value : [value];
    const resolvers: HostPort[] = [];
    entries.forEach((text, index) => {
      try {
        resolvers.push(parseResolver(text));
      } catch (error) {
        fail(ctx, messageOf(error), text, Array.isArray(value) ? [index] : undefined);
      }
    });
    return resolvers;
  });

const dnsCommon = {
  type: z.literal('dns'),
  name: dnsName,
  resolver: resolverList
    .optional()
    .describe('DNS server(s) asked, in order: IP[:port], port 53 by default. Default: the system resolvers.'),
  interval: duration('Longest time between two resolutions; a shorter TTL re-resolves sooner.').prefault('5s'),
  minInterval: duration('Shortest time between two resolutions, whatever the TTL.').prefault('1s'),
  timeout: duration('Time a query waits for one resolver.').prefault('2s'),
  backup: z.boolean().default(false).describe('Every server found is a backup.'),
};

/** Keys that belong to the other record types, accepted only to explain where they belong. */
const misplaced = (message: string) =>
  z
    .unknown()
    .optional()
    .superRefine((value, ctx) => {
      if (value !== undefined) fail(ctx, message, value);
    });

const srvSchema = z.strictObject({
  ...dnsCommon,
  recordType: z.literal('SRV'),
  family: z.enum(ADDRESS_FAMILIES).default('ipv4').describe('Target addresses used: ipv4 (A), ipv6 (AAAA) or both.'),
  port: misplaced('SRV records carry their own port: remove "port" (it applies to A and AAAA)'),
  weight: misplaced('SRV records carry their own weight: remove "weight" (it applies to A and AAAA)'),
});

const addressRecordSchema = z.strictObject({
  ...dnsCommon,
  recordType: z.enum(['A', 'AAAA']),
  port: z.number().int().min(1).max(65535).describe('Port of every server found.'),
  weight: z.number().int().min(0).default(1).describe('Weight of every server found.'),
  family: misplaced('"family" applies to SRV records only: A means IPv4, AAAA means IPv6'),
});

const dnsSchema = z
  .discriminatedUnion('recordType', [srvSchema, addressRecordSchema])
  .superRefine((source, ctx) => {
    if (source.minInterval > source.interval) {
      fail(ctx, 'minInterval must not be longer than interval', source.minInterval, ['minInterval']);
    }
  })
  .transform((source): DnsDiscoveryConfig => {
    const common = {
      type: 'dns' as const,
      name: source.name,
      resolvers: source.resolver ?? [],
      interval: source.interval,
      minInterval: source.minInterval,
      timeout: source.timeout,
      backup: source.backup,
    };
    return source.recordType === 'SRV'
      ? { ...common, recordType: 'SRV', family: source.family }
      : { ...common, recordType: source.recordType, port: source.port, weight: source.weight };
  });

function fileSchema(options: DiscoverySchemaOptions) {
  return z
    .strictObject({
      type: z.literal('file'),
      path: z.string().min(1).describe('YAML or JSON list of servers, relative to the config file.'),
      interval: duration('How often the file is checked besides change notifications.').prefault('5s'),
    })
    .transform(
      (source): FileDiscoveryConfig => ({
        type: 'file',
        path: isAbsolute(source.path) ? source.path : resolve(options.baseDir, source.path),
        interval: source.interval,
      }),
    );
}

/** One entry of a pool's `discovery` list. */
export function discoverySchema(options: DiscoverySchemaOptions): z.ZodType<DiscoveryConfig> {
  return z.discriminatedUnion('type', [dnsSchema, fileSchema(options)]);
}

/** A pool's `discovery` list. */
export function discoveryListSchema(options: DiscoverySchemaOptions) {
  return z
    .array(discoverySchema(options))
    .describe('Sources of further servers: DNS (SRV, A, AAAA) re-resolved by TTL, or a watched file.');
}

const SERVER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** One server in a watched file; the name defaults to one derived from the address. */
export const fileServerSchema = z
  .strictObject({
    name: z
      .string()
      .regex(SERVER_NAME, {
        error: (issue) =>
          `invalid server name ${describeValue(issue.input)}: use letters, digits, ".", "_" and "-", starting with a letter or digit`,
      })
      .optional(),
    address: z.string().transform((text, ctx): HostPort => {
      try {
        const address = parseAddress(text);
        if (address.port !== 0) return address;
        fail(ctx, `invalid address ${JSON.stringify(text)}: the port must be from 1 to 65535`, text);
      } catch (error) {
        fail(ctx, messageOf(error), text);
      }
      return z.NEVER;
    }),
    weight: z.number().int().min(0).default(1),
    backup: z.boolean().default(false),
  })
  .transform(
    (entry): ServerConfig => ({
      name: entry.name ?? serverNameFor(entry.address),
      address: entry.address,
      weight: entry.weight,
      backup: entry.backup,
    }),
  );

/** The content of a watched file: a list of servers (possibly empty). */
export const fileServersSchema = z.array(fileServerSchema, {
  error: (issue) => `expected a list of servers, got ${describeValue(issue.input)}`,
});

