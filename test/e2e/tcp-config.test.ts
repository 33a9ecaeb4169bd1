import assert from 'node:assert/strict';
import { connect, createServer, type AddressInfo } from 'node:net';
import { test } from 'node:test';
import { startBallast } from '../helpers/ballast.js';

test('a tcp listener from the config balances connections over the pool', async (t) => {
  const echoes = await Promise.all(
    ['e1', 'e2'].map(
      (name) =>
        new Promise<{ name: string; port: number; close(): void }>((resolve) => {
          const server = createServer((socket) => socket.on('data', (data) => socket.write(`${name}:${String(data)}`)));
          server.listen(0, '127.0.0.1', () => resolve({ name, port: (server.address() as AddressInfo).port, close: () => server.close() }));
        }),
    ),
  );
  t.after(() => echoes.forEach((echo) => echo.close()));
  const lb = await startBallast({
    listeners: [{ name: 'db', protocol: 'tcp', listen: '127.0.0.1:0', pool: 'echo' }],
    pools: [{ name: 'echo', algorithm: 'round-robin', servers: echoes.map((e) => ({ name: e.name, address: `127.0.0.1:${e.port}` })) }],
  });
  t.after(() => lb.close());
  const port = lb.handle.address('db')?.port as number;
  const answers: string[] = [];
  for (let i = 0; i < 4; i++) {
    answers.push(
      await new Promise<string>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1', () => socket.write('ping'));
        socket.once('data', (data) => {
          resolve(String(data));
          socket.end();
        });
        socket.on('error', reject);
      }),
    );
  }
  assert.deepEqual(new Set(answers), new Set(['e1:ping', 'e2:ping']));
  const status = lb.handle.status();
  assert.equal(status.listeners[0]?.protocol, 'tcp');
});
