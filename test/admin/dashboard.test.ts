/**
 * The dashboard in a real headless Chromium (Debian package `chromium`,
 * driven by playwright-core) against a running runtime, admin server and
 * GSLB node. Leaves a screenshot in test-artifacts/dashboard.png.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startGslb, type GslbNode, type GslbStatus } from '../../src/gslb/index.js';
import { PoolServer } from '../../src/pools/server.js';
import type { RuntimeStatus } from '../../src/runtime/status.js';
import { freePort } from '../helpers/net.js';
import { startBackend, type TestBackend } from '../helpers/http-backend.js';
import { requireProgram } from '../helpers/programs.js';
import { TOKEN, serverStatus, startAdmin, type AdminHarness } from './admin-harness.js';

const XSS_NAME = '<img src=x onerror=alert(1)>';
const GSLB_SECRET = 'gslb-heartbeat-secret-dashboard-test';
/** The bound on "a change shows without a reload", from the requirement. */
const LIVE_UPDATE_MS = 2_000;

interface Row {
  readonly pool: string;
  readonly server: string;
  readonly state: string;
  readonly name: string;
  readonly weight: string;
  readonly uptime: string;
}

/**
 * Page-side code is written as JavaScript source (the test program is
 * compiled without DOM types); `call` inlines the arguments as JSON.
 */
function call(source: string, ...args: readonly unknown[]): string {
  return `(${source})(${args.map((arg) => JSON.stringify(arg)).join(', ')})`;
}

const ROWS = `() => [...document.querySelectorAll('tr[data-server]')].map((tr) => ({
  pool: tr.dataset.pool, server: tr.dataset.server, state: tr.dataset.state,
  name: tr.querySelector('.server-name').textContent,
  weight: tr.querySelector('button.weight').textContent,
  uptime: tr.querySelector('.uptime').textContent,
}))`;

function rows(page: Page): Promise<Row[]> {
  return page.evaluate<Row[]>(call(ROWS));
}

/**
 * Waits until `predicate` (page-side source, called with `args`) is true,
 * polling every 25 ms; fails after `timeout` ms. Polls from here rather than
 * with `waitForFunction`, whose in-page string evaluation the dashboard's
 * Content-Security-Policy rightly forbids.
 */
async function until(page: Page, predicate: string, timeout: number, ...args: readonly unknown[]): Promise<void> {
  const expression = call(predicate, ...args);
  const deadline = Date.now() + timeout;
  for (;;) {
    if ((await page.evaluate<boolean>(expression)) === true) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${predicate.replace(/\s+/g, ' ')} ${JSON.stringify(args)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Waits until the row of pool/server shows `state`. */
function waitForState(page: Page, pool: string, server: string, state: string, timeout: number): Promise<void> {
  return until(
    page,
    `(pool, server, state) => [...document.querySelectorAll('tr[data-server]')].some((tr) =>
      tr.dataset.pool === pool && tr.dataset.server === server && tr.dataset.state === state && tr.querySelector('.state').textContent === state)`,
    timeout,
    pool,
    server,
    state,
  );
}

/** Clicks a button of one server's row, as a user would (a real mouse click). */
async function clickRowButton(page: Page, pool: string, server: string, button: string): Promise<void> {
  await page.evaluate(
    call(
      `(pool, server, button) => {
        const row = [...document.querySelectorAll('tr[data-server]')].find((tr) => tr.dataset.pool === pool && tr.dataset.server === server);
        const target = row && row.querySelector('button.' + button);
        if (!target || target.hidden) throw new Error('no visible ' + button + ' button for ' + pool + '/' + server);
        target.setAttribute('data-click-target', '1');
      }`,
      pool,
      server,
      button,
    ),
  );
  await page.click('[data-click-target="1"]');
  await page.evaluate(`document.querySelector('[data-click-target]').removeAttribute('data-click-target')`);
}

describe('dashboard in headless Chromium', () => {
  const executablePath = requireProgram('chromium', 'chromium');
  let backends: TestBackend[] = [];
  let admin: AdminHarness;
  let gslb: GslbNode | undefined;
  let browser: Browser;
  let page: Page;
  const consoleErrors: string[] = [];
  const dialogs: string[] = [];
  const navigations: string[] = [];

  before(async () => {
    backends = [await startBackend('web-1'), await startBackend('web-2'), await startBackend('api-1'), await startBackend('odd')];
    const [web1, web2, api1, odd] = backends as [TestBackend, TestBackend, TestBackend, TestBackend];
    // Lenient checks: a loaded machine must not make a server flap during the test.
    const healthCheck = { type: 'http', path: '/healthz', interval: '1s', timeout: '900ms', healthyThreshold: 1, unhealthyThreshold: 5 };
    admin = await startAdmin(
      {
        listeners: [
          {
            name: 'web',
            protocol: 'http',
            listen: '127.0.0.1:0',
            routes: [{ match: { path: '/api/' }, pool: 'api' }, { pool: 'web' }],
          },
        ],
        pools: [
          { name: 'web', algorithm: 'round-robin', healthCheck, servers: [{ name: 'web-1', address: web1.address }, { name: 'web-2', address: web2.address }] },
          { name: 'api', algorithm: 'least-connections', healthCheck, servers: [{ name: 'api-1', address: api1.address }] },
        ],
        gslb: {
          site: 'eu-west',
          heartbeat: { listen: '127.0.0.1:0', interval: '250ms', secret: GSLB_SECRET },
          peers: [{ site: 'us-east', address: `127.0.0.1:${await freePort()}` }],
          dns: {
            listen: '127.0.0.1:0',
            zone: 'example.com',
            ttl: '5s',
            records: [
              {
                name: 'www',
                type: 'A',
                policy: 'failover',
                targets: [
                  { site: 'eu-west', address: '127.0.0.10' },
                  { site: 'us-east', address: '127.0.0.20' },
                ],
              },
            ],
          },
        },
      },
      {
        extendStatus: (status) => {
          if (gslb === undefined) return status;
          const withGslb: RuntimeStatus & { readonly gslb: GslbStatus } = { ...status, gslb: gslb.status() };
          return withGslb;
        },
      },
    );
    const gslbConfig = admin.runtime.currentConfig.gslb;
    assert.ok(gslbConfig !== undefined);
    gslb = await startGslb(gslbConfig, {
      localReady: () => admin.runtime.status().pools.some((pool) => pool.health !== 'empty'),
      onEvent: (event) => admin.runtime.events.publish(event),
    });
    // A server whose name no config file would accept, added the way the
    // programmatic API can: the dashboard must show it as text.
    admin.runtime.requirePool('web').addServer(new PoolServer('web', { name: XSS_NAME, address: { host: '127.0.0.1', port: odd.port }, weight: 1, backup: false }, undefined, 'unknown'));

    browser = await chromium.launch({
      executablePath,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    page.on('pageerror', (error) => consoleErrors.push(`page error: ${error.message}`));
    page.on('dialog', (dialog) => {
      dialogs.push(`${dialog.type()}: ${dialog.message()}`);
      void dialog.dismiss();
    });
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) navigations.push(frame.url());
    });
  });

  after(async () => {
    await browser?.close();
    await gslb?.close();
    await admin?.close();
    await Promise.all(backends.map((b) => b.close()));
  });

  test('loads with no console errors and shows every listener, pool, server and site', async () => {
    await page.goto(`${admin.base}/`, { waitUntil: 'load' });
    const expected = admin.runtime.status().pools.flatMap((pool) => pool.servers.map((server) => `${pool.name}/${server.name}`));
    assert.equal(expected.length, 4);
    await until(page, `(count) => document.querySelectorAll('tr[data-server]').length === count`, 10_000, expected.length);
    const shown = await rows(page);
    assert.deepEqual(shown.map((row) => `${row.pool}/${row.server}`).sort(), [...expected].sort());
    for (const row of shown) assert.equal(row.name, row.server, 'the name cell shows the name as text');

    await until(page, `() => document.querySelectorAll('#listeners tbody tr').length === 1 && !document.getElementById('gslb').hidden`, 10_000);
    assert.equal(await page.textContent('#listeners tbody td'), 'web');
    await until(page, `() => document.querySelector('#sites tbody').textContent.includes('us-east')`, 10_000);
    const sites = await page.textContent('#sites tbody');
    assert.match(sites ?? '', /eu-west \(this site\)/);
    await until(page, `() => document.querySelector('#records tbody').textContent.includes('127.0.0.10')`, 10_000);
    assert.match((await page.textContent('#records tbody')) ?? '', /www\.example\.com/);
    await until(page, `() => document.getElementById('connection').textContent === 'live'`, 10_000);
    assert.deepEqual(consoleErrors, []);
  });

  test('a state change made through the API shows within 2 s, without a reload', async () => {
    await waitForState(page, 'web', 'web-1', 'healthy', 10_000);
    await page.evaluate('window.stillThisPage = true');
    const navigationsBefore = navigations.length;
    const drained = await admin.call('POST', '/api/v1/pools/web/servers/web-1/drain', { token: TOKEN });
    assert.equal(drained.status, 200, drained.body);
    await waitForState(page, 'web', 'web-1', 'draining', LIVE_UPDATE_MS);
    await until(page, `() => [...document.querySelectorAll('#events li')].some((li) => li.dataset.type === 'server-draining' && li.textContent.includes('web/web-1'))`, LIVE_UPDATE_MS);

    const enabled = await admin.call('POST', '/api/v1/pools/web/servers/web-1/enable', { token: TOKEN });
    assert.equal(enabled.status, 200, enabled.body);
    await waitForState(page, 'web', 'web-1', 'healthy', LIVE_UPDATE_MS);
    assert.equal(await page.evaluate('window.stillThisPage'), true, 'the page was not reloaded');
    assert.equal(navigations.length, navigationsBefore);
  });

  test('server names and event text are shown as text, never run as HTML', async () => {
    admin.runtime.events.publish({
      type: 'server-down',
      time: Date.now(),
      pool: 'web',
      server: XSS_NAME,
      reason: '<script>window.pwned = 1</script><img src=y onerror="window.pwned = 2">',
      detail: { note: '<b onmouseover=alert(3)>bold</b>' },
    });
    await until(page, `() => [...document.querySelectorAll('#events li')].some((li) => li.textContent.includes('<script>window.pwned = 1</script>'))`, 5_000);
    const checks = await page.evaluate(`({
      images: document.querySelectorAll('img').length,
      scripts: document.querySelectorAll('script').length,
      bold: document.querySelectorAll('#events b').length,
      pwned: window.pwned === undefined ? null : window.pwned,
    })`);
    assert.deepEqual(checks, { images: 0, scripts: 1, bold: 0, pwned: null });
    const odd = (await rows(page)).find((row) => row.server === XSS_NAME);
    assert.equal(odd?.name, XSS_NAME);
    assert.deepEqual(dialogs, [], 'no alert() ran');
  });

  test('the drain, enable and weight buttons ask for the token once and change state', async () => {
    await waitForState(page, 'web', XSS_NAME, 'healthy', 10_000);
    await clickRowButton(page, 'web', XSS_NAME, 'drain');
    await page.waitForSelector('#ask[open]', { timeout: 5_000 });
    assert.equal(await page.getAttribute('#ask-input', 'type'), 'password');
    await page.fill('#ask-input', TOKEN);
    await page.click('#ask-ok');
    await waitForState(page, 'web', XSS_NAME, 'draining', 5_000);
    assert.equal(serverStatus(admin.runtime.status(), 'web', XSS_NAME).state, 'draining');

    await clickRowButton(page, 'web', XSS_NAME, 'enable');
    await waitForState(page, 'web', XSS_NAME, 'healthy', 5_000);
    assert.equal(await page.$('#ask[open]'), null, 'the token is asked for only once');

    await clickRowButton(page, 'web', 'web-2', 'weight');
    await page.waitForSelector('#ask[open]', { timeout: 5_000 });
    await page.fill('#ask-input', '4');
    await page.click('#ask-ok');
    await until(page, `() => [...document.querySelectorAll('tr[data-server]')].some((tr) => tr.dataset.server === 'web-2' && tr.querySelector('button.weight').textContent === '4')`, 5_000);
    assert.equal(serverStatus(admin.runtime.status(), 'web', 'web-2').weight, 4);
    assert.equal(await page.evaluate('sessionStorage.length'), 1, 'the token lives in sessionStorage');
  });

  test('shows live request rates, availability, and leaves a screenshot', async () => {
    // Bounded traffic: a few seconds (so the charts have a history to draw), at most 400 requests.
    const url = admin.proxyUrl();
    const started = Date.now();
    let sent = 0;
    let rateShown = false;
    while (sent < 400 && Date.now() - started < 20_000 && !(rateShown && Date.now() - started > 5_000)) {
      await Promise.all([fetch(`${url}/page`).then((r) => r.text()), fetch(`${url}/api/items`).then((r) => r.text())]);
      sent += 2;
      if (sent % 20 === 0 && !rateShown) {
        rateShown = await page.evaluate<boolean>(`Number(document.getElementById('total-rps').textContent) > 0`);
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    assert.ok(rateShown, `the requests/s card shows traffic after ${sent} requests`);
    await until(page, `() => [...document.querySelectorAll('td.uptime')].some((td) => td.textContent.includes('%'))`, 15_000);
    const withUptime = (await rows(page)).filter((row) => row.uptime.includes('%'));
    assert.ok(withUptime.length >= 1, 'per-server availability is shown');
    await until(page, `() => [...document.querySelectorAll('#availability tbody td')].some((td) => td.textContent === 'pool')`, 15_000);

    mkdirSync('test-artifacts', { recursive: true });
    await page.screenshot({ path: join('test-artifacts', 'dashboard.png') });
    await page.screenshot({ path: join('test-artifacts', 'dashboard-full.png'), fullPage: true });
    const html = await page.content();
    for (const secret of [TOKEN, GSLB_SECRET]) assert.ok(!html.includes(secret), 'no secret on the page');
  });

  test('the session had no console errors, page errors or dialogs', () => {
    assert.deepEqual(consoleErrors, []);
    assert.deepEqual(dialogs, []);
  });
});
