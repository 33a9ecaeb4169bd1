/**
 * Problems found while validating a config, addressed by their path in the
 * document (`['pools', 0, 'servers', 1, 'weight']`) before they are given a
 * file position. Also turns zod issues into these, with messages written for
 * people editing YAML rather than for programmers.
 */
import type { z } from 'zod';

export type ConfigPath = readonly (string | number)[];

export interface PathIssue {
  readonly path: ConfigPath;
  /**
   * What the path designates: the value at it, the key naming it (unknown
   * keys), or a key that is absent (the problem is shown at its parent).
   */
  readonly at: 'value' | 'key' | 'missing';
  readonly message: string;
  /** Another place the message refers to, e.g. the first of two duplicates. */
  readonly related?: ConfigPath;
}

/** `listeners[0].routes[1].match.headers["x-canary"]`; the root is `(root)`. */
export function formatPath(path: ConfigPath): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out === '' ? '(root)' : out;
}

/** A short description of a YAML value for messages: `"text"`, `42`, `a list`. */
export function describeValue(value: unknown): string {
  if (value === null) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
    case 'number':
    case 'boolean':
      return String(value);
    case 'object':
      return 'a mapping';
    default:
      return typeof value;
  }
}

const EXPECTED_NAMES: Readonly<Record<string, string>> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
  record: 'a mapping',
};

function listOf(values: readonly unknown[]): string {
  return values.map((value) => String(value)).join(', ');
}

/** The key a failed discriminated union switches on, if the issue comes from one. */
function discriminatorOf(issue: z.core.$ZodRawIssue | z.core.$ZodIssue): string | undefined {
  return issue.code === 'invalid_union' && 'discriminator' in issue && typeof issue.discriminator === 'string'
    ? issue.discriminator
    : undefined;
}

function discriminatorValue(input: unknown, discriminator: string): unknown {
  return input !== null && typeof input === 'object' && !Array.isArray(input)
    ? (input as Record<string, unknown>)[discriminator]
    : undefined;
}

/**
 * The per-parse zod error map: the message for every issue whose schema did
 * not set its own. Returning undefined falls back to zod's default.
 */
export function zodMessage(issue: z.core.$ZodRawIssue): string | undefined {
  const last = issue.path?.[issue.path.length - 1];
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined && typeof last === 'string') return `missing required key "${last}"`;
      return `expected ${EXPECTED_NAMES[issue.expected] ?? issue.expected}, got ${describeValue(issue.input)}`;
    case 'invalid_value':
      return `invalid value ${describeValue(issue.input)}: expected ${issue.values.length === 1 ? '' : 'one of '}${listOf(issue.values)}`;
    case 'too_small': {
      const minimum = Number(issue.minimum);
      if (issue.origin === 'array' || issue.origin === 'set') {
        return minimum === 1 ? 'must not be empty' : `needs at least ${minimum} entries`;
      }
      if (issue.origin === 'string') {
        return minimum === 1 ? 'must not be empty' : `must be at least ${minimum} characters long`;
      }
      return `must be ${issue.inclusive === false ? 'greater than' : 'at least'} ${minimum}, got ${describeValue(issue.input)}`;
    }
    case 'too_big': {
      const maximum = Number(issue.maximum);
      if (issue.origin === 'array' || issue.origin === 'set') return `allows at most ${maximum} entries`;
      if (issue.origin === 'string') return `must be at most ${maximum} characters long`;
      return `must be ${issue.inclusive === false ? 'less than' : 'at most'} ${maximum}, got ${describeValue(issue.input)}`;
    }
    case 'not_multiple_of':
      return `must be a multiple of ${String(issue.divisor)}`;
    case 'invalid_key':
      return issue.issues[0]?.message ?? `invalid key ${describeValue(last)}`;
    case 'invalid_union': {
      const discriminator = discriminatorOf(issue);
      if (discriminator === undefined) return `invalid value ${describeValue(issue.input)}`;
      const options = 'options' in issue && Array.isArray(issue.options) ? listOf(issue.options) : '';
      const given = discriminatorValue(issue.input, discriminator);
      if (given === undefined) return `missing required key "${discriminator}" (one of ${options})`;
      return `invalid ${discriminator} ${describeValue(given)}: expected one of ${options}`;
    }
    default:
      return undefined;
  }
}

/**
 * Converts finished zod issues (messages already set by {@link zodMessage}
 * or the schema) to path issues, one per unknown key.
 */
export function fromZodIssues(issues: readonly z.core.$ZodIssue[]): PathIssue[] {
  const out: PathIssue[] = [];
  for (const issue of issues) {
    const path = issue.path.filter((segment): segment is string | number => typeof segment !== 'symbol');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ path: [...path, key], at: 'key', message: `unknown key "${key}"` });
      continue;
    }
    const discriminator = discriminatorOf(issue);
    const missing =
      (issue.code === 'invalid_type' && issue.input === undefined) ||
      (discriminator !== undefined && discriminatorValue(issue.input, discriminator) === undefined);
    out.push({ path, at: missing ? 'missing' : issue.code === 'invalid_key' ? 'key' : 'value', message: issue.message });
  }
  return out;
}
