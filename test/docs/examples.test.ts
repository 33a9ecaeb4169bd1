import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, test } from 'node:test';
import { checkConfigText } from '../../src/config/index.js';

/** Every ```yaml block of a markdown file. */
function yamlBlocks(file: string): string[] {
  return [...readFileSync(file, 'utf8').matchAll(/```yaml\n([\s\S]*?)```/g)].map((match) => match[1] as string);
}

const env = { BALLAST_COOKIE_SECRET: 'a-cookie-secret-for-docs', BALLAST_GSLB_SECRET: 'a-gslb-secret-for-docs', BALLAST_ADMIN_TOKEN: 'docs-token' };
/** Example certificate paths point at the test certificates. */
const certs = resolve('test/fixtures/certs');

describe('config examples in the user docs are valid', () => {
  for (const doc of ['README.md', 'docs/persistence.md', 'docs/tls.md', 'docs/operations.md']) {
    test(doc, () => {
      const blocks = yamlBlocks(doc);
      assert.ok(blocks.length > 0, `${doc} has examples`);
      for (const [index, block] of blocks.entries()) {
        const text = block.replaceAll('certs/', `${certs}/`);
        const result = checkConfigText(text, `${doc}#${index + 1}`, env);
        assert.deepEqual(result.errors.map((issue) => `${issue.line}:${issue.column} ${issue.message}`), [], `example ${index + 1} of ${doc}`);
      }
    });
  }
});
