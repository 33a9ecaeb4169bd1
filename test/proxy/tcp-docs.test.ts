import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { checkConfigText } from '../../src/config/index.js';
import { formatConfigIssue } from '../../src/core/errors.js';

// Every configuration shown in docs/tcp.md must be one Ballast accepts as is.
const DOC = readFileSync('docs/tcp.md', 'utf8');

function yamlBlocks(): string[] {
  return [...DOC.matchAll(/```yaml\n([\s\S]*?)```/g)].map((match) => match[1] ?? '');
}

describe('docs/tcp.md', () => {
  test('every YAML example is a valid config without warnings', () => {
    const blocks = yamlBlocks();
    assert.ok(blocks.length >= 4, `found ${blocks.length} examples`);
    for (const block of blocks) {
      const result = checkConfigText(block, 'tcp.yaml', {});
      assert.deepEqual(result.errors.map(formatConfigIssue), [], block);
      assert.deepEqual(result.warnings.map(formatConfigIssue), [], block);
      assert.ok(result.config?.listeners.every((listener) => listener.protocol === 'tcp'), block);
    }
  });
});
