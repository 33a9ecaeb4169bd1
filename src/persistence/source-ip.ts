import { normalizeIp } from '../core/address.js';

/**
 * The client's address as balancing and logs should see it. When the peer is
 * a trusted proxy, X-Forwarded-For is walked from the right, skipping trusted
 * hops; the first untrusted address is the client (as NGINX's
 * `real_ip_recursive`). A forged leftmost entry is therefore never believed.
 */
export function clientAddressOf(
  peer: string,
  forwardedFor: string | string[] | undefined,
  isTrusted: (address: string) => boolean,
): string {
  const normalizedPeer = normalizeIp(peer);
  if (forwardedFor === undefined || !isTrusted(peer)) return normalizedPeer;
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = normalizeIp((hops[i] as string).trim());
    if (hop === '') continue;
    if (!isTrusted(hop)) return hop;
  }
  return normalizedPeer;
}
