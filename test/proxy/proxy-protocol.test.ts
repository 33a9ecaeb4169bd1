import assert from 'node:assert/strict';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import {
  encodeProxyHeader,
  encodeProxyV1,
  encodeProxyV2,
  parseProxyHeader,
  PROXY_V2_SIGNATURE,
  ProxyHeaderParser,
  readProxyHeader,
  type ProxyParseResult,
  type ReadProxyHeaderResult,
} from '../../src/proxy/proxy-protocol.js';

const SIG = PROXY_V2_SIGNATURE.toString('hex');

function hex(buffer: Buffer): string {
  return buffer.toString('hex');
}

function header(result: ProxyParseResult): Extract<ProxyParseResult, { kind: 'header' }> {
  assert.equal(result.kind, 'header', `expected a header, got ${JSON.stringify(result)}`);
  return result as Extract<ProxyParseResult, { kind: 'header' }>;
}

function invalid(result: ProxyParseResult): string {
  assert.equal(result.kind, 'invalid', `expected invalid, got ${JSON.stringify(result)}`);
  return (result as Extract<ProxyParseResult, { kind: 'invalid' }>).reason;
}

/** Feeds `bytes` one at a time; every push but the last must be incomplete. */
function feedBytewise(bytes: Buffer, parser = new ProxyHeaderParser()): ProxyParseResult {
  for (let i = 0; i < bytes.length - 1; i++) {
    assert.equal(parser.push(bytes.subarray(i, i + 1)).kind, 'incomplete', `byte ${i} of ${bytes.length}`);
  }
  return parser.push(bytes.subarray(bytes.length - 1));
}

describe('PROXY v1 encoding', () => {
  test('IPv4 is byte-exact', () => {
    const out = encodeProxyV1({ address: '192.0.2.10', port: 51234 }, { address: '198.51.100.1', port: 443 });
    assert.equal(out.toString('latin1'), 'PROXY TCP4 192.0.2.10 198.51.100.1 51234 443\r\n');
  });

  test('IPv6 is byte-exact', () => {
    const out = encodeProxyV1({ address: '2001:db8::1', port: 1 }, { address: '2001:db8::2', port: 65535 });
    assert.equal(out.toString('latin1'), 'PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n');
  });

  test('IPv4-mapped IPv6 addresses are written as IPv4', () => {
    const out = encodeProxyV1({ address: '::ffff:127.0.0.3', port: 4000 }, { address: '::ffff:127.0.0.1', port: 6432 });
    assert.equal(out.toString('latin1'), 'PROXY TCP4 127.0.0.3 127.0.0.1 4000 6432\r\n');
  });

  test('mixed families become TCP6 with the IPv4 side mapped', () => {
    const out = encodeProxyV1({ address: '127.0.0.3', port: 4000 }, { address: '::1', port: 80 });
    assert.equal(out.toString('latin1'), 'PROXY TCP6 ::ffff:127.0.0.3 ::1 4000 80\r\n');
  });

  test('addresses that are not IP literals, and bad ports, give UNKNOWN', () => {
    assert.equal(encodeProxyV1({ address: 'localhost', port: 1 }, { address: '127.0.0.1', port: 2 }).toString(), 'PROXY UNKNOWN\r\n');
    assert.equal(encodeProxyV1({ address: '', port: 1 }, { address: '127.0.0.1', port: 2 }).toString(), 'PROXY UNKNOWN\r\n');
    assert.equal(encodeProxyV1({ address: '127.0.0.1', port: 70000 }, { address: '127.0.0.1', port: 2 }).toString(), 'PROXY UNKNOWN\r\n');
  });

  test('the longest possible line fits the 107-byte limit', () => {
    const longest = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff';
    const out = encodeProxyV1({ address: longest, port: 65535 }, { address: longest, port: 65535 });
    assert.equal(out.length, 104);
    assert.equal(header(parseProxyHeader(out)).header.source?.address, longest);
  });
});

describe('PROXY v2 encoding', () => {
  test('IPv4 is byte-exact', () => {
    const out = encodeProxyV2({ address: '192.0.2.10', port: 51234 }, { address: '198.51.100.1', port: 443 });
    assert.equal(hex(out), `${SIG}2111000c` + 'c000020a' + 'c6336401' + 'c822' + '01bb');
  });

  test('IPv6 is byte-exact', () => {
    const out = encodeProxyV2({ address: '2001:db8::1', port: 51234 }, { address: '2001:db8:0:1:2:3:4:5', port: 443 });
    assert.equal(
      hex(out),
      `${SIG}21210024` + '20010db8000000000000000000000001' + '20010db8000000010002000300040005' + 'c822' + '01bb',
    );
  });

  test('IPv6 forms: leading ::, embedded IPv4, zone index, no compression', () => {
    const cases: [string, string][] = [
      ['::1', '00000000000000000000000000000001'],
      ['::', '00000000000000000000000000000000'],
      ['fe80::1%lo', 'fe800000000000000000000000000001'],
      ['::ffff:1.2.3.4', '00000000000000000000ffff01020304'],
      ['64:ff9b::192.0.2.33', '0064ff9b0000000000000000c0000221'],
      ['1:2:3:4:5:6:7:8', '00010002000300040005000600070008'],
      ['1::', '00010000000000000000000000000000'],
    ];
    for (const [address, expected] of cases) {
      const out = encodeProxyV2({ address, port: 1 }, { address: '::1', port: 2 });
      assert.equal(hex(out.subarray(16, 32)), expected, address);
    }
  });

  test('mixed families become INET6 with the IPv4 side mapped', () => {
    const out = encodeProxyV2({ address: '127.0.0.3', port: 1 }, { address: '::1', port: 2 });
    assert.equal(hex(out.subarray(12, 16)), '21210024');
    assert.equal(hex(out.subarray(16, 32)), '00000000000000000000ffff7f000003');
  });

  test('unknown addresses give family UNSPEC with no address block', () => {
    const out = encodeProxyV2({ address: 'example', port: 1 }, { address: '127.0.0.1', port: 2 });
    assert.equal(hex(out), `${SIG}21000000`);
  });

  test('encodeProxyHeader picks the version', () => {
    const src = { address: '127.0.0.1', port: 1 };
    const dst = { address: '127.0.0.2', port: 2 };
    assert.deepEqual(encodeProxyHeader('v1', src, dst), encodeProxyV1(src, dst));
    assert.deepEqual(encodeProxyHeader('v2', src, dst), encodeProxyV2(src, dst));
  });
});

describe('PROXY header parsing', () => {
  test('v1 and v2 round-trip through the parser', () => {
    const pairs: [string, string][] = [
      ['10.1.2.3', '10.9.8.7'],
      ['2001:db8::1', '2001:db8::2'],
      ['::1', '::'],
      ['2001:db8:0:0:1:0:0:1', '1:0:0:2:0:0:0:3'],
    ];
    for (const [src, dst] of pairs) {
      for (const encode of [encodeProxyV1, encodeProxyV2]) {
        const bytes = encode({ address: src, port: 1234 }, { address: dst, port: 80 });
        const parsed = header(parseProxyHeader(bytes)).header;
        assert.equal(parsed.command, 'proxy');
        assert.equal(parsed.length, bytes.length);
        assert.deepEqual(parsed.source?.port, 1234);
        assert.deepEqual(parsed.destination?.port, 80);
        if (encode === encodeProxyV1) {
          assert.equal(parsed.source?.address, src);
          assert.equal(parsed.destination?.address, dst);
        }
      }
    }
  });

  test('v2 IPv6 addresses come back in RFC 5952 form', () => {
    const cases: [string, string][] = [
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
      ['0:0:0:0:0:0:0:1', '::1'],
      ['::', '::'],
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
      ['2001:DB8::AB', '2001:db8::ab'],
      ['::ffff:127.0.0.1', '::ffff:127.0.0.1'],
      ['1::', '1::'],
    ];
    for (const [input, expected] of cases) {
      const parsed = header(parseProxyHeader(encodeProxyV2({ address: input, port: 1 }, { address: '::1', port: 2 }))).header;
      assert.equal(parsed.source?.address, expected, input);
    }
  });

  test('v1 arriving one byte at a time, followed by data', () => {
    const line = Buffer.from('PROXY TCP4 127.0.0.3 127.0.0.1 40000 6432\r\n');
    const parser = new ProxyHeaderParser();
    const result = header(feedBytewise(line, parser));
    assert.deepEqual(result.header, {
      version: 1,
      command: 'proxy',
      source: { address: '127.0.0.3', port: 40000 },
      destination: { address: '127.0.0.1', port: 6432 },
      length: line.length,
    });
    assert.equal(result.rest.length, 0);
    const withData = header(parseProxyHeader(Buffer.concat([line, Buffer.from('hello')])));
    assert.equal(withData.rest.toString(), 'hello');
  });

  test('v2 arriving one byte at a time, followed by data', () => {
    const bytes = encodeProxyV2({ address: '2001:db8::7', port: 5 }, { address: '2001:db8::8', port: 6 });
    const result = header(feedBytewise(bytes));
    assert.deepEqual(result.header, {
      version: 2,
      command: 'proxy',
      source: { address: '2001:db8::7', port: 5 },
      destination: { address: '2001:db8::8', port: 6 },
      length: 52,
    });
    const split = new ProxyHeaderParser();
    assert.equal(split.push(bytes.subarray(0, 20)).kind, 'incomplete');
    const rest = header(split.push(Buffer.concat([bytes.subarray(20), Buffer.from('payload')]))).rest;
    assert.equal(rest.toString(), 'payload');
  });

  test('v2 TLVs are skipped and counted in the length', () => {
    const base = encodeProxyV2({ address: '127.0.0.5', port: 7 }, { address: '127.0.0.1', port: 8 });
    const tlv = Buffer.from([0x04, 0x00, 0x03, 0x61, 0x62, 0x63]); // PP2_TYPE_NOOP "abc"
    const withTlv = Buffer.concat([base, tlv, Buffer.from('X')]);
    withTlv.writeUInt16BE(12 + tlv.length, 14);
    const result = header(parseProxyHeader(withTlv));
    assert.equal(result.header.length, 16 + 12 + tlv.length);
    assert.equal(result.header.source?.address, '127.0.0.5');
    assert.equal(result.rest.toString(), 'X');
  });

  test('v1 UNKNOWN has no addresses, with or without trailing fields', () => {
    for (const line of ['PROXY UNKNOWN\r\n', 'PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n']) {
      const parsed = header(parseProxyHeader(Buffer.from(line))).header;
      assert.equal(parsed.source, undefined);
      assert.equal(parsed.destination, undefined);
      assert.equal(parsed.length, line.length);
    }
  });

  test('v2 LOCAL carries no client address, even when an address block is present', () => {
    const local = Buffer.from(`${SIG}20000000`, 'hex');
    const parsed = header(parseProxyHeader(local)).header;
    assert.deepEqual(parsed, { version: 2, command: 'local', source: undefined, destination: undefined, length: 16 });
    const localWithAddresses = encodeProxyV2({ address: '127.0.0.5', port: 7 }, { address: '127.0.0.1', port: 8 });
    localWithAddresses[12] = 0x20;
    const ignored = header(parseProxyHeader(localWithAddresses)).header;
    assert.equal(ignored.command, 'local');
    assert.equal(ignored.source, undefined);
  });

  test('v2 UNSPEC, UNIX and DGRAM headers fall back to no address', () => {
    const unspec = Buffer.from(`${SIG}21000000`, 'hex');
    assert.equal(header(parseProxyHeader(unspec)).header.source, undefined);
    const unix = Buffer.concat([Buffer.from(`${SIG}213100d8`, 'hex'), Buffer.alloc(216)]);
    const parsedUnix = header(parseProxyHeader(unix)).header;
    assert.equal(parsedUnix.source, undefined);
    assert.equal(parsedUnix.length, 232);
    const dgram = encodeProxyV2({ address: '127.0.0.5', port: 7 }, { address: '127.0.0.1', port: 8 });
    dgram[13] = 0x12;
    assert.equal(header(parseProxyHeader(dgram)).header.source, undefined);
  });

  test('garbage is refused as soon as it cannot be a header', () => {
    assert.match(invalid(parseProxyHeader(Buffer.from('GET / HTTP/1.1\r\n'))), /not a PROXY/);
    const parser = new ProxyHeaderParser();
    assert.equal(parser.push(Buffer.from('PROX')).kind, 'incomplete');
    assert.match(invalid(parser.push(Buffer.from('X'))), /not a PROXY/);
    assert.match(invalid(parseProxyHeader(Buffer.from('\r\n\r\nX'))), /not a PROXY/);
    assert.match(invalid(parseProxyHeader(Buffer.from([0x16, 0x03, 0x01]))), /not a PROXY/);
  });

  test('malformed v1 lines are refused', () => {
    const bad = [
      'PROXY TCP4 127.0.0.1 127.0.0.2 80\r\n',
      'PROXY TCP4 127.0.0.1 127.0.0.2 80 81 82\r\n',
      'PROXY TCP5 127.0.0.1 127.0.0.2 80 81\r\n',
      'PROXY TCP4 ::1 127.0.0.2 80 81\r\n',
      'PROXY TCP6 127.0.0.1 ::1 80 81\r\n',
      'PROXY TCP4 127.0.0.1 127.0.0.2 65536 81\r\n',
      'PROXY TCP4 127.0.0.1 127.0.0.2 080 81\r\n',
      'PROXY TCP4 127.0.0.1 127.0.0.2 -1 81\r\n',
      'PROXY TCP4  127.0.0.1 127.0.0.2 80 81\r\n',
      'PROXY TCP4 127.0.0.1 127.0.0.2 80 81\n',
    ];
    for (const line of bad) assert.equal(parseProxyHeader(Buffer.from(line)).kind, 'invalid', JSON.stringify(line));
  });

  test('a v1 line without CRLF within 107 bytes is refused', () => {
    const parser = new ProxyHeaderParser();
    assert.equal(parser.push(Buffer.from('PROXY TCP4 ')).kind, 'incomplete');
    assert.equal(parser.push(Buffer.alloc(95, '1')).kind, 'incomplete');
    assert.match(invalid(parser.push(Buffer.alloc(1, '1'))), /longer than 107/);
    assert.match(invalid(parseProxyHeader(Buffer.concat([Buffer.from('PROXY '), Buffer.alloc(5000, 'A')]))), /longer than 107/);
  });

  test('an oversized v2 header is refused from its length field alone', () => {
    const huge = Buffer.from(`${SIG}2111ffff`, 'hex');
    assert.match(invalid(parseProxyHeader(huge)), /exceeds 2048/);
    const small = new ProxyHeaderParser(64);
    const withTlvs = Buffer.from(`${SIG}21110040`, 'hex');
    assert.match(invalid(small.push(withTlvs)), /80 bytes exceeds 64/);
  });

  test('bad v2 version, command, family or length is refused', () => {
    const good = encodeProxyV2({ address: '127.0.0.5', port: 7 }, { address: '127.0.0.1', port: 8 });
    const mutate = (index: number, value: number): Buffer => {
      const copy = Buffer.from(good);
      copy[index] = value;
      return copy;
    };
    assert.match(invalid(parseProxyHeader(mutate(12, 0x11))), /version/);
    assert.match(invalid(parseProxyHeader(mutate(12, 0x22))), /command/);
    assert.match(invalid(parseProxyHeader(mutate(13, 0x41))), /family/);
    assert.match(invalid(parseProxyHeader(mutate(13, 0x13))), /family/);
    assert.match(invalid(parseProxyHeader(mutate(15, 4).subarray(0, 20))), /too short/);
  });
});

describe('readProxyHeader on a real socket', () => {
  /** Starts a one-connection server that runs readProxyHeader; resolves with its result and what follows. */
  async function serve(
    timeoutMs: number,
    client: (socket: Socket) => void,
  ): Promise<{ result: ReadProxyHeaderResult; after: string }> {
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const port = (server.address() as AddressInfo).port;
    const clientSocket = connect({ port, host: '127.0.0.1' });
    clientSocket.on('error', () => undefined);
    try {
      return await new Promise((resolve, reject) => {
        const guard = setTimeout(() => reject(new Error('no result within 15 s')), 15_000);
        server.once('connection', (socket: Socket) => {
          socket.on('error', () => undefined);
          readProxyHeader(socket, { timeoutMs }, (result) => {
            if (result.header === undefined) {
              clearTimeout(guard);
              socket.destroy();
              resolve({ result, after: '' });
              return;
            }
            let after = '';
            socket.on('data', (chunk: Buffer) => {
              after += chunk.toString();
            });
            socket.on('end', () => {
              clearTimeout(guard);
              socket.end();
              resolve({ result, after });
            });
            socket.resume();
          });
        });
        client(clientSocket);
      });
    } finally {
      clientSocket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  test('a header split across writes, with data in the same and later writes', async () => {
    const bytes = encodeProxyV2({ address: '127.0.0.9', port: 999 }, { address: '127.0.0.1', port: 5432 });
    const { result, after } = await serve(5000, (socket) => {
      socket.write(bytes.subarray(0, 5));
      setTimeout(() => socket.write(bytes.subarray(5, 20)), 30);
      setTimeout(() => socket.write(Buffer.concat([bytes.subarray(20), Buffer.from('first ')])), 60);
      setTimeout(() => socket.end('second'), 90);
    });
    assert.equal(result.error, undefined);
    assert.equal(result.header?.source?.address, '127.0.0.9');
    assert.equal(after, 'first second');
  });

  test('a peer that stalls mid-header times out', async () => {
    const { result } = await serve(300, (socket) => socket.write('PROXY TCP4 '));
    assert.equal(result.error, 'PROXY header timeout');
  });

  test('a peer that closes before the header ends is reported', async () => {
    const { result } = await serve(5000, (socket) => socket.end('PROXY TCP4 127.0.0.1'));
    assert.match(result.error ?? '', /closed before the PROXY header/);
  });

  test('garbage is reported', async () => {
    const { result } = await serve(5000, (socket) => socket.write('SSH-2.0-OpenSSH\r\n'));
    assert.match(result.error ?? '', /not a PROXY/);
  });
});
