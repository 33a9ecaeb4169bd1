/**
 * Two Ballast sites, eu and us, as separate processes with their own DNS
 * listeners; www fails over from eu (127.0.0.10) to us (127.0.0.20).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { GslbConfig } from '../../src/config/types.js';
import { digShort, freeUdpPort, gslbConfig, queryA, requireProgram, SiteProcess, tempDir, waitFor, wwwFailover } from './helpers.js';

const EU = '127.0.0.10';
const US = '127.0.0.20';
const FAILBACK_DELAY = 3000;

async function configs(): Promise<{ eu: GslbConfig; us: GslbConfig }> {
  const [euPort, usPort] = [await freeUdpPort(), await freeUdpPort()];
  const common = { records: [wwwFailover()], interval: 250, failbackDelay: FAILBACK_DELAY };
  return {
    eu: gslbConfig({ site: 'eu', heartbeatPort: euPort, peers: [{ site: 'us', port: usPort }], ...common }),
    us: gslbConfig({ site: 'us', heartbeatPort: usPort, peers: [{ site: 'eu', port: euPort }], ...common }),
  };
}

/** Polls `port` every 25 ms until www answers `address`; resolves with the wall time it first did. */
async function firstAnswer(port: number, address: string, timeout: number): Promise<number> {
  return waitFor(async () => ((await queryA(port, 'www.example.com'))?.join() === address ? Date.now() : undefined), timeout, `www = ${address} on port ${port}`, 25);
}

test('SIGKILL of eu moves answers to us within 2 s; a restarted eu gets them back only after failbackDelay', async (t) => {
  requireProgram('dig', 'dnsutils');
  const dir = tempDir(t);
  const config = await configs();
  const [eu, us] = await Promise.all([SiteProcess.start(dir, config.eu, true), SiteProcess.start(dir, config.us, true)]);
  let euAgain: SiteProcess | undefined;
  t.after(async () => {
    await Promise.all([eu.stop(), us.stop(), euAgain?.stop()]);
  });

  await firstAnswer(eu.dnsPort, EU, 5000);
  await firstAnswer(us.dnsPort, EU, 5000);
  assert.deepEqual(await digShort(eu.dnsPort, 'www.example.com'), [EU]);
  assert.deepEqual(await digShort(us.dnsPort, 'www.example.com'), [EU]);

  const killedAt = Date.now();
  eu.kill('SIGKILL');
  const switchedAt = await firstAnswer(us.dnsPort, US, 5000);
  assert.ok(switchedAt - killedAt < 2000, `us answered itself ${switchedAt - killedAt} ms after the kill`);
  assert.deepEqual(await digShort(us.dnsPort, 'www.example.com'), [US]);
  const down = us.events.find((event) => event.type === 'site-down' && event.site === 'eu');
  assert.equal(down?.reason, 'no-heartbeat');
  await eu.exited;

  euAgain = await SiteProcess.start(dir, config.eu, true);
  // Serving again, but the restarted site adopted "recovering" from us: both still answer us.
  assert.deepEqual(await digShort(euAgain.dnsPort, 'www.example.com'), [US]);
  assert.deepEqual(await digShort(us.dnsPort, 'www.example.com'), [US]);
  const recovering = await waitFor(
    () => us.events.find((event) => event.type === 'site-up' && event.site === 'eu' && event.detail?.['state'] === 'recovering'),
    5000,
    'us to see eu recovering',
  );
  const [backAtUs, backAtEu] = await Promise.all([firstAnswer(us.dnsPort, EU, 10_000), firstAnswer(euAgain.dnsPort, EU, 10_000)]);
  assert.ok(backAtUs - recovering.time >= FAILBACK_DELAY - 50, `us failed back ${backAtUs - recovering.time} ms after eu recovered`);
  assert.ok(backAtEu - recovering.time >= FAILBACK_DELAY - 300, `eu failed back ${backAtEu - recovering.time} ms after it recovered`);
  assert.deepEqual(await digShort(us.dnsPort, 'www.example.com'), [EU]);
  assert.deepEqual(await digShort(euAgain.dnsPort, 'www.example.com'), [EU]);

  const changes = us.events.filter((event) => event.type === 'dns-changed').map((event) => event.detail?.['answer']);
  assert.deepEqual(changes, [US, EU], 'one switch away and one back');
  const status = await us.status();
  assert.deepEqual(status.sites.map((site) => [site.site, site.state]), [['us', 'active'], ['eu', 'active']]);
  assert.equal(status.records[0]?.allTargetsDown, false);
});

test('eu alive but without healthy servers: us takes over just the same, and fails back after the delay', async (t) => {
  requireProgram('dig', 'dnsutils');
  const dir = tempDir(t);
  const config = await configs();
  const [eu, us] = await Promise.all([SiteProcess.start(dir, config.eu, true), SiteProcess.start(dir, config.us, true)]);
  t.after(async () => {
    await Promise.all([eu.stop(), us.stop()]);
  });
  await firstAnswer(us.dnsPort, EU, 5000);

  const downAt = Date.now();
  eu.setReady(false);
  const [atUs, atEu] = await Promise.all([firstAnswer(us.dnsPort, US, 5000), firstAnswer(eu.dnsPort, US, 5000)]);
  assert.ok(atUs - downAt < 2000 && atEu - downAt < 2000, `switched after ${atUs - downAt} / ${atEu - downAt} ms`);
  assert.deepEqual(await digShort(eu.dnsPort, 'www.example.com'), [US]);
  const down = us.events.find((event) => event.type === 'site-down' && event.site === 'eu');
  assert.equal(down?.reason, 'no-healthy-servers');

  const readyAt = Date.now();
  eu.setReady(true);
  const back = await firstAnswer(us.dnsPort, EU, 10_000);
  assert.ok(back - readyAt >= FAILBACK_DELAY - 50, `failed back after ${back - readyAt} ms`);

  // Both sites without servers: answer in configured order, and say so.
  eu.setReady(false);
  us.setReady(false);
  await waitFor(async () => ((await us.status()).records[0]?.allTargetsDown ? true : undefined), 5000, 'all targets down');
  const allDown = await us.status();
  assert.equal(allDown.records[0]?.note, 'answering configured order');
  assert.deepEqual(await digShort(us.dnsPort, 'www.example.com'), [EU]);
  // The first site to recover takes traffic at once: nothing else is active to protect.
  us.setReady(true);
  await firstAnswer(us.dnsPort, US, 5000);
});
