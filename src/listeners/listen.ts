import cluster from 'node:cluster';
import type { Server as NetServer } from 'node:net';
import type { HostPort } from '../core/server.js';
import { formatHostPort } from '../core/server.js';

/**
 * Binds `server` to `address`, rejecting with a clear message when the
 * address is taken. In a cluster worker the socket is shared with the other
 * workers through the primary (Node's cluster), which spreads connections.
 */
export function listenOn(server: NetServer, address: HostPort): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      reject(new Error(`cannot listen on ${formatHostPort(address)}: ${error.code ?? error.message}`, { cause: error }));
    };
    server.once('error', onError);
    server.listen({ host: address.host, port: address.port, exclusive: !cluster.isWorker }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** Resolves when `done()` holds or `timeoutMs` passes, checking every 25 ms. */
export function waitUntil(done: () => boolean, timeoutMs: number): Promise<void> {
  if (done()) return Promise.resolve();
  return new Promise((resolve) => {
    const deadline = Date.now() + timeoutMs;
    const timer = setInterval(() => {
      if (done() || Date.now() >= deadline) {
        clearInterval(timer);
        resolve();
      }
    }, 25);
  });
}
