import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import dnsPacket from 'dns-packet';
import { startBallast } from '../helpers/ballast.js';
import { startBackend } from '../helpers/http-backend.js';
import { freeDnsPort, freePort } from '../helpers/net.js';

test('gslb.dns.rateLimit from the config limits a flood from one address', async (t) => {
  const backend = await startBackend('app');
  const dnsPort = await freeDnsPort();
  const lb = await startBallast({
    listeners: [],
    pools: [{ name: 'app', algorithm: 'round-robin', servers: [{ name: 'app', address: backend.address }] }],
    gslb: {
      site: 'eu',
      heartbeat: { listen: `127.0.0.1:${await freePort()}`, interval: '250ms', secret: 'rate-limit-test-secret' },
      dns: {
        listen: `127.0.0.1:${dnsPort}`,
        zone: 'example.com',
        ttl: '5s',
        rateLimit: { perSecond: 10, burst: 10 },
        records: [{ name: 'www', type: 'A', policy: 'failover', targets: [{ site: 'eu', address: '127.0.0.10' }] }],
      },
    },
  });
  const socket = dgram.createSocket('udp4');
  t.after(async () => {
    socket.close();
    await lb.close();
    await backend.close();
  });
  let answered = 0;
  socket.on('message', () => answered++);
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  for (let id = 1; id <= 200; id++) {
    const query = dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: 'www.example.com' }] });
    socket.send(query, dnsPort, '127.0.0.1');
  }
  await sleep(1000);
  assert.ok(answered >= 10, `the burst is answered (${answered})`);
  assert.ok(answered < 100, `a flood of 200 queries is limited (${answered} answered)`);
});
