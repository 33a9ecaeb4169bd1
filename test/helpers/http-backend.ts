import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: readonly string[];
}

export type BackendHandler = (req: IncomingMessage, res: ServerResponse, backend: TestBackend) => void;

export interface TestBackend {
  readonly name: string;
  readonly port: number;
  /** `127.0.0.1:PORT`, as configs write it. */
  readonly address: string;
  readonly requests: RecordedRequest[];
  readonly server: Server;
  /** Number of TCP connections open to this backend now. */
  connections(): Promise<number>;
  close(): Promise<void>;
}

/** Answers 200 with the backend's name as the body and in `x-backend`. */
export const nameHandler: BackendHandler = (req, res, backend) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'text/plain', 'x-backend': backend.name });
    res.end(backend.name);
  });
};

/** Starts an HTTP server on 127.0.0.1, port 0, that records every request it sees. */
export async function startBackend(name: string, handler: BackendHandler = nameHandler, host = '127.0.0.1'): Promise<TestBackend> {
  const requests: RecordedRequest[] = [];
  const server = createServer({ keepAliveTimeout: 30_000 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const backend: TestBackend = {
    name,
    port,
    address: `${host}:${port}`,
    requests,
    server,
    connections: () =>
      new Promise((resolve, reject) => server.getConnections((error, count) => (error ? reject(error) : resolve(count)))),
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders });
    handler(req, res, backend);
  });
  return backend;
}

export async function startBackends(count: number, handler?: BackendHandler): Promise<TestBackend[]> {
  const backends: TestBackend[] = [];
  for (let i = 1; i <= count; i++) backends.push(await startBackend(`b${i}`, handler));
  return backends;
}

/** What a test context offers for cleanup (`t` of node:test). */
export interface Cleanup {
  after(fn: () => Promise<void>): void;
}

/**
 * Backends named `names` that serve `x-backend` and their name, while their
 * `/healthz` answers 200 or 503 as `healthy` says (healthy unless set false).
 * Closed when the test ends.
 */
export async function startCheckedBackends(t: Cleanup, names: readonly string[], healthy: ReadonlyMap<string, boolean>): Promise<TestBackend[]> {
  const handler: BackendHandler = (req, res, backend) => {
    req.resume();
    if (req.url === '/healthz') {
      res.writeHead(healthy.get(backend.name) === false ? 503 : 200);
      res.end();
      return;
    }
    res.writeHead(200, { 'x-backend': backend.name });
    res.end(backend.name);
  };
  const backends: TestBackend[] = [];
  for (const name of names) backends.push(await startBackend(name, handler));
  t.after(async () => {
    await Promise.all(backends.map((b) => b.close()));
  });
  return backends;
}
