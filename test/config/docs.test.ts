import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkConfigText, describeConfig, loadConfigFile } from '../../src/config/index.js';
import { formatConfigIssue } from '../../src/core/errors.js';

// The examples in docs/configuration.md are checked here, so the documentation
// never shows a config that Ballast would reject or an error it would not print.
const DOC = readFileSync('docs/configuration.md', 'utf8');
const ENV = {
  BALLAST_ADMIN_TOKEN: 'admin-token-for-docs',
  BALLAST_COOKIE_SECRET: 'cookie-secret-at-least-16',
  BALLAST_GSLB_SECRET: 'gslb-secret',
  PG_PASSWORD: 'pg-password',
};

function blocks(language: string): string[] {
  const found: string[] = [];
  const fence = new RegExp('```' + language + '\\n([\\s\\S]*?)```', 'g');
  for (const match of DOC.matchAll(fence)) found.push(match[1] ?? '');
  return found;
}

describe('docs/configuration.md', () => {
  test('the complete example is valid, with its certificates next to it', async () => {
    const example = blocks('yaml').find((block) => block.startsWith('# ballast.yaml\n'));
    assert.ok(example, 'the doc has a block starting with "# ballast.yaml"');
    const dir = mkdtempSync(join(tmpdir(), 'ballast-docs-'));
    try {
      mkdirSync(join(dir, 'certs'));
      copyFileSync('test/fixtures/certs/localhost.pem', join(dir, 'certs/site.pem'));
      copyFileSync('test/fixtures/certs/localhost-key.pem', join(dir, 'certs/site-key.pem'));
      const file = join(dir, 'ballast.yaml');
      writeFileSync(file, example);
      const config = await loadConfigFile(file, ENV);
      const summary = describeConfig(config).replace(`${file}:`, 'ballast.yaml:');
      assert.ok(DOC.includes(`\`${summary}\``), `the doc shows the summary ${summary}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('every other YAML example is a valid config', () => {
    const others = blocks('yaml').filter((block) => !block.startsWith('# ballast.yaml\n'));
    assert.ok(others.length > 0);
    for (const block of others) {
      const result = checkConfigText(block, 'snippet.yaml', ENV);
      assert.deepEqual(result.errors.map(formatConfigIssue), [], block);
    }
  });

  test('the error example prints exactly the errors shown', () => {
    const text = blocks('text');
    const index = text.findIndex((block) => /^ 1 {2}listeners:/.test(block));
    assert.ok(index >= 0, 'the doc has a numbered error example');
    const source = (text[index] ?? '')
      .split('\n')
      .map((line) => line.replace(/^[ 0-9]{2} {2}/, ''))
      .join('\n');
    const expected = (text[index + 1] ?? '').trimEnd().split('\n');
    const result = checkConfigText(source, 'ballast.yaml', {});
    assert.deepEqual(result.errors.map(formatConfigIssue), expected);
  });
});
