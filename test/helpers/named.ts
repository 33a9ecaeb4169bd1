/**
 * BIND 9 (`named -g`, in the foreground) as a primary for example.com on
 * 127.0.0.1, with a zone that one TSIG key (hmac-sha256) may update.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { queryUdp } from './dns.js';
import { freeDnsPort } from './net.js';
import { supervise } from './process.js';
import { requireProgram } from './programs.js';

export interface NamedServer {
  readonly port: number;
  readonly keyName: string;
  /** Base64 TSIG secret of `keyName`. */
  readonly secret: string;
  /** What named printed (the last 128–256 KiB). */
  log(): string;
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
    const proc = supervise(spawn(program, ['-g', '-c', join(dir, 'named.conf')], { stdio: ['ignore', 'pipe', 'pipe'] }), 'could not start named');
    const stop = (): Promise<void> => proc.stop('SIGTERM', 5000);
    t.after(stop);
    const deadline = Date.now() + 10_000;
    let ready = false;
    while (!ready && proc.running() && Date.now() < deadline) {
      ready = await servesZone(port);
      if (!ready) await sleep(100);
    }
    // named keeps running when one of its sockets is taken (it logs "address
    // in use"); such a server answers UDP while its TCP port is someone else's.
    const portTaken = proc.log().includes('address in use');
    if (ready && !portTaken) return { port, keyName: KEY_NAME, secret: options.secret, log: proc.log, stop };
    await stop();
    if (attempt < 4 && portTaken) continue;
    throw new Error(`named did not start${proc.running() ? '' : ' (it exited)'}:\n${proc.log().split('\n').slice(-20).join('\n')}`);
  }
}
