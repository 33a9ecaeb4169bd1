import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { VERSION } from '../../src/core/version.js';
import { buildPayload, type Delivery } from '../../src/hooks/delivery.js';
import { postWebhook } from '../../src/hooks/webhook.js';
import type { BallastEvent } from '../../src/core/events.js';
import { event, startReceiver, webhookAction } from './helpers.js';

function delivery(ev: BallastEvent, sequence = 1, attempt = 1): Delivery {
  return { hook: 'pager', sequence, attempt, event: ev, body: JSON.stringify(buildPayload('pager', sequence, ev)) };
}

describe('webhook hooks', () => {
  test('POSTs the payload as JSON with the Ballast headers and the configured ones', async (t) => {
    const receiver = await startReceiver((_request, res) => {
      res.writeHead(204);
      res.end();
    });
    t.after(() => receiver.close());
    const ev = event('site-down', { site: 'us-east', reason: 'heartbeats lost' });
    const action = webhookAction(receiver.url, { headers: { authorization: 'Bearer secret-token', 'user-agent': 'custom-agent' } });
    const outcome = await postWebhook(action, delivery(ev, 12, 3), new AbortController().signal);
    assert.deepEqual(outcome, { ok: true, summary: 'HTTP 204' });

    const [request] = receiver.requests;
    assert.ok(request);
    assert.equal(request.method, 'POST');
    assert.equal(request.url, '/hook');
    assert.equal(request.headers['content-type'], 'application/json');
    assert.equal(request.headers['authorization'], 'Bearer secret-token');
    assert.equal(request.headers['user-agent'], 'custom-agent');
    assert.equal(request.headers['x-ballast-hook'], 'pager');
    assert.equal(request.headers['x-ballast-event'], 'site-down');
    assert.equal(request.headers['x-ballast-sequence'], '12');
    assert.equal(request.headers['x-ballast-attempt'], '3');
    assert.deepEqual(JSON.parse(request.body), {
      hook: 'pager',
      sequence: 12,
      type: 'site-down',
      time: new Date(ev.time).toISOString(),
      site: 'us-east',
      reason: 'heartbeats lost',
    });
  });

  test('the default user agent names Ballast and its version', async (t) => {
    const receiver = await startReceiver();
    t.after(() => receiver.close());
    const outcome = await postWebhook(webhookAction(receiver.url), delivery(event('dns-changed')), new AbortController().signal);
    assert.equal(outcome.ok, true);
    assert.equal(receiver.requests[0]?.headers['user-agent'], `ballast/${VERSION}`);
  });

  test('5xx, 408 and 429 are retryable failures; other statuses are final', async (t) => {
    const statuses = [500, 503, 408, 429, 404, 400, 302];
    const receiver = await startReceiver((_request, res, index) => {
      const status = statuses[index] ?? 200;
      res.writeHead(status, status === 302 ? { location: 'http://127.0.0.1:1/elsewhere' } : {});
      res.end(`status ${status}`);
    });
    t.after(() => receiver.close());
    const results: { error: string; retryable: boolean }[] = [];
    for (let index = 0; index < statuses.length; index++) {
      const outcome = await postWebhook(webhookAction(receiver.url), delivery(event('server-down'), index + 1), new AbortController().signal);
      assert.ok(!outcome.ok);
      results.push({ error: outcome.error, retryable: outcome.retryable });
    }
    assert.deepEqual(results, [
      { error: 'HTTP 500: status 500', retryable: true },
      { error: 'HTTP 503: status 503', retryable: true },
      { error: 'HTTP 408: status 408', retryable: true },
      { error: 'HTTP 429: status 429', retryable: true },
      { error: 'HTTP 404: status 404', retryable: false },
      { error: 'HTTP 400: status 400', retryable: false },
      { error: 'HTTP 302: status 302', retryable: false },
    ]);
    assert.equal(receiver.requests.length, statuses.length, 'the redirect was not followed');
  });

  test('a refused connection is a retryable failure', async () => {
    const probe = createServer();
    await new Promise<void>((done) => probe.listen(0, '127.0.0.1', () => done()));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((done) => probe.close(() => done()));
    const outcome = await postWebhook(webhookAction(`http://127.0.0.1:${port}/`), delivery(event('server-up')), new AbortController().signal);
    assert.ok(!outcome.ok);
    assert.equal(outcome.retryable, true);
    assert.match(outcome.error, /ECONNREFUSED/);
  });

  test('the timeout aborts a receiver that never answers', async (t) => {
    const receiver = await startReceiver(() => {
      // never answers
    });
    t.after(() => receiver.close());
    const started = Date.now();
    const outcome = await postWebhook(webhookAction(receiver.url, { timeout: 300 }), delivery(event('pool-empty')), new AbortController().signal);
    const elapsed = Date.now() - started;
    assert.ok(!outcome.ok);
    assert.equal(outcome.retryable, true);
    assert.equal(outcome.error, 'no complete answer within the 300 ms timeout');
    assert.ok(elapsed >= 250 && elapsed < 20_000, `took ${elapsed} ms`);
  });

  test('aborting (shutdown) cancels the request', async (t) => {
    const receiver = await startReceiver(() => {
      // never answers
    });
    t.after(() => receiver.close());
    const controller = new AbortController();
    const running = postWebhook(webhookAction(receiver.url, { timeout: 60_000 }), delivery(event('pool-empty')), controller.signal);
    const deadline = Date.now() + 10_000;
    while (receiver.requests.length === 0 && Date.now() < deadline) await new Promise((done) => setTimeout(done, 10));
    controller.abort();
    const outcome = await running;
    assert.ok(!outcome.ok);
    assert.equal(outcome.retryable, false);
    assert.equal(outcome.error, 'aborted at shutdown');
  });
});
