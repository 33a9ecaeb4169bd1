/**
 * A backend server of `ballast drill --demo`, run as its own process so the
 * drill can kill it for real:
 *
 *   node demo-backend.js --name NAME --port PORT [--count-file FILE]
 *
 * Listens on 127.0.0.1:PORT (0 = any free port) and prints
 * `listening 127.0.0.1:PORT` once it accepts connections. `GET /healthz`
 * answers `ok`; every other request answers 200 with the server's name.
 *
 * With `--count-file`, each answered request (health checks and the
 * drill's warm-up requests, tagged `x-ballast-drill: …-warmup`, excluded)
 * appends one byte to FILE *before* the answer is sent, so the file's size
 * counts the requests this server answered, survives SIGKILL, and is never
 * below the number of answers a client received (it can exceed it by the one
 * request a kill interrupts between the write and the send).
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    name: { type: 'string', default: 'backend' },
    port: { type: 'string', default: '0' },
    'count-file': { type: 'string' },
  },
});

const name = values.name;
const countFd = values['count-file'] === undefined ? undefined : openSync(values['count-file'], 'a');
const MARK = Buffer.from('.');
const body = Buffer.from(`hello from ${name}\n`);

const server = createServer((req, res) => {
  if (req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok\n');
    return;
  }
  const tag = req.headers['x-ballast-drill'];
  if (countFd !== undefined && !(typeof tag === 'string' && tag.endsWith('-warmup'))) writeSync(countFd, MARK);
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length, 'x-served-by': name });
  res.end(body);
});
server.keepAliveTimeout = 30_000;

server.listen(Number(values.port), '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`listening 127.0.0.1:${port}\n`);
});

const shutdown = (): void => {
  server.close(() => {
    if (countFd !== undefined) closeSync(countFd);
    process.exit(0);
  });
  server.closeAllConnections();
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
