import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { ManualClock } from '../../src/core/clock.js';
import { backoff, DROP_WARNING_INTERVAL, HookDispatcher } from '../../src/hooks/dispatcher.js';
import type { Timers } from '../../src/core/timers.js';
import {
  APPEND_LINE,
  HANG,
  event,
  execAction,
  hook,
  killPidFile,
  readText,
  recordingLogger,
  startReceiver,
  tempDir,
  waitUntil,
  webhookAction,
} from './helpers.js';

function sequences(bodies: readonly { body: string }[]): number[] {
  return bodies.map((request) => (JSON.parse(request.body) as { sequence: number }).sequence);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, index) => from + index);
}

describe('HookDispatcher', () => {
  test('a burst of 100 events reaches a webhook in the order handled', async (t) => {
    const receiver = await startReceiver();
    t.after(() => receiver.close());
    const dispatcher = new HookDispatcher([hook('pager', webhookAction(receiver.url))]);
    t.after(() => dispatcher.close(0));
    const types = ['server-down', 'server-up', 'pool-degraded', 'pool-restored'] as const;
    for (let index = 0; index < 100; index++) {
      dispatcher.handle(event(types[index % types.length] ?? 'server-down', { pool: 'web', server: `s${index}` }));
    }
    await waitUntil(() => dispatcher.stats()[0]?.delivered === 100, '100 deliveries');
    assert.deepEqual(sequences(receiver.requests), range(1, 100));
    assert.deepEqual(
      receiver.requests.map((request) => (JSON.parse(request.body) as { server: string }).server),
      range(0, 99).map((index) => `s${index}`),
    );
    assert.deepEqual(
      receiver.requests.map((request) => request.headers['x-ballast-event']),
      range(0, 99).map((index) => types[index % types.length]),
    );
  });

  test('a burst of 100 events reaches an exec hook in the order handled', async (t) => {
    const tmp = tempDir();
    t.after(() => tmp.cleanup());
    const out = tmp.file('lines');
    const dispatcher = new HookDispatcher([hook('script', execAction('sh', [APPEND_LINE, out]))]);
    t.after(() => dispatcher.close(0));
    for (let index = 0; index < 100; index++) {
      dispatcher.handle(event(index % 2 === 0 ? 'server-down' : 'server-up', { pool: 'web', server: `s${index}` }));
    }
    await waitUntil(() => dispatcher.stats()[0]?.delivered === 100, '100 runs', 60_000);
    const lines = readText(out).trim().split('\n');
    assert.deepEqual(
      lines,
      range(0, 99).map((index) => `${index + 1} ${index % 2 === 0 ? 'server-down' : 'server-up'} s${index}`),
    );
  });

  test('a webhook answering 500 is retried with the same body until it succeeds', async (t) => {
    const receiver = await startReceiver((_request, res, index) => {
      res.writeHead(index < 2 ? 500 : 200);
      res.end(index < 2 ? 'try later' : 'ok');
    });
    t.after(() => receiver.close());
    const logger = recordingLogger();
    const dispatcher = new HookDispatcher([hook('pager', webhookAction(receiver.url, { retries: 3, retryDelay: 20 }))], { logger });
    t.after(() => dispatcher.close(0));
    dispatcher.handle(event('server-down', { pool: 'web', server: 'web-1' }));
    await waitUntil(() => dispatcher.stats()[0]?.delivered === 1, 'the delivery');
    const [stats] = dispatcher.stats();
    assert.equal(stats?.retried, 2);
    assert.equal(stats?.failed, 0);
    assert.equal(stats?.lastError, 'HTTP 500: try later');
    assert.equal(receiver.requests.length, 3);
    assert.deepEqual(receiver.requests.map((request) => request.headers['x-ballast-attempt']), ['1', '2', '3']);
    assert.equal(new Set(receiver.requests.map((request) => request.body)).size, 1, 'every attempt sends the same body');
    const retries = logger.lines.filter((line) => line.message === 'hook delivery failed; will retry');
    assert.deepEqual(retries.map((line) => line.fields['retryInMs']), [20, 40]);
  });

  test('after the last retry the event is given up, logged, and the queue moves on', async (t) => {
    const receiver = await startReceiver((request, res) => {
      res.writeHead(request.headers['x-ballast-event'] === 'server-down' ? 503 : 200);
      res.end();
    });
    t.after(() => receiver.close());
    const logger = recordingLogger();
    const dispatcher = new HookDispatcher([hook('pager', webhookAction(receiver.url, { retries: 2, retryDelay: 5 }))], { logger });
    t.after(() => dispatcher.close(0));
    dispatcher.handle(event('server-down', { server: 'a' }));
    dispatcher.handle(event('server-up', { server: 'b' }));
    await waitUntil(() => dispatcher.stats()[0]?.delivered === 1, 'the second event');
    const [stats] = dispatcher.stats();
    assert.equal(stats?.failed, 1);
    assert.equal(stats?.retried, 2);
    assert.deepEqual(receiver.requests.map((request) => request.headers['x-ballast-event']), ['server-down', 'server-down', 'server-down', 'server-up']);
    const given = logger.lines.filter((line) => line.level === 'error');
    assert.equal(given.length, 1);
    assert.equal(given[0]?.message, 'hook delivery failed; event given up');
    assert.equal(given[0]?.fields['err'], 'HTTP 503');
    assert.equal(given[0]?.fields['attempt'], 3);
  });

  test('a final status (404) is not retried', async (t) => {
    const receiver = await startReceiver((_request, res) => {
      res.writeHead(404);
      res.end();
    });
    t.after(() => receiver.close());
    const dispatcher = new HookDispatcher([hook('pager', webhookAction(receiver.url, { retries: 5, retryDelay: 5 }))]);
    t.after(() => dispatcher.close(0));
    dispatcher.handle(event('server-down'));
    await waitUntil(() => dispatcher.stats()[0]?.failed === 1, 'the failure');
    assert.equal(receiver.requests.length, 1);
    assert.equal(dispatcher.stats()[0]?.retried, 0);
  });

  test('an exec hook exiting non-zero is retried `retries` times', async (t) => {
    const tmp = tempDir();
    t.after(() => tmp.cleanup());
    const out = tmp.file('attempts');
    const script = `echo "$BALLAST_ATTEMPT" >> ${out}; [ "$BALLAST_ATTEMPT" -ge 3 ]`;
    const dispatcher = new HookDispatcher([hook('script', execAction('sh', ['-c', script], { retries: 4, retryDelay: 5 }))]);
    t.after(() => dispatcher.close(0));
    dispatcher.handle(event('pool-empty', { pool: 'web' }));
    await waitUntil(() => dispatcher.stats()[0]?.delivered === 1, 'the third attempt');
    assert.equal(readText(out), '1\n2\n3\n');
    assert.equal(dispatcher.stats()[0]?.retried, 2);
  });

  test('retry delays double from retryDelay and are capped', async (t) => {
    assert.deepEqual([1, 2, 3, 4, 5].map((attempt) => backoff(1000, attempt)), [1000, 2000, 4000, 8000, 16000]);
    assert.equal(backoff(1000, 7), 60_000);
    assert.equal(backoff(1000, 500), 60_000);
    assert.equal(backoff(90_000, 3), 90_000, 'a retryDelay above the cap is used as is');

    // The dispatcher asks its timers for exactly these delays.
    const asked: number[] = [];
    const timers: Timers = {
      setTimeout: (callback, delayMs) => {
        asked.push(delayMs);
        return setTimeout(callback, 0);
      },
      clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
    };
    const dispatcher = new HookDispatcher([hook('script', execAction('false', [], { retries: 5, retryDelay: 1000 }))], { timers });
    t.after(() => dispatcher.close(0));
    dispatcher.handle(event('server-down'));
    await waitUntil(() => dispatcher.stats()[0]?.failed === 1, 'the last attempt');
    assert.deepEqual(asked, [1000, 2000, 4000, 8000, 16000]);
  });

  test('a hanging hook delays neither handle() nor the other hooks', async (t) => {
    const tmp = tempDir();
    t.after(() => {
      killPidFile(tmp.file('pid'));
      tmp.cleanup();
    });
    const receiver = await startReceiver();
    t.after(() => receiver.close());
    const hanging = await startReceiver(() => {
      // never answers
    });
    t.after(() => hanging.close());
    const logger = recordingLogger();
    const dispatcher = new HookDispatcher(
      [
        hook('stuck-script', execAction('sh', [HANG, tmp.file('pid')], { timeout: 60_000 })),
        hook('stuck-webhook', webhookAction(hanging.url, { timeout: 60_000 })),
        hook('pager', webhookAction(receiver.url)),
      ],
      { logger },
    );
    t.after(() => dispatcher.close(0));

    for (let index = 0; index < 50; index++) dispatcher.handle(event('server-down', { server: `s${index}` }));
    // handle() is synchronous: everything is queued (or under way) as soon as it returns.
    const queued = dispatcher.stats().map((stats) => [stats.name, stats.queued + (stats.inFlight ? 1 : 0)]);
    assert.deepEqual(queued, [['stuck-script', 50], ['stuck-webhook', 50], ['pager', 50]]);

    await waitUntil(() => dispatcher.stats()[2]?.delivered === 50, 'the healthy hook to get every event');
    assert.deepEqual(sequences(receiver.requests), range(1, 50));
    const [script, webhook] = dispatcher.stats();
    assert.equal(script?.inFlight, true);
    assert.equal(script?.delivered, 0);
    assert.equal(webhook?.inFlight, true);
    assert.equal(webhook?.delivered, 0);

    // Shutdown with a short deadline kills the program and cancels the request.
    const started = Date.now();
    await dispatcher.close(200);
    assert.ok(Date.now() - started < 20_000);
    const after = dispatcher.stats();
    assert.deepEqual(
      after.map((stats) => [stats.name, stats.delivered, stats.failed, stats.dropped, stats.queued, stats.inFlight]),
      [
        ['stuck-script', 0, 1, 49, 0, false],
        ['stuck-webhook', 0, 1, 49, 0, false],
        ['pager', 50, 0, 0, 0, false],
      ],
    );
    assert.equal(after[0]?.lastError, 'killed at shutdown');
    assert.equal(logger.lines.filter((line) => line.message === 'hook events not delivered before shutdown').length, 2);
  });

  test('a full queue drops the oldest waiting events, counts them and warns at a limited rate', async (t) => {
    const held: ServerResponse[] = [];
    const receiver = await startReceiver((_request, res) => held.push(res));
    t.after(() => receiver.close());
    const logger = recordingLogger();
    const clock = new ManualClock();
    const dispatcher = new HookDispatcher([hook('pager', webhookAction(receiver.url), { queueSize: 5 })], { logger, clock });
    t.after(() => dispatcher.close(0));

    // Event 1 is under way; 2..20 compete for 5 places.
    dispatcher.handle(event('server-down', { server: 's1' }));
    await waitUntil(() => held.length === 1, 'the first delivery to be under way');
    for (let index = 2; index <= 20; index++) dispatcher.handle(event('server-down', { server: `s${index}` }));
    let [stats] = dispatcher.stats();
    assert.equal(stats?.dropped, 14);
    assert.equal(stats?.queued, 5);
    const warnings = (): typeof logger.lines => logger.lines.filter((line) => line.message === 'hook queue full; oldest events dropped');
    assert.equal(warnings().length, 1, 'one warning for a burst of drops');
    assert.deepEqual(warnings()[0]?.fields, { hook: 'pager', dropped: 1, oldestDropped: 2, queueSize: 5 });

    clock.advance(DROP_WARNING_INTERVAL);
    dispatcher.handle(event('server-down', { server: 's21' }));
    assert.equal(warnings().length, 2);
    assert.equal(warnings()[1]?.fields['dropped'], 14, 'the next warning counts the drops since the last one');

    // Release the receiver: the first event, then the newest five, in order.
    const release = setInterval(() => held.splice(0).forEach((res) => res.end('ok')), 10);
    t.after(() => clearInterval(release));
    await waitUntil(() => dispatcher.stats()[0]?.delivered === 6, 'the remaining deliveries');
    clearInterval(release);
    assert.deepEqual(sequences(receiver.requests), [1, 17, 18, 19, 20, 21]);
    [stats] = dispatcher.stats();
    assert.equal(stats?.dropped, 15);
  });

  test('filters: event types, pools and sites', async (t) => {
    const receiver = await startReceiver();
    t.after(() => receiver.close());
    const dispatcher = new HookDispatcher([
      hook('all', webhookAction(`${receiver.url}?all`)),
      hook('down-only', webhookAction(`${receiver.url}?down`), { on: ['server-down', 'pool-empty'] }),
      hook('web-pool', webhookAction(`${receiver.url}?web`), { pools: ['web'] }),
      hook('eu-site', webhookAction(`${receiver.url}?eu`), { on: ['site-down', 'site-up'], sites: ['eu-west'] }),
    ]);
    t.after(() => dispatcher.close(0));
    const events = [
      event('server-down', { pool: 'web', server: 'a' }),
      event('server-up', { pool: 'api', server: 'b' }),
      event('pool-empty', { pool: 'api' }),
      event('site-down', { site: 'eu-west' }),
      event('site-down', { site: 'us-east' }),
      event('dns-changed'),
    ];
    for (const ev of events) dispatcher.handle(ev);
    await waitUntil(() => receiver.requests.length === 6 + 2 + 1 + 1, 'every matching delivery');
    await new Promise((done) => setTimeout(done, 100));
    const seen = (query: string): string[] =>
      receiver.requests
        .filter((request) => request.url.endsWith(`?${query}`))
        .map((request) => {
          const payload = JSON.parse(request.body) as { type: string; pool?: string; site?: string };
          return `${payload.type}:${payload.pool ?? payload.site ?? ''}`;
        });
    assert.deepEqual(seen('all'), ['server-down:web', 'server-up:api', 'pool-empty:api', 'site-down:eu-west', 'site-down:us-east', 'dns-changed:']);
    assert.deepEqual(seen('down'), ['server-down:web', 'pool-empty:api']);
    assert.deepEqual(seen('web'), ['server-down:web']);
    assert.deepEqual(seen('eu'), ['site-down:eu-west']);
    assert.deepEqual(
      dispatcher.stats().map((stats) => [stats.name, stats.delivered]),
      [['all', 6], ['down-only', 2], ['web-pool', 1], ['eu-site', 1]],
    );
  });

  test('close lets a slow delivery finish within the deadline, then ignores new events', async (t) => {
    const receiver = await startReceiver((_request, res) => {
      setTimeout(() => res.end('ok'), 300);
    });
    t.after(() => receiver.close());
    const dispatcher = new HookDispatcher([hook('pager', webhookAction(receiver.url))]);
    dispatcher.handle(event('server-down'));
    dispatcher.handle(event('server-up'));
    await dispatcher.close(15_000);
    assert.deepEqual(dispatcher.stats().map((stats) => [stats.delivered, stats.failed, stats.dropped]), [[2, 0, 0]]);
    dispatcher.handle(event('server-down'));
    assert.equal(dispatcher.stats()[0]?.queued, 0);
    assert.equal(receiver.requests.length, 2);
    assert.equal(dispatcher.close(0), dispatcher.close(0), 'close is idempotent');
  });

  test('update keeps the queues and sequence of hooks that stay, drops removed ones, adds new ones', async (t) => {
    const held: ServerResponse[] = [];
    const receiver = await startReceiver((request, res) => {
      if (request.url.endsWith('?keep')) held.push(res);
      else res.end('ok');
    });
    t.after(() => receiver.close());
    const dispatcher = new HookDispatcher([
      hook('keep', webhookAction(`${receiver.url}?keep`)),
      hook('gone', webhookAction(`${receiver.url}?gone`, { timeout: 60_000 })),
    ]);
    t.after(() => dispatcher.close(0));
    for (let index = 0; index < 3; index++) dispatcher.handle(event('server-down'));
    await waitUntil(() => held.length === 1, 'the first held delivery');

    dispatcher.update([
      hook('keep', webhookAction(`${receiver.url}?keep`, { headers: { 'x-config': 'new' } }), { on: ['server-up'] }),
      hook('fresh', webhookAction(`${receiver.url}?fresh`)),
    ]);
    assert.deepEqual(dispatcher.stats().map((stats) => [stats.name, stats.queued]), [['keep', 2], ['fresh', 0]]);
    dispatcher.handle(event('server-down'));
    dispatcher.handle(event('server-up'));
    const release = setInterval(() => held.splice(0).forEach((res) => res.end('ok')), 10);
    t.after(() => clearInterval(release));
    await waitUntil(() => dispatcher.stats()[0]?.delivered === 4, 'the kept hook to deliver everything');
    const kept = receiver.requests.filter((request) => request.url.endsWith('?keep'));
    assert.deepEqual(sequences(kept), [1, 2, 3, 4]);
    assert.deepEqual(kept.map((request) => request.headers['x-config']), [undefined, 'new', 'new', 'new']);
    const fresh = receiver.requests.filter((request) => request.url.endsWith('?fresh'));
    assert.deepEqual(sequences(fresh), [1, 2]);
  });

  test('handle, deliveries and close go on when logging throws', async () => {
    const broken = (): never => {
      throw new Error('log sink broken');
    };
    const logger = { debug: broken, info: broken, warn: broken, error: broken };
    const receiver = await startReceiver((_request, res, index) => {
      res.writeHead(index % 2 === 0 ? 500 : 200);
      res.end();
    });
    try {
      const dispatcher = new HookDispatcher([hook('pager', webhookAction(receiver.url, { retries: 1, retryDelay: 5 }), { queueSize: 2 })], { logger });
      assert.doesNotThrow(() => {
        for (let index = 0; index < 10; index++) dispatcher.handle(event('server-down'));
      });
      // The queue starts on a later turn: 8 of the 10 were pushed out, 2 are delivered (each on its retry).
      await waitUntil(() => dispatcher.stats()[0]?.delivered === 2, 'the deliveries');
      dispatcher.handle(event('server-up'));
      await dispatcher.close(0);
      const [stats] = dispatcher.stats();
      assert.ok((stats?.dropped ?? 0) >= 8);
      assert.ok((stats?.retried ?? 0) >= 2, 'each delivered event needed a retry');
      // The last event was delivered, cut short, or left waiting by close.
      assert.equal((stats?.delivered ?? 0) + (stats?.failed ?? 0) + (stats?.dropped ?? 0), 11);
    } finally {
      await receiver.close();
    }
  });
});
