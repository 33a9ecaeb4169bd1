/**
 * The config module: YAML text or a plain object in, a validated, normalized
 * and deeply frozen {@link BallastConfig} out. Every problem found (YAML
 * syntax, unset `${env:NAME}`, schema, cross-references) is collected in one
 * pass and reported together as `FILE:LINE:COL: message` issues.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { BallastError, ConfigError, ErrorCodes } from '../core/errors.js';
import type { ConfigIssue } from '../core/errors.js';
import { substituteEnvInDocument, substituteEnvInValue } from './env.js';
import { deepFreeze } from './freeze.js';
import { formatPath, fromZodIssues, zodMessage } from './issues.js';
import type { ConfigPath, PathIssue } from './issues.js';
import { offsetOfPath } from './positions.js';
import { createConfigSchema, withoutExtensionKeys } from './schema.js';
import { checkSemantics } from './semantic.js';
import type { BallastConfig } from './types.js';

export * from './types.js';
export { parseAddress, parseDuration, parseSize } from './units.js';

/** Source name of configs that did not come from a file. */
export const INLINE_SOURCE = '<inline>';

/** Everything a validation found. `config` is set exactly when `errors` is empty. */
export interface ConfigCheckResult {
  readonly config: BallastConfig | undefined;
  readonly errors: readonly ConfigIssue[];
  /** Suspicious but valid settings (e.g. an unused pool); never stop a load. */
  readonly warnings: readonly ConfigIssue[];
}

interface Validation {
  readonly config: BallastConfig | undefined;
  readonly errors: readonly PathIssue[];
  readonly warnings: readonly PathIssue[];
}

/** Schema and semantic checks of already env-substituted raw data. */
function validate(document: unknown, source: string, baseDir: string): Validation {
  const raw = withoutExtensionKeys(document);
  const result = createConfigSchema({ source, baseDir }).safeParse(raw, { error: zodMessage, reportInput: true });
  const semantic = checkSemantics(raw);
  const errors = [...(result.success ? [] : fromZodIssues(result.error.issues)), ...semantic.errors];
  return {
    config: result.success && errors.length === 0 ? deepFreeze(result.data) : undefined,
    errors,
    warnings: semantic.warnings,
  };
}

function byPosition(a: ConfigIssue, b: ConfigIssue): number {
  return a.line - b.line || a.column - b.column;
}

/**
 * Sorted by position, each problem once: a mapping merged in several places
 * (`<<: *defaults`) yields the same problem at the same place each time.
 */
function ordered(issues: readonly ConfigIssue[]): ConfigIssue[] {
  const seen = new Set<string>();
  return [...issues].sort(byPosition).filter((issue) => {
    const key = `${issue.line}:${issue.column}:${issue.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * Validates YAML config text. Never throws for problems in the text; they
 * are returned. Relative TLS paths resolve against the directory of `file`.
 */
export function checkConfigText(text: string, file: string, env: NodeJS.ProcessEnv = process.env): ConfigCheckResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, merge: true, uniqueKeys: true });
  const at = (offset: number, message: string): ConfigIssue => {
    const { line, col } = lineCounter.linePos(offset);
    return { file, line, column: col, message };
  };
  const yamlWarnings = doc.warnings.map((warning) => at(warning.pos[0], `YAML: ${warning.message}`));
  if (doc.errors.length > 0) {
    const errors = doc.errors.map((error) => at(error.pos[0], `invalid YAML: ${error.message}`));
    return { config: undefined, errors: ordered(errors), warnings: yamlWarnings };
  }

  const envProblems = substituteEnvInDocument(doc, text, env).map((problem) => at(problem.offset, problem.message));
  let raw: unknown;
  try {
    raw = doc.toJS();
  } catch (error) {
    // e.g. an alias expanded too many times (a "billion laughs" document).
    const message = error instanceof Error ? error.message : String(error);
    return { config: undefined, errors: [at(0, `invalid YAML: ${message}`)], warnings: yamlWarnings };
  }
  if (raw === null || raw === undefined) {
    return { config: undefined, errors: [at(0, 'the config is empty')], warnings: yamlWarnings };
  }

  const result = validate(raw, file, dirname(resolve(file)));
  const place = (issue: PathIssue): ConfigIssue => {
    const position = at(offsetOfPath(doc, issue.path, issue.at), issue.message);
    if (issue.related === undefined) return position;
    const related = lineCounter.linePos(offsetOfPath(doc, issue.related, 'value'));
    return { ...position, message: `${issue.message} (first defined at line ${related.line})` };
  };
  const errors = ordered([...envProblems, ...result.errors.map(place)]);
  return {
    config: errors.length === 0 ? result.config : undefined,
    errors,
    warnings: ordered([...yamlWarnings, ...result.warnings.map(place)]),
  };
}

/** The path shown for an issue in a programmatic config: the key's owner for key problems. */
function objectIssue(source: string, issue: PathIssue): ConfigIssue {
  const shown: ConfigPath = issue.at === 'value' ? issue.path : issue.path.slice(0, -1);
  const related = issue.related === undefined ? '' : ` (first defined at ${formatPath(issue.related)})`;
  return { file: source, line: 0, column: 0, message: `${formatPath(shown)}: ${issue.message}${related}` };
}

/**
 * Validates a config given as a plain object (the YAML structure). Issues
 * have line and column 0 and name the key path in their message. Relative
 * TLS paths resolve against the working directory. `obj` is not modified.
 */
export function checkConfigObject(
  obj: unknown,
  source: string = INLINE_SOURCE,
  env: NodeJS.ProcessEnv = process.env,
): ConfigCheckResult {
  const substituted = substituteEnvInValue(obj, env);
  const result = validate(substituted.value, source, process.cwd());
  const errors = [...substituted.problems, ...result.errors].map((issue) => objectIssue(source, issue));
  return {
    config: errors.length === 0 ? result.config : undefined,
    errors,
    warnings: result.warnings.map((issue) => objectIssue(source, issue)),
  };
}

/** Parses and validates YAML config text. Throws {@link ConfigError} with every problem found. */
export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env): BallastConfig {
  const result = checkConfigText(text, file, env);
  if (result.config === undefined) throw new ConfigError(result.errors);
  return result.config;
}

/** Validates a programmatic config. Throws {@link ConfigError} with every problem found. */
export function configFromObject(
  obj: unknown,
  source: string = INLINE_SOURCE,
  env: NodeJS.ProcessEnv = process.env,
): BallastConfig {
  const result = checkConfigObject(obj, source, env);
  if (result.config === undefined) throw new ConfigError(result.errors);
  return result.config;
}

async function readConfigText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new BallastError(ErrorCodes.CONFIG_READ, `cannot read config file ${path}: ${reason}`, 500, { cause: error });
  }
}

/**
 * Reads and validates a config file, returning errors and warnings (for
 * `ballast validate`). Throws a CONFIG_READ {@link BallastError} only when
 * the file cannot be read.
 */
export async function checkConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): Promise<ConfigCheckResult> {
  return checkConfigText(await readConfigText(path), path, env);
}

/**
 * Reads, parses and validates a config file. Throws a CONFIG_READ
 * {@link BallastError} when the file cannot be read and a {@link ConfigError}
 * when it is invalid.
 */
export async function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): Promise<BallastConfig> {
  return parseConfig(await readConfigText(path), path, env);
}

let jsonSchema: object | undefined;

/**
 * JSON Schema (draft 2020-12) of the config file as users write it, for
 * editor completion and validation. Computed once.
 */
export function configJsonSchema(): object {
  jsonSchema ??= deepFreeze(z.toJSONSchema(createConfigSchema({ source: INLINE_SOURCE, baseDir: '.', checkFiles: false }), {
    io: 'input',
      unrepresentable: 'any',
    }),
  );
  return jsonSchema;
}

/** One-line summary of a valid config, e.g. for `ballast validate`. */
export function describeConfig(config: BallastConfig): string {
  const servers = config.pools.reduce((sum, pool) => sum + pool.servers.length, 0);
  const plural = (count: number, word: string): string => `${count} ${word}${count === 1 ? '' : 's'}`;
  const parts = [plural(config.listeners.length, 'listener'), plural(config.pools.length, 'pool'), plural(servers, 'server')];
  if (config.gslb !== undefined) parts.push(`gslb site ${config.gslb.site}`);
  return `${config.source}: OK (${parts.join(', ')})`;
}
