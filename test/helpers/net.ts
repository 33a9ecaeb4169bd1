import dgram from 'node:dgram';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** Ports this process has handed out: the kernel may offer a closed one again, and two services of one test must not get the same. */
const handedOut = new Set<number>();

/** A TCP port on 127.0.0.1 that was free a moment ago, never one handed out before in this process. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (;;) {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, host, () => resolve()));
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}

/** Polls `check` every `everyMs` until it returns true or `timeoutMs` passes; then throws with `what`. */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await sleep(everyMs);
  }
}

/** A UDP port on 127.0.0.1 that was free a moment ago, never one handed out before in this process. */
export async function freeUdpPort(): Promise<number> {
  for (;;) {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
    const port = socket.address().port;
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}

/**
 * A port on 127.0.0.1 that was free a moment ago for both TCP and UDP, as a
 * DNS server needs both: a port free for UDP alone may be a busy TCP port,
 * and a server that binds UDP but not TCP looks ready to a UDP probe.
 */
export async function freeDnsPort(): Promise<number> {
  for (;;) {
    const port = await freePort();
    const socket = dgram.createSocket('udp4');
    const bound = await new Promise<boolean>((resolve) => {
      socket.once('error', () => resolve(false));
      socket.bind(port, '127.0.0.1', () => resolve(true));
    });
    await new Promise<void>((resolve) => (bound ? socket.close(() => resolve()) : resolve()));
    if (bound) return port;
  }
}
