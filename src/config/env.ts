/**
 * `${env:NAME}` substitution. References may appear anywhere inside any
 * string, several times. Substitution runs before schema validation: on the
 * YAML scalar nodes for files (so positions stay those of the source) and on
 * the strings of a plain object for programmatic configs. The substituted
 * value is always a string; it is never re-parsed as YAML.
 */
import { visit } from 'yaml';
import type { Document } from 'yaml';
import type { PathIssue, ConfigPath } from './issues.js';

const REFERENCE = /\$\{env:([^}]*)\}/g;
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface EnvProblem {
  /** The reference as written, e.g. `${env:TOKEN}`. */
  readonly reference: string;
  readonly message: string;
}

/**
 * Replaces every `${env:NAME}` in `text`. Unset variables and malformed names
 * are reported (and left in place); a variable set to the empty string
 * substitutes as empty. O(length of text).
 */
export function substituteEnv(
  text: string,
  env: NodeJS.ProcessEnv,
): { readonly value: string; readonly problems: readonly EnvProblem[] } {
  const problems: EnvProblem[] = [];
  const value = text.replace(REFERENCE, (reference: string, name: string) => {
    if (!VARIABLE_NAME.test(name)) {
      problems.push({ reference, message: `invalid environment variable name ${JSON.stringify(name)} in ${reference}` });
      return reference;
    }
    const found = env[name];
    if (found === undefined) {
      problems.push({ reference, message: `environment variable ${name} is not set` });
      return reference;
    }
    return found;
  });
  return { value, problems };
}

/** A problem at a character offset of the YAML source. */
export interface OffsetProblem {
  readonly offset: number;
  readonly message: string;
}

/**
 * Substitutes in place in every string scalar of `doc` (keys included).
 * Problems point at the reference itself when it can be found in the scalar's
 * source text, else at the scalar.
 */
export function substituteEnvInDocument(doc: Document, source: string, env: NodeJS.ProcessEnv): OffsetProblem[] {
  const problems: OffsetProblem[] = [];
  visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value !== 'string' || !node.value.includes('${env:')) return;
      const result = substituteEnv(node.value, env);
      node.value = result.value;
      const [start, end] = node.range ?? [0, 0];
      const raw = source.slice(start, end);
      for (const problem of result.problems) {
        const at = raw.indexOf(problem.reference);
        problems.push({ offset: at < 0 ? start : start + at, message: problem.message });
      }
    },
  });
  return problems;
}

/**
 * Returns a copy of `value` with every string (and record key) substituted;
 * the input is not modified. Problems carry the path of the string.
 */
export function substituteEnvInValue(
  value: unknown,
  env: NodeJS.ProcessEnv,
): { readonly value: unknown; readonly problems: readonly PathIssue[] } {
  const problems: PathIssue[] = [];
  const walk = (node: unknown, path: ConfigPath): unknown => {
    if (typeof node === 'string') {
      const result = substituteEnv(node, env);
      for (const problem of result.problems) problems.push({ path, at: 'value', message: problem.message });
      return result.value;
    }
    if (Array.isArray(node)) return node.map((item, index) => walk(item, [...path, index]));
    if (node !== null && typeof node === 'object') {
      const copy: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(node)) {
        const newKey = substituteEnv(key, env);
        for (const problem of newKey.problems) problems.push({ path: [...path, key], at: 'key', message: problem.message });
        copy[newKey.value] = walk(item, [...path, key]);
      }
      return copy;
    }
    return node;
  };
  return { value: walk(value, []), problems };
}
