/**
 * Protocol details of the checks: known-answer vectors, and scripted peers on
 * real sockets for answers a healthy real server never gives.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { md5PasswordResponse, postgresCheck, startupMessage } from '../../src/health/active/postgres.js';
import { errorReason } from '../../src/health/active/probe.js';
import { encodeCommand, parseReply, redisCheck, replicationRole, RespError } from '../../src/health/active/redis.js';
import { scramClientFinal, scramClientFirst, scramServerFinalValid } from '../../src/health/active/scram.js';
import { httpCheck, statusInRanges } from '../../src/health/active/http.js';
import { tcpCheck } from '../../src/health/active/tcp.js';
import type { HostPort } from '../../src/core/server.js';
import { httpConfig, postgresConfig, redisConfig, tcpConfig } from './configs.js';

/** A TCP peer on 127.0.0.1 that runs `script` on each connection. */
async function scriptedPeer(script: (socket: Socket) => void): Promise<{ target: HostPort; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    script(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    target: { host: '127.0.0.1', port: (server.address() as AddressInfo).port },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A backend message: type, Int32 length, payload. */
function backend(type: string, payload: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.write(type, 0, 'latin1');
  header.writeInt32BE(payload.length + 4, 1);
  return Buffer.concat([header, payload]);
}

function authRequest(code: number, data: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(4);
  head.writeInt32BE(code);
  return backend('R', Buffer.concat([head, data]));
}

const signal = (): AbortSignal => new AbortController().signal;

describe('SCRAM-SHA-256', () => {
  test('matches the RFC 7677 example exchange', async () => {
    const first = scramClientFirst({ nonce: 'rOprNGfwEbeRWgbNEkqO', user: 'user' });
    assert.equal(first.message, 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO');
    const final = await scramClientFinal(first, 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096', 'pencil');
    assert.equal(final.message, 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=');
    assert.equal(scramServerFinalValid('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=', final), true);
    assert.equal(scramServerFinalValid('v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=', final), false);
    assert.equal(scramServerFinalValid('e=invalid-proof', final), false);
  });

  test('refuses a server nonce that does not extend the client nonce', async () => {
    const first = scramClientFirst({ nonce: 'abc' });
    await assert.rejects(scramClientFinal(first, 'r=xyz123,s=QUJD,i=4096', 'pw'), /does not extend/);
    await assert.rejects(scramClientFinal(first, 'r=abc123,i=4096', 'pw'), /malformed/);
  });
});

describe('PostgreSQL wire details', () => {
  test('MD5 response agrees with the stored hash of postgres/postgres', () => {
    // PostgreSQL stores md5(password + user): "md5" + 3175bce1d3201d16594cebf9d7eb3f9d for postgres/postgres.
    const salt = Buffer.from([1, 2, 3, 4]);
    const expected = 'md5' + createHash('md5').update(Buffer.concat([Buffer.from('3175bce1d3201d16594cebf9d7eb3f9d'), salt])).digest('hex');
    assert.equal(md5PasswordResponse('postgres', 'postgres', salt), expected);
  });

  test('the startup message is protocol 3.0 with user and database', () => {
    const message = startupMessage('app', 'orders');
    assert.equal(message.readInt32BE(0), message.length);
    assert.equal(message.readInt32BE(4), 196608);
    assert.deepEqual(message.toString('utf8', 8).split('\0'), ['user', 'app', 'database', 'orders', 'application_name', 'ballast-health-check', '', '']);
  });

  const cases: [name: string, reply: (socket: Socket) => void, reason: string | RegExp][] = [
    ['an unsupported authentication method', (s) => s.write(authRequest(7)), 'auth failed: unsupported authentication method 7'],
    [
      'SASL without SCRAM-SHA-256',
      (s) => s.write(authRequest(10, Buffer.from('SCRAM-SHA-256-PLUS\0\0'))),
      'auth failed: unsupported SASL mechanisms SCRAM-SHA-256-PLUS',
    ],
    ['a server that is starting up', (s) => s.write(backend('E', Buffer.from('SFATAL\0C57P03\0Mthe database system is starting up\0\0'))), 'error 57P03: the database system is starting up'],
    ['bytes that are not the protocol', (s) => s.write('HTTP/1.1 400 Bad Request\r\n\r\n'), /^protocol error: /],
    ['a peer that hangs up', (s) => s.end(), 'closed by server'],
  ];
  for (const [name, reply, reason] of cases) {
    test(`names ${name}`, async (t) => {
      const peer = await scriptedPeer((socket) => socket.once('data', () => reply(socket)));
      t.after(() => peer.close());
      const result = await postgresCheck(peer.target, postgresConfig({ password: 'pw', timeout: 2_000 }), signal());
      assert.equal(result.ok, false);
      if (typeof reason === 'string') assert.equal(result.reason, reason);
      else assert.match(result.reason, reason);
    });
  }

  test('rejects a SCRAM server that cannot prove it knows the password', async (t) => {
    let step = 0;
    const peer = await scriptedPeer((socket) =>
      socket.on('data', (chunk: Buffer) => {
        step++;
        if (step === 1) socket.write(authRequest(10, Buffer.from('SCRAM-SHA-256\0\0')));
        else if (step === 2) {
          const nonce = /r=([^,]+)/.exec(chunk.toString('latin1'))?.[1] ?? '';
          socket.write(authRequest(11, Buffer.from(`r=${nonce}server,s=c2FsdA==,i=4096`)));
        } else socket.write(authRequest(12, Buffer.from(`v=${Buffer.alloc(32).toString('base64')}`)));
      }),
    );
    t.after(() => peer.close());
    const result = await postgresCheck(peer.target, postgresConfig({ password: 'pw', timeout: 2_000 }), signal());
    assert.deepEqual(result, { ok: false, reason: 'auth failed: server signature mismatch' });
    assert.equal(step, 3);
  });
  test('rejects a SCRAM server that lets us in without proving itself', async (t) => {
    let step = 0;
    const peer = await scriptedPeer((socket) =>
      socket.on('data', (chunk: Buffer) => {
        step++;
        if (step === 1) socket.write(authRequest(10, Buffer.from('SCRAM-SHA-256\0\0')));
        else if (step === 2) {
          const nonce = /r=([^,]+)/.exec(chunk.toString('latin1'))?.[1] ?? '';
          socket.write(authRequest(11, Buffer.from(`r=${nonce}server,s=c2FsdA==,i=4096`)));
        } else socket.write(authRequest(0));
      }),
    );
    t.after(() => peer.close());
    const result = await postgresCheck(peer.target, postgresConfig({ password: 'pw', timeout: 2_000 }), signal());
    assert.deepEqual(result, { ok: false, reason: 'protocol error: SCRAM exchange incomplete' });
  });
});

describe('RESP', () => {
  test('encodes commands as arrays of bulk strings', () => {
    assert.equal(encodeCommand(['AUTH', 'pässword']).toString('utf8'), '*2\r\n$4\r\nAUTH\r\n$9\r\npässword\r\n');
  });

  test('parses every reply type and waits for incomplete ones', () => {
    const all = Buffer.from('+PONG\r\n-ERR nope\r\n:42\r\n$5\r\nhello\r\n$-1\r\n*2\r\n+a\r\n$1\r\nb\r\n');
    const values: unknown[] = [];
    let offset = 0;
    for (;;) {
      const reply = parseReply(all, offset);
      if (reply === undefined) break;
      values.push(reply.value);
      offset = reply.next;
    }
    assert.deepEqual(values, ['PONG', new RespError('ERR nope'), 42, 'hello', null, ['a', 'b']]);
    assert.equal(offset, all.length);
    assert.equal(parseReply(Buffer.from('$5\r\nhel')), undefined);
    assert.equal(parseReply(Buffer.from('*2\r\n+a\r\n')), undefined);
    assert.throws(() => parseReply(Buffer.from('HTTP/1.1 200 OK\r\n')), /not a RESP reply/);
  });

  test('reads the role from INFO replication', () => {
    assert.equal(replicationRole('# Replication\r\nrole:slave\r\nmaster_host:127.0.0.1\r\n'), 'slave');
    assert.equal(replicationRole('# Replication\r\nrole:master\r\nconnected_slaves:0\r\n'), 'master');
    assert.equal(replicationRole('# Replication\r\n'), undefined);
  });

  test('a loading server and a stranger are named', async (t) => {
    const loading = await scriptedPeer((socket) => socket.once('data', () => socket.write('-LOADING Redis is loading the dataset in memory\r\n')));
    t.after(() => loading.close());
    assert.deepEqual(await redisCheck(loading.target, redisConfig(), signal()), { ok: false, reason: 'LOADING Redis is loading the dataset in memory' });
    const stranger = await scriptedPeer((socket) => socket.once('data', () => socket.write('SSH-2.0-OpenSSH_9.2\r\n')));
    t.after(() => stranger.close());
    assert.deepEqual(await redisCheck(stranger.target, redisConfig(), signal()), { ok: false, reason: 'protocol error: not a RESP reply' });
  });
});

describe('reasons and ranges', () => {
  test('socket errors map to short reasons', () => {
    const error = (code: string): Error => Object.assign(new Error(code), { code });
    assert.equal(errorReason(error('ECONNREFUSED')), 'refused');
    assert.equal(errorReason(error('ECONNRESET')), 'reset');
    assert.equal(errorReason(error('EPIPE')), 'reset');
    assert.equal(errorReason(error('ETIMEDOUT')), 'timeout');
    assert.equal(errorReason(error('EHOSTUNREACH')), 'unreachable');
    assert.equal(errorReason(error('ENOTFOUND')), 'unresolvable host');
    assert.equal(errorReason(error('EMFILE')), 'error EMFILE');
    assert.equal(errorReason(new Error('odd')), 'error: odd');
  });

  test('options Node refuses become a failed check, not an exception', async () => {
    const bad = await httpCheck({ host: '127.0.0.1', port: 1 }, httpConfig({ path: '/with space' }), signal());
    assert.deepEqual(bad, { ok: false, reason: 'error ERR_UNESCAPED_CHARACTERS' });
    const badPort = await tcpCheck({ host: '127.0.0.1', port: 70_000 }, tcpConfig(), signal());
    assert.deepEqual(badPort, { ok: false, reason: 'error ERR_SOCKET_BAD_PORT' });
  });

  test('status ranges are inclusive', () => {
    const ranges = [{ min: 200, max: 299 }, { min: 404, max: 404 }];
    assert.deepEqual([199, 200, 299, 300, 404, 405].map((s) => statusInRanges(s, ranges)), [false, true, true, false, true, false]);
  });
});
