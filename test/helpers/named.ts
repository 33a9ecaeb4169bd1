/**
 * BIND 9 (`named -g`, in the foreground) as a primary for example.com on
 * 127.0.0.1, with a zone that one TSIG key (hmac-sha256) may update.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { queryUdp } from './dns.js';
import { freeDnsPort } from './net.js';
import { requireProgram } from './programs.js';

export interface NamedServer {
  readonly port: number;
  readonly keyName: string;
  /** Base64 TSIG secret of `keyName`. */
  readonly secret: string;
  /** The last 200 lines named printed. */
  readonly log: string[];
  stop(): Promise<void>;
}

export interface NamedOptions {
  /** Zone file lines after $TTL, SOA and NS (`ns1 IN A 127.0.0.1` is always there). */
  readonly records: readonly string[];
  /** TTL and negative-caching TTL of the zone, in seconds. */
  readonly ttl?: number;
  readonly secret: string;
}

const KEY_NAME = 'ballast-key';

/** True when 127.0.0.1:port answers an SOA query for example.com. */
async function servesZone(port: number): Promise<boolean> {
  const answers = await queryUdp(port, 'example.com', 'SOA');
  return answers?.some((answer) => answer.type === 'SOA') === true;
}

/** Starts named in `dir`; it is stopped at the end of the test. */
export async function startNamed(t: { after(fn: () => Promise<void> | void): void }, dir: string, options: NamedOptions): Promise<NamedServer> {
  const program = requireProgram('named', 'bind9', ['/usr/sbin/named', '/usr/bin/named']);
  const ttl = options.ttl ?? 60;
  writeFileSync(
    join(dir, 'example.com.zone'),
    [
      `$TTL ${ttl}`,
      `@ IN SOA ns1.example.com. hostmaster.example.com. 1 3600 600 604800 ${ttl}`,
      '@ IN NS ns1.example.com.',
      'ns1 IN A 127.0.0.1',
      ...options.records,
      '',
    ].join('\n'),
  );
  const log: string[] = [];
  for (let attempt = 1; ; attempt++) {
    const port = await freeDnsPort();
    writeFileSync(
      join(dir, 'named.conf'),
      [
        'options {',
        `  directory "${dir}";`,
        `  listen-on port ${port} { 127.0.0.1; };`,
        '  listen-on-v6 { none; };',
        `  pid-file "${join(dir, 'named.pid')}";`,
        `  session-keyfile "${join(dir, 'session.key')}";`,
        '  recursion no;',
        '  dnssec-validation no;',
        '  allow-query { any; };',
        '};',
        'controls { };',
        `key "${KEY_NAME}" { algorithm hmac-sha256; secret "${options.secret}"; };`,
        `zone "example.com" { type primary; file "${join(dir, 'example.com.zone')}"; update-policy { grant ${KEY_NAME} zonesub ANY; }; };`,
        '',
      ].join('\n'),
    );
    log.length = 0;
    const child = spawn(program, ['-g', '-c', join(dir, 'named.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => {
        log.push(line);
        if (log.length > 200) log.shift();
      });
    }
    const stop = async (): Promise<void> => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    };
    t.after(stop);
    const deadline = Date.now() + 10_000;
    let ready = false;
    while (!ready && child.exitCode === null && Date.now() < deadline) {
      ready = await servesZone(port);
      if (!ready) await sleep(100);
    }
    // named keeps running when one of its sockets is taken (it logs "address
    // in use"); such a server answers UDP while its TCP port is someone else's.
    const portTaken = log.some((line) => line.includes('address in use'));
    if (ready && !portTaken) return { port, keyName: KEY_NAME, secret: options.secret, log, stop };
    await stop();
    if (attempt < 4 && portTaken) continue;
    throw new Error(`named did not start${child.exitCode !== null ? ' (it exited)' : ''}:\n${log.slice(-20).join('\n')}`);
  }
}
