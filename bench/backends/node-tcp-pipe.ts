/**
 * The bare Node.js TCP proxy of the L4 benchmark: `net.createServer`,
 * `net.connect` and `pipe()` both ways, nothing else. It shows what a
 * connection costs in Node.js before any balancing, the floor a proxy written
 * in Node.js starts from. One listener on 127.0.0.1 per `PORT=TARGET,...`
 * argument; each accepted connection goes to the listener's next target port
 * on 127.0.0.1, round robin, with half-close and no Nagle delay as in the
 * proxies it is compared with.
 *
 * Usage: node node-tcp-pipe.js PORT=TARGET[,TARGET...] ...
 * Prints "ready" on stdout once every listener listens; exits on SIGTERM.
 */
import { connect, createServer } from 'node:net';
import type { Server } from 'node:net';
import { pathToFileURL } from 'node:url';

export interface PipeSpec {
  readonly port: number;
  readonly targets: readonly number[];
}

/** Parses `PORT=TARGET[,TARGET...]` arguments; throws on anything else. */
export function parsePipeArgs(args: readonly string[]): PipeSpec[] {
  if (args.length === 0) throw new Error('usage: node-tcp-pipe PORT=TARGET[,TARGET...] ...');
  return args.map((arg) => {
    const match = /^(\d{1,5})=(\d{1,5}(?:,\d{1,5})*)$/.exec(arg);
    const ports = match ? [match[1] as string, ...(match[2] as string).split(',')].map(Number) : [];
    if (ports.length < 2 || ports.some((port) => port < 1 || port > 65535)) {
      throw new Error(`expected PORT=TARGET[,TARGET...], got "${arg}"`);
    }
    return { port: ports[0] as number, targets: ports.slice(1) };
  });
}

function serve(spec: PipeSpec): Promise<Server> {
  let next = 0;
  const server = createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    const port = spec.targets[next++ % spec.targets.length] as number;
    const upstream = connect({ host: '127.0.0.1', port, allowHalfOpen: true, noDelay: true });
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(spec.port, '127.0.0.1', () => resolve(server));
  });
}

async function main(): Promise<void> {
  const servers = await Promise.all(parsePipeArgs(process.argv.slice(2)).map(serve));
  const stop = (): void => {
    for (const server of servers) server.close();
    process.exit(0);
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
