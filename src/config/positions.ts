/**
 * Maps a path in the parsed data back to a character offset in the YAML
 * source, through the document's node tree (which keeps source ranges).
 * A path that leads past the existing nodes (a missing key) resolves to the
 * deepest node that exists, i.e. the mapping that should hold the key.
 * O(depth × width of the mappings traversed).
 */
import { isAlias, isMap, isScalar, isSeq } from 'yaml';
import type { Document, Node, Pair, YAMLMap } from 'yaml';
import type { ConfigPath } from './issues.js';

function startOf(node: Node): number {
  return node.range?.[0] ?? 0;
}

/**
 * Offset of the node at `path`. With `at: 'key'` the offset is that of the
 * key naming the last segment (e.g. an unknown key) rather than its value.
 */
export function offsetOfPath(doc: Document, path: ConfigPath, at: 'value' | 'key' | 'missing'): number {
  let node: unknown = doc.contents;
  let keyNode: Node | undefined;
  for (const segment of path) {
    if (isAlias(node)) node = node.resolve(doc);
    keyNode = undefined;
    let next: unknown;
    if (isMap(node)) {
      const pair = findPair(doc, node, String(segment));
      if (pair !== undefined) {
        keyNode = isScalar(pair.key) ? pair.key : undefined;
        next = pair.value ?? keyNode;
      }
    } else if (isSeq(node) && typeof segment === 'number') {
      next = node.items[segment];
    }
    if (next === undefined || next === null) {
      return isNode(node) ? startOf(node) : 0;
    }
    node = next;
  }
  if (at === 'key' && keyNode !== undefined) return startOf(keyNode);
  // An empty value (`listen:` with nothing after it) has no text of its own:
  // point at its key instead of the end of the line.
  if (isScalar(node) && node.value === null && node.source === '' && keyNode !== undefined) return startOf(keyNode);
  return isNode(node) ? startOf(node) : 0;
}

/**
 * The pair of `map` whose key is `key`, looking also into mappings merged
 * with `<<: *anchor` (or `<<: [*a, *b]`); keys written in `map` win.
 */
function findPair(doc: Document, map: YAMLMap, key: string, depth = 0): Pair | undefined {
  const own = map.items.find((item) => isScalar(item.key) && typeof item.key.value !== 'symbol' && String(item.key.value) === key);
  if (own !== undefined || depth > 8) return own;
  for (const item of map.items) {
    if (!isScalar(item.key) || typeof item.key.value !== 'symbol') continue;
    const sources = isSeq(item.value) ? item.value.items : [item.value];
    for (const source of sources) {
      const merged = isAlias(source) ? source.resolve(doc) : source;
      const found = isMap(merged) ? findPair(doc, merged, key, depth + 1) : undefined;
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

function isNode(value: unknown): value is Node {
  return isMap(value) || isSeq(value) || isScalar(value) || isAlias(value);
}
