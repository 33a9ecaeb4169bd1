import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tcpCheck } from '../../src/health/active/tcp.js';
import { runCheck } from '../../src/health/active/index.js';
import { eventually, freePort } from '../helpers/net.js';
import { tcpConfig } from './configs.js';

test('tcp check: a listening port is healthy and the probe connection is closed', async (t) => {
  const open = new Set<Socket>();
  let accepted = 0;
  const server = createServer((socket) => {
    accepted++;
    open.add(socket);
    socket.on('close', () => open.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const target = { host: '127.0.0.1', port: (server.address() as AddressInfo).port };
  assert.deepEqual(await tcpCheck(target, tcpConfig(), new AbortController().signal), { ok: true, reason: 'connected' });
  assert.deepEqual(await runCheck(target, tcpConfig(), new AbortController().signal), { ok: true, reason: 'connected' });
  await eventually(() => accepted === 2 && open.size === 0, 'both probes accepted and closed');
});

test('tcp check: a closed port is refused; an aborted signal is named', async () => {
  const port = await freePort();
  assert.deepEqual(await tcpCheck({ host: '127.0.0.1', port }, tcpConfig(), new AbortController().signal), { ok: false, reason: 'refused' });
  const controller = new AbortController();
  controller.abort();
  assert.deepEqual(await tcpCheck({ host: '127.0.0.1', port }, tcpConfig(), controller.signal), { ok: false, reason: 'aborted' });
});
