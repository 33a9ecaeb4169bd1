import { BlockList, isIP } from 'node:net';

/** `::ffff:10.0.0.1` → `10.0.0.1`; other addresses unchanged. */
export function normalizeIp(address: string): string {
  if (address.startsWith('::ffff:') && address.includes('.')) return address.slice(7);
  return address;
}

/**
 * A set of addresses and CIDR ranges (`10.0.0.0/8`, `::1`, `127.0.0.1`).
 * `has` costs O(entries) inside Node's BlockList.
 */
export class AddressSet {
  private readonly list = new BlockList();
  readonly empty: boolean;

  constructor(entries: readonly string[]) {
    this.empty = entries.length === 0;
    for (const entry of entries) {
      const slash = entry.indexOf('/');
      const host = slash === -1 ? entry : entry.slice(0, slash);
      const family = isIP(host) === 6 ? 'ipv6' : 'ipv4';
      if (slash === -1) this.list.addAddress(host, family);
      else this.list.addSubnet(host, Number(entry.slice(slash + 1)), family);
    }
  }

  has(address: string): boolean {
    if (this.empty) return false;
    const ip = normalizeIp(address);
    return this.list.check(ip, isIP(ip) === 6 ? 'ipv6' : 'ipv4');
  }
}
