/**
 * The examples of docs/admin-api.md and docs/dashboard.md: every YAML block
 * is a valid config, and every curl example works against a running admin
 * server with the documented pool and servers.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { checkConfigText } from '../../src/config/index.js';
import { formatConfigIssue } from '../../src/core/errors.js';
import { startBackend, type TestBackend } from '../helpers/http-backend.js';
import { TOKEN, startAdmin, type AdminHarness } from './admin-harness.js';

const DOCS = ['docs/admin-api.md', 'docs/dashboard.md'] as const;
const ENV = { BALLAST_ADMIN_TOKEN: 'admin-token-for-docs' };

function blocks(text: string, language: string): string[] {
  return [...text.matchAll(new RegExp('```' + language + '\\n([\\s\\S]*?)```', 'g'))].map((match) => match[1] ?? '');
}

interface CurlExample {
  readonly line: string;
  readonly method: string;
  readonly path: string;
  readonly body: string | undefined;
  readonly authorized: boolean;
}

/** The curl command lines of the doc, in the one shape the doc uses. */
function curlExamples(text: string): CurlExample[] {
  const examples: CurlExample[] = [];
  for (const block of blocks(text, 'sh')) {
    for (const line of block.split('\n')) {
      if (!line.startsWith('curl ')) continue;
      const url = /http:\/\/127\.0\.0\.1:9901(\/\S*)/.exec(line);
      assert.ok(url, `a curl example names the admin address: ${line}`);
      const body = /-d '([^']*)'/.exec(line)?.[1];
      examples.push({
        line,
        method: /-X (\w+)/.exec(line)?.[1] ?? 'GET',
        path: url[1] ?? '/',
        body,
        authorized: line.includes('Authorization: Bearer $BALLAST_ADMIN_TOKEN'),
      });
    }
  }
  return examples;
}

describe('admin docs', () => {
  test('every YAML example is a valid config', () => {
    for (const doc of DOCS) {
      const yaml = blocks(readFileSync(doc, 'utf8'), 'yaml');
      assert.ok(yaml.length > 0, `${doc} has a config example`);
      for (const block of yaml) {
        const result = checkConfigText(block, 'ballast.yaml', ENV);
        assert.deepEqual(result.errors.map(formatConfigIssue), [], `${doc}:\n${block}`);
      }
    }
  });

  describe('curl examples of docs/admin-api.md', () => {
    let backends: TestBackend[];
    let admin: AdminHarness;
    before(async () => {
      backends = [await startBackend('web-1'), await startBackend('web-2')];
      admin = await startAdmin({
        listeners: [{ name: 'web', protocol: 'http', listen: '127.0.0.1:0', routes: [{ pool: 'web' }] }],
        pools: [{ name: 'web', servers: backends.map((b) => ({ name: b.name, address: b.address })) }],
      });
    });
    after(async () => {
      await admin?.close();
      await Promise.all((backends ?? []).map((b) => b.close()));
    });

    test('each one answers 2xx, and those that change state need the token', async () => {
      const examples = curlExamples(readFileSync('docs/admin-api.md', 'utf8'));
      const paths = new Set(examples.map((e) => `${e.method} ${e.path.replace(/servers\/[^/]+\//, 'servers/{server}/')}`));
      for (const expected of [
        'GET /api/v1/status',
        'GET /api/v1/availability',
        'GET /api/v1/events',
        'POST /api/v1/pools/web/servers/{server}/drain',
        'POST /api/v1/pools/web/servers/{server}/disable',
        'POST /api/v1/pools/web/servers/{server}/enable',
        'PUT /api/v1/pools/web/servers/{server}/weight',
        'POST /api/v1/reload',
        'GET /metrics',
      ]) {
        assert.ok(paths.has(expected), `the doc shows ${expected}`);
      }
      for (const example of examples) {
        const body = example.body === undefined ? {} : { body: example.body };
        const answer = await admin.call(example.method, example.path, { ...body, ...(example.authorized ? { token: TOKEN } : {}) });
        assert.ok(answer.status >= 200 && answer.status < 300, `${example.line}\n→ ${answer.status} ${answer.body.slice(0, 200)}`);
        if (example.authorized) {
          const anonymous = await admin.call(example.method, example.path, body);
          assert.equal(anonymous.status, 401, `${example.line} without the token`);
        }
      }
    });
  });
});
