import assert from 'node:assert/strict';
import { Script } from 'node:vm';
import { describe, test } from 'node:test';
import { DASHBOARD_ASSETS } from '../../src/admin/dashboard/index.js';

function text(path: string): string {
  const asset = DASHBOARD_ASSETS.get(path);
  assert.ok(asset !== undefined, `no asset ${path}`);
  return asset.body.toString('utf8');
}

describe('dashboard assets', () => {
  test('the script is valid JavaScript', () => {
    assert.doesNotThrow(() => new Script(text('/assets/dashboard.js'), { filename: 'dashboard.js' }));
  });

  test('the script never parses data as HTML', () => {
    const script = text('/assets/dashboard.js');
    for (const sink of [/\.innerHTML\b/, /\.outerHTML\b/, /insertAdjacentHTML/, /document\.write/, /\beval\s*\(/, /new Function\s*\(/, /setAttribute\(\s*'style'/]) {
      assert.doesNotMatch(script, sink);
    }
  });

  test('the page loads only its own files: no CDN, no inline script or style', () => {
    const html = text('/');
    const css = text('/assets/dashboard.css');
    const script = text('/assets/dashboard.js');
    assert.doesNotMatch(html + css + script, /https?:\/\//, 'no absolute URL');
    assert.doesNotMatch(css, /@import|url\(/);
    assert.doesNotMatch(html, /<style\b|\sstyle=|\son[a-z]+=/i, 'no inline style or event handler attribute');
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    assert.equal(scripts.length, 1);
    assert.match(scripts[0]?.[1] ?? '', /src="\/assets\/dashboard\.js"/);
    assert.equal(scripts[0]?.[2], '', 'no inline script');
    for (const match of html.matchAll(/(?:src|href)="([^"]+)"/g)) {
      const target = match[1] ?? '';
      assert.ok(DASHBOARD_ASSETS.has(target), `the page references ${target}, which is served`);
    }
  });

  test('every asset has a content type and a strong ETag that changes with the content', () => {
    const etags = new Set<string>();
    for (const [path, asset] of DASHBOARD_ASSETS) {
      assert.ok(asset.contentType.length > 0, path);
      assert.match(asset.etag, /^"[A-Za-z0-9_-]{20,}"$/, path);
      etags.add(asset.etag);
    }
    assert.equal(etags.size, DASHBOARD_ASSETS.size);
  });
});
