import assert from 'node:assert/strict';
import { request } from 'node:http';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { simpleConfig, startBallast } from '../helpers/ballast.js';
import { startBackend, type TestBackend } from '../helpers/http-backend.js';
import { eventually } from '../helpers/net.js';

/** GET through Ballast from a chosen local address; resolves with the answering backend's name. */
function getFrom(url: string, localAddress = '127.0.0.1', headers: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { localAddress, agent: false, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`status ${res.statusCode}: ${body}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Runs `total` GETs with `concurrency` in flight; returns how many each backend answered. */
async function spread(url: string, total: number, concurrency: number): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  let started = 0;
  const worker = async (): Promise<void> => {
    while (started < total) {
      started++;
      const response = await fetch(url);
      const name = await response.text();
      counts.set(name, (counts.get(name) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return counts;
}

async function closeAll(backends: readonly TestBackend[]): Promise<void> {
  await Promise.all(backends.map((backend) => backend.close()));
}

describe('response-time', () => {
  test('a server 50 ms slower gets under 15 % of 600 requests, and its share recovers when it is fast again', async (t) => {
    let slowDelay = 50;
    const respond = (delay: () => number) => (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse, backend: TestBackend) => {
      req.resume();
      setTimeout(() => res.end(backend.name), delay());
    };
    const backends = [
      await startBackend('fast-1', respond(() => 1)),
      await startBackend('fast-2', respond(() => 1)),
      await startBackend('slow', respond(() => slowDelay)),
    ];
    const lb = await startBallast(simpleConfig(backends.map((b) => b.address), { algorithm: 'response-time' }));
    t.after(async () => {
      await lb.close();
      await closeAll(backends);
    });
    // Sequential requests: the pick then compares latency alone, which keeps the
    // test meaningful even when a busy machine slows every server down alike.
    const counts = await spread(`${lb.url()}/`, 600, 1);
    const slowShare = (counts.get('slow') ?? 0) / 600;
    assert.ok(slowShare < 0.15, `slow server share ${(slowShare * 100).toFixed(1)} % must be under 15 %`);

    slowDelay = 1;
    let recovered = 0;
    const deadline = Date.now() + 40_000;
    while (Date.now() < deadline) {
      const recent = await spread(`${lb.url()}/`, 300, 6);
      recovered = (recent.get('slow') ?? 0) / 300;
      if (recovered > 0.2) break;
      await sleep(200);
    }
    assert.ok(recovered > 0.2, `the recovered server's share (${(recovered * 100).toFixed(1)} %) grows back above 20 %`);
  });
});

describe('least-connections', () => {
  test('with long-running requests the in-flight counts stay within 1 of each other', async (t) => {
    const inFlight = new Map<string, number>();
    const release: (() => void)[] = [];
    const hold = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse, backend: TestBackend): void => {
      req.resume();
      inFlight.set(backend.name, (inFlight.get(backend.name) ?? 0) + 1);
      release.push(() => {
        inFlight.set(backend.name, (inFlight.get(backend.name) ?? 0) - 1);
        res.end(backend.name);
      });
    };
    const backends = [await startBackend('a', hold), await startBackend('b', hold), await startBackend('c', hold)];
    const lb = await startBallast(simpleConfig(backends.map((b) => b.address), { algorithm: 'least-connections' }));
    t.after(async () => {
      for (const finish of release.splice(0)) finish();
      await lb.close();
      await closeAll(backends);
    });
    const pending: Promise<string>[] = [];
    for (let i = 0; i < 30; i++) {
      pending.push(getFrom(`${lb.url()}/`));
      await eventually(() => [...inFlight.values()].reduce((sum, n) => sum + n, 0) === i + 1, `request ${i + 1} to arrive`);
      const counts = backends.map((b) => inFlight.get(b.name) ?? 0);
      assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `in-flight counts ${counts.join('/')} differ by at most 1`);
      // Finish some requests out of order so the counts must be read live.
      if (i % 7 === 6) {
        release.shift()?.();
        await eventually(() => [...inFlight.values()].reduce((sum, n) => sum + n, 0) === i, 'a request to finish');
        pending.push(getFrom(`${lb.url()}/`));
        await eventually(() => [...inFlight.values()].reduce((sum, n) => sum + n, 0) === i + 1, 'the replacement to arrive');
      }
    }
    for (const finish of release.splice(0)) finish();
    await Promise.all(pending);
  });
});

describe('source-ip', () => {
  test('each client address sticks to one server; clients spread over servers', async (t) => {
    const backends = [await startBackend('a'), await startBackend('b'), await startBackend('c')];
    const lb = await startBallast({
      ...simpleConfig(backends.map((b) => b.address), { algorithm: 'source-ip' }),
      listeners: [{ name: 'web', protocol: 'http', listen: '127.0.0.1:0', routes: [{ pool: 'app' }] }],
    });
    t.after(async () => {
      await lb.close();
      await closeAll(backends);
    });
    const owners = new Map<string, string>();
    for (let host = 2; host <= 13; host++) {
      const client = `127.0.0.${host}`;
      const seen = new Set<string>();
      for (let i = 0; i < 8; i++) seen.add(await getFrom(`${lb.url()}/`, client));
      assert.equal(seen.size, 1, `${client} always reaches the same server (saw ${[...seen].join(', ')})`);
      owners.set(client, [...seen][0] as string);
    }
    assert.ok(new Set(owners.values()).size >= 2, 'twelve clients do not all land on one server');
  });

  test('with trusted proxies, the X-Forwarded-For client decides, not the proxy', async (t) => {
    const backends = [await startBackend('a'), await startBackend('b'), await startBackend('c')];
    const lb = await startBallast(simpleConfig(backends.map((b) => b.address), { algorithm: 'source-ip' }, { trustedProxies: ['127.0.0.1'] }));
    t.after(async () => {
      await lb.close();
      await closeAll(backends);
    });
    const owners = new Set<string>();
    for (let i = 1; i <= 12; i++) {
      const seen = new Set<string>();
      for (let j = 0; j < 4; j++) seen.add(await getFrom(`${lb.url()}/`, '127.0.0.1', { 'x-forwarded-for': `198.51.100.${i}` }));
      assert.equal(seen.size, 1);
      owners.add([...seen][0] as string);
    }
    assert.ok(owners.size >= 2, 'different forwarded clients spread over servers');
  });
});

describe('consistent-hash', () => {
  test('a header key keeps each user on one server; requests without it still get served', async (t) => {
    const backends = [await startBackend('a'), await startBackend('b'), await startBackend('c')];
    const lb = await startBallast(simpleConfig(backends.map((b) => b.address), { algorithm: 'consistent-hash', hashKey: 'header:x-user' }));
    t.after(async () => {
      await lb.close();
      await closeAll(backends);
    });
    const owners = new Set<string>();
    for (let user = 0; user < 20; user++) {
      const seen = new Set<string>();
      for (let i = 0; i < 4; i++) seen.add(await getFrom(`${lb.url()}/`, '127.0.0.1', { 'x-user': `user-${user}` }));
      assert.equal(seen.size, 1, `user-${user} sticks`);
      owners.add([...seen][0] as string);
    }
    assert.equal(owners.size, 3, 'twenty users cover all three servers');
    const keyless = new Set<string>();
    for (let i = 0; i < 6; i++) keyless.add(await getFrom(`${lb.url()}/`));
    assert.equal(keyless.size, 3, 'requests without the key fall back to round robin');
  });
});
