/**
 * Connections through Ballast's HTTP/1 engine, over real sockets: pipelined
 * requests answered in order, keep-alive on both sides, HTTP/1.0 clients,
 * and a server's connection-management fields never reaching the client.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { simpleConfig, startBallast, type RunningBallast } from '../helpers/ballast.js';
import { portOf, rawExchange, responsesComplete, startRawBackend, type RawBackend } from '../hardening/raw.js';

const HOST = 'Host: app.test\r\n';

describe('HTTP/1 connections through Ballast', () => {
  let backend: RawBackend;
  let lb: RunningBallast;
  let port: number;
  before(async () => {
    // Every answer carries the fields NGINX and Node.js send on keep-alive connections.
    backend = await startRawBackend((request) => {
      const body = `${request.target}\n`;
      return `HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    });
    lb = await startBallast(simpleConfig([backend.address]));
    port = portOf(lb.url());
  });
  after(async () => {
    await lb.close();
    await backend.close();
  });

  test('pipelined requests are answered in order on one connection', async () => {
    const requests = ['/one', '/two', '/three'].map((path) => `GET ${path} HTTP/1.1\r\n${HOST}\r\n`).join('');
    const result = await rawExchange(port, [requests], { until: responsesComplete(3) });
    assert.deepEqual(
      result.responses.map((response) => response.body),
      ['/one\n', '/two\n', '/three\n'],
    );
    assert.equal(result.closed, false, 'the connection stays open');
  });

  test("the server's Connection and Keep-Alive fields are not passed on, and both connections are reused", async () => {
    const connectionsBefore = backend.connections();
    const result = await rawExchange(port, [`GET /a HTTP/1.1\r\n${HOST}\r\n`, `GET /b HTTP/1.1\r\n${HOST}\r\n`], {
      gapMs: 50,
      until: responsesComplete(2),
    });
    assert.deepEqual(
      result.responses.map((response) => response.status),
      [200, 200],
    );
    assert.doesNotMatch(result.text, /keep-alive/i);
    assert.doesNotMatch(result.text, /^connection:/im);
    assert.ok(backend.connections() - connectionsBefore <= 1, 'sequential requests share one server connection');
  });

  test('HTTP/1.0: keep-alive only when asked for, and said so', async () => {
    const kept = await rawExchange(port, [`GET /k HTTP/1.0\r\nConnection: keep-alive\r\n\r\n`], { until: responsesComplete(1), timeoutMs: 1000 });
    assert.equal(kept.status, 200);
    assert.match(kept.text, /\r\nconnection: keep-alive\r\n/i);
    assert.equal(kept.closed, false);
    const closed = await rawExchange(port, [`GET /c HTTP/1.0\r\n\r\n`]);
    assert.equal(closed.status, 200);
    assert.equal(closed.responses[0]?.body, '/c\n');
    assert.ok(closed.closed, 'an HTTP/1.0 request without keep-alive closes the connection');
  });

  test('Connection: close from the client is honoured after the answer', async () => {
    const result = await rawExchange(port, [`GET /bye HTTP/1.1\r\n${HOST}Connection: close\r\n\r\n`]);
    assert.equal(result.status, 200);
    assert.match(result.text, /\r\nconnection: close\r\n/i);
    assert.ok(result.closed);
  });
});
