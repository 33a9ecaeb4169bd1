import assert from 'node:assert/strict';
import { request, type IncomingMessage } from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { BallastEvent } from '../../src/core/events.js';
import { eventually } from '../helpers/net.js';
import { startBackends, type TestBackend } from '../helpers/http-backend.js';
import { TOKEN, json, startAdmin, type AdminHarness } from './admin-harness.js';

/** An open event stream: everything received so far, parsed into frames as it arrives. */
interface Stream {
  readonly response: IncomingMessage;
  /** Every `data:` payload, parsed. */
  readonly events: BallastEvent[];
  /** Comment lines (heartbeats) seen. */
  comments: number;
  /** True once the server ended the response. */
  ended: boolean;
  close(): void;
}

function openStream(base: string): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}/api/v1/events`, { agent: false, headers: { accept: 'text/event-stream' } }, (response) => {
      const stream: Stream = { response, events: [], comments: 0, ended: false, close: () => req.destroy() };
      let buffer = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        buffer += chunk;
        for (;;) {
          const end = buffer.indexOf('\n\n');
          if (end === -1) break;
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          for (const line of frame.split('\n')) {
            if (line.startsWith('data: ')) stream.events.push(JSON.parse(line.slice(6)) as BallastEvent);
            else if (line.startsWith(':')) stream.comments += 1;
          }
        }
      });
      response.on('end', () => {
        stream.ended = true;
      });
      response.on('error', () => undefined);
      resolve(stream);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('admin event stream', () => {
  let backends: TestBackend[];
  let admin: AdminHarness;
  before(async () => {
    backends = await startBackends(2);
    admin = await startAdmin(
      {
        listeners: [{ name: 'web', protocol: 'http', listen: '127.0.0.1:0', routes: [{ pool: 'app' }] }],
        pools: [{ name: 'app', servers: backends.map((b) => ({ name: b.name, address: b.address })) }],
      },
      { adminOptions: { heartbeatMs: 150, maxStreamBufferBytes: 256 * 1024 } },
    );
  });
  after(async () => {
    await admin?.close();
    await Promise.all((backends ?? []).map((b) => b.close()));
  });

  test('without Accept: text/event-stream the events are a JSON array', async () => {
    admin.runtime.events.publish({ type: 'config-reloaded', time: Date.now(), reason: 'json-check' });
    const response = await admin.call('GET', '/api/v1/events');
    assert.equal(response.status, 200);
    assert.match(response.headers['content-type'] ?? '', /^application\/json/);
    const list = json(response) as BallastEvent[];
    assert.equal(list.at(-1)?.reason, 'json-check');
  });

  test('a stream sends the recent events, then live ones, with heartbeats, and is forgotten when the client leaves', async (t) => {
    admin.runtime.events.publish({ type: 'config-reloaded', time: Date.now(), reason: 'before-connect' });
    const stream = await openStream(admin.base);
    t.after(() => stream.close());
    assert.equal(stream.response.statusCode, 200);
    assert.match(stream.response.headers['content-type'] ?? '', /^text\/event-stream/);
    assert.equal(stream.response.headers['cache-control'], 'no-store');
    await eventually(() => stream.events.some((e) => e.reason === 'before-connect'), 'the history is replayed');
    assert.equal(admin.admin.openStreams, 1);

    const drained = await admin.call('POST', '/api/v1/pools/app/servers/b2/drain', { token: TOKEN });
    assert.equal(drained.status, 200, drained.body);
    await eventually(() => stream.events.some((e) => e.type === 'server-draining' && e.server === 'b2'), 'the drain arrives live');
    const enabled = await admin.call('POST', '/api/v1/pools/app/servers/b2/enable', { token: TOKEN });
    assert.equal(enabled.status, 200, enabled.body);
    await eventually(() => stream.events.some((e) => e.type === 'server-enabled' && e.server === 'b2'), 'the enable arrives live');
    const order = stream.events.map((e) => e.type);
    assert.ok(order.lastIndexOf('server-draining') < order.lastIndexOf('server-enabled'), 'events keep their order');

    await eventually(() => stream.comments >= 2, 'heartbeat comments arrive', 10_000);

    stream.close();
    await eventually(() => admin.admin.openStreams === 0, 'the stream is dropped when the client disconnects');
  });

  test('a client that stops reading is cut off instead of buffered without bound', async (t) => {
    const stuck = await openStream(admin.base);
    t.after(() => stuck.close());
    const reader = await openStream(admin.base);
    t.after(() => reader.close());
    await eventually(() => admin.admin.openStreams === 2, 'two streams are open');
    stuck.response.pause();
    // Batches of 8 events of 16 KiB; the next batch waits until the reading
    // client has all of them, so only the stuck client falls behind. Bounded:
    // at most 300 batches (37.5 MiB), far beyond any socket buffer.
    const big = 'x'.repeat(16 * 1024);
    let published = reader.events.length;
    for (let batch = 0; batch < 300 && admin.admin.openStreams === 2; batch++) {
      for (let i = 0; i < 8; i++) {
        admin.runtime.events.publish({ type: 'dns-changed', time: Date.now(), reason: `flood ${batch}.${i}`, detail: { big } });
        published++;
      }
      const deadline = Date.now() + 10_000;
      while (reader.events.length < published && Date.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
      assert.equal(reader.events.length, published, 'the reading client keeps up');
    }
    await eventually(() => admin.admin.openStreams === 1, `the stuck stream is dropped (open: ${admin.admin.openStreams})`);
    admin.runtime.events.publish({ type: 'config-reloaded', time: Date.now(), reason: 'after-flood' });
    await eventually(() => reader.events.some((e) => e.reason === 'after-flood'), 'the reading client keeps its stream', 15_000);
    reader.close();
    await eventually(() => admin.admin.openStreams === 0, 'both streams are gone');
  });

  test('several streams get the same events; closing the server ends them', async (t) => {
    const streams = await Promise.all([openStream(admin.base), openStream(admin.base), openStream(admin.base)]);
    t.after(() => streams.forEach((s) => s.close()));
    await eventually(() => admin.admin.openStreams === 3, 'three streams are open');
    admin.runtime.events.publish({ type: 'dns-changed', time: Date.now(), reason: 'fan-out' });
    await eventually(() => streams.every((s) => s.events.some((e) => e.reason === 'fan-out')), 'every stream receives the event');
    streams[0]?.close();
    await eventually(() => admin.admin.openStreams === 2, 'one stream left');
    await admin.admin.close();
    await eventually(() => streams.slice(1).every((s) => s.ended), 'the server ends the remaining streams');
    assert.equal(admin.admin.openStreams, 0);
  });
});
