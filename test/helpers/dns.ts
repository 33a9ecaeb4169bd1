import dgram from 'node:dgram';
import dnsPacket, { type Answer, type RecordType } from 'dns-packet';

/**
 * One query over UDP to 127.0.0.1:port from this process (cheaper than
 * spawning dig, for tight polling). Resolves with the answer section, or
 * undefined when nothing decodable came within `timeout` ms.
 */
export function queryUdp(port: number, name: string, type: RecordType, timeout = 500): Promise<Answer[] | undefined> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket('udp4');
    const id = Math.floor(Math.random() * 65536);
    const timer = setTimeout(() => finish(undefined), timeout);
    function finish(result: Answer[] | undefined): void {
      clearTimeout(timer);
      socket.close();
      resolve(result);
    }
    socket.on('error', () => finish(undefined));
    socket.on('message', (message) => {
      try {
        const decoded = dnsPacket.decode(message);
        if (decoded.id !== id) return;
        finish(decoded.answers ?? []);
      } catch {
        finish(undefined);
      }
    });
    socket.send(dnsPacket.encode({ type: 'query', id, questions: [{ type, name }] }), port, '127.0.0.1');
  });
}
