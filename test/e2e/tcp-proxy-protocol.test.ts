import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { writeTempFile } from '../helpers/ballast.js';
import { eventually, freePort } from '../helpers/net.js';
import { spawnProcess, type Spawned } from '../helpers/process.js';
import { exchange, startProxyParsingServer, startTcpBallast, type TcpBallast, type TestTcpServer } from '../proxy/tcp-helpers.js';

/** The loopback address test clients connect from, so a forwarded address differs from Ballast's own. */
const CLIENT_IP = '127.0.0.3';

function haproxyBinary(): string {
  const found = ['/usr/sbin/haproxy', '/usr/bin/haproxy', '/usr/local/sbin/haproxy'].find((path) => existsSync(path));
  if (found === undefined) throw new Error('haproxy is not installed: install the Debian package "haproxy" (scripts/install-test-deps.sh)');
  return found;
}

/** Resolves once something accepts TCP connections on 127.0.0.1:`port`. */
function acceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** GET / through 127.0.0.1:`port` from `localAddress`; resolves with the body and the client's port. */
function httpGet(port: number, localAddress: string, host = '127.0.0.1'): Promise<{ body: string; clientPort: number }> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path: '/', localAddress, agent: false, timeout: 15_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ body: body.trim(), clientPort: req.socket?.localPort ?? clientPort }));
      res.on('error', reject);
    });
    let clientPort = 0;
    req.on('socket', (socket) => socket.on('connect', () => (clientPort = socket.localPort ?? 0)));
    req.on('timeout', () => req.destroy(new Error('HTTP request timed out')));
    req.on('error', reject);
    req.end();
  });
}

describe('PROXY protocol sent to servers', () => {
  let parser: Awaited<ReturnType<typeof startProxyParsingServer>>;
  before(async () => {
    parser = await startProxyParsingServer('parser');
  });
  after(() => parser.close());

  for (const version of ['v1', 'v2'] as const) {
    test(`${version} carries the client address to a parsing server`, async (t) => {
      const lb = await startTcpBallast([parser.address], {}, { proxyProtocol: version });
      t.after(() => lb.close());
      const socket = connect({ port: lb.port, host: '127.0.0.1', localAddress: CLIENT_IP });
      const clientPort = await new Promise<number>((resolve, reject) => {
        socket.once('connect', () => resolve(socket.localPort ?? 0));
        socket.once('error', reject);
      });
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
      socket.end('stream after the header');
      await closed;
      assert.equal(Buffer.concat(chunks).toString(), `${CLIENT_IP}:${clientPort}\nstream after the header`);
      const header = parser.seen.at(-1)?.header;
      assert.equal(header?.version, version === 'v1' ? 1 : 2);
      assert.deepEqual(header?.destination, { address: '127.0.0.1', port: lb.port });
    });
  }
});

/** HAProxy: `report` answers with the client address it was told; `trusted` and `untrusted` forward to Ballast with send-proxy-v2. */
function haproxyConfig(reportPort: number, trustedPort: number, untrustedPort: number, ballastPort: number): string {
  return [
    'global',
    '    maxconn 1000',
    'defaults',
    '    timeout connect 5s',
    '    timeout client 30s',
    '    timeout server 30s',
    'frontend report',
    '    mode http',
    `    bind 127.0.0.1:${reportPort} accept-proxy`,
    '    http-request return status 200 content-type text/plain lf-string "%[src]:%[src_port] %[dst]:%[dst_port]"',
    'frontend trusted',
    '    mode tcp',
    `    bind 127.0.0.1:${trustedPort}`,
    '    default_backend ballast_trusted',
    'backend ballast_trusted',
    '    mode tcp',
    `    server lb 127.0.0.1:${ballastPort} send-proxy-v2`,
    'frontend untrusted',
    '    mode tcp',
    `    bind 127.0.0.1:${untrustedPort}`,
    '    default_backend ballast_untrusted',
    'backend ballast_untrusted',
    '    mode tcp',
    `    server lb 127.0.0.1:${ballastPort} send-proxy-v2 source 127.0.0.2`,
    '',
  ].join('\n');
}

describe('PROXY protocol with HAProxy', () => {
  let haproxy: Spawned;
  let parser: TestTcpServer;
  let acceptLb: TcpBallast;
  /** HAProxy frontend (mode http, accept-proxy) that answers with the client address it was told. */
  let reportPort: number;
  /** HAProxy frontends that forward to `acceptLb` with send-proxy-v2, from a trusted and an untrusted address. */
  let trustedPort: number;
  let untrustedPort: number;

  before(async () => {
    const binary = haproxyBinary();
    parser = await startProxyParsingServer('parser');
    acceptLb = await startTcpBallast([parser.address], {}, { acceptProxyProtocol: true, trustedProxies: ['127.0.0.1/32'], proxyProtocol: 'v1' });
    // A port found free can be taken by another test before HAProxy binds it: then start again on new ones.
    for (let attempt = 1; ; attempt++) {
      reportPort = await freePort();
      trustedPort = await freePort();
      untrustedPort = await freePort();
      haproxy = spawnProcess(binary, ['-f', writeTempFile('haproxy.cfg', haproxyConfig(reportPort, trustedPort, untrustedPort, acceptLb.port)), '-db']);
      try {
        for (const port of [reportPort, trustedPort, untrustedPort]) {
          await eventually(
            async () => {
              if (haproxy.child.exitCode !== null) throw new Error(`haproxy exited:\n${haproxy.output()}`);
              return acceptsConnections(port);
            },
            `haproxy listening on ${port}`,
            15_000,
          );
        }
        return;
      } catch (error) {
        haproxy.kill();
        await haproxy.exited();
        if (attempt >= 3 || !/cannot bind|Address already in use/i.test(haproxy.output())) throw error;
      }
    }
  });

  after(async () => {
    haproxy?.kill();
    await haproxy?.exited();
    await acceptLb?.close();
    await parser?.close();
  });

  for (const version of ['v1', 'v2'] as const) {
    test(`HAProxy accept-proxy sees the client address Ballast sends in ${version}`, async (t) => {
      const lb = await startTcpBallast([`127.0.0.1:${reportPort}`], {}, { proxyProtocol: version });
      t.after(() => lb.close());
      const { body, clientPort } = await httpGet(lb.port, CLIENT_IP);
      assert.equal(body, `${CLIENT_IP}:${clientPort} 127.0.0.1:${lb.port}`, haproxy.output());
    });

    test(`HAProxy accept-proxy sees an IPv6 client address in ${version}`, async (t) => {
      const lb = await startTcpBallast([`127.0.0.1:${reportPort}`], {}, { proxyProtocol: version, listen: '[::1]:0' });
      t.after(() => lb.close());
      const { body, clientPort } = await httpGet(lb.port, '::1', '::1');
      assert.equal(body, `::1:${clientPort} ::1:${lb.port}`, haproxy.output());
    });
  }

  test('Ballast accepts PROXY v2 from a trusted HAProxy and refuses it from an untrusted address', async () => {
    const socket = connect({ port: trustedPort, host: '127.0.0.1', localAddress: CLIENT_IP });
    const clientPort = await new Promise<number>((resolve, reject) => {
      socket.once('connect', () => resolve(socket.localPort ?? 0));
      socket.once('error', reject);
    });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.end('through two proxies');
    await closed;
    assert.equal(Buffer.concat(chunks).toString(), `${CLIENT_IP}:${clientPort}\nthrough two proxies`);

    const acceptedBefore = parser.accepted;
    const refused = await exchange(untrustedPort, 'from the wrong place', { localAddress: CLIENT_IP });
    assert.equal(refused.data.length, 0, 'the untrusted path gets nothing back');
    assert.equal(parser.accepted, acceptedBefore, 'the server never saw the untrusted connection');
    await eventually(() => acceptLb.logs.some((entry) => entry.status === 403), 'refusal logged');
    // HAProxy may retry a refused connection (and its readiness probe counts too), so only the kind is checked.
    const refusals = acceptLb.logs.filter((entry) => entry.status === 403);
    assert.ok(refusals.every((entry) => entry.client === '127.0.0.2'), JSON.stringify(refusals));
    assert.ok(acceptLb.listener.stats().rejected >= refusals.length);

    const again = await exchange(trustedPort, 'still serving', { localAddress: CLIENT_IP });
    assert.match(again.data.toString(), new RegExp(`^${CLIENT_IP.replaceAll('.', '\\.')}:\\d+\\nstill serving$`));
    assert.equal(acceptLb.logs.filter((entry) => entry.status === 200 && entry.client === CLIENT_IP).length, 2);
  });
});
