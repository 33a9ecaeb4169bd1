/**
 * The benchmark's fallback backend when NGINX is not installed: one process,
 * one HTTP server per `name=port` argument on 127.0.0.1, each answering every
 * request with 200 and the body "<name>\n", keep-alive on.
 *
 * Usage: node node-backend.js b1=PORT b2=PORT
 * Prints "ready" on stdout once every server listens; exits on SIGTERM.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { pathToFileURL } from 'node:url';

/** Parses `name=port` arguments; throws on anything else. */
export function parseBackendArgs(args: readonly string[]): Array<{ name: string; port: number }> {
  if (args.length === 0) throw new Error('usage: node-backend NAME=PORT ...');
  return args.map((arg) => {
    const match = /^([A-Za-z0-9_-]+)=(\d{1,5})$/.exec(arg);
    const port = match ? Number(match[2]) : 0;
    if (!match || port < 1 || port > 65535) throw new Error(`expected NAME=PORT, got "${arg}"`);
    return { name: match[1] as string, port };
  });
}

/** Starts one server; the response headers and body are built once, not per request. */
function serve(name: string, port: number): Promise<Server> {
  const body = Buffer.from(`${name}\n`);
  const headers = { 'content-type': 'text/plain', 'content-length': String(body.length) };
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    // Drain any request body so the connection stays reusable.
    req.resume();
    res.writeHead(200, headers);
    res.end(body);
  };
  const server = createServer({ keepAliveTimeout: 120_000 }, onRequest);
  // Clients of a benchmark stay connected for the whole run.
  server.headersTimeout = 130_000;
  server.requestTimeout = 0;
  server.maxRequestsPerSocket = 0;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

async function main(): Promise<void> {
  const specs = parseBackendArgs(process.argv.slice(2));
  const servers = await Promise.all(specs.map((s) => serve(s.name, s.port)));
  const stop = (): void => {
    for (const server of servers) {
      server.closeAllConnections();
      server.close();
    }
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  process.stdout.write('ready\n');
}

// Run only when executed directly, so the argument parser stays importable.
if (process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === import.meta.url) {
  main().catch((err: unknown) => {
    process.stderr.write(`${String(err)}\n`);
    process.exit(1);
  });
}
