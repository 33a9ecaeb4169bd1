/**
 * Server states as the admin API and metrics report them. `unknown` is the
 * state before the first health-check verdict.
 */
export const SERVER_STATES = ['unknown', 'healthy', 'unhealthy', 'ejected', 'draining', 'disabled'] as const;
export type ServerState = (typeof SERVER_STATES)[number];

/**
 * What a balancer may read of a server. Balancers never change these fields;
 * the pool does, and tells the balancer through `setUp`, `setDown` and
 * `reweight`.
 */
export interface BalancerTarget {
  /** Stable identity within its pool (the server's configured name). */
  readonly name: string;
  /** Effective weight now (configured weight scaled by slow start); 0 means never pick. */
  readonly weight: number;
  /** Requests or connections in flight to this server. */
  readonly inFlight: number;
  /** True when the server has reached its connection limit and must be skipped. */
  readonly atCapacity: boolean;
}

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** `host:port` with IPv6 hosts in brackets, as configs and logs write addresses. */
export function formatHostPort(address: HostPort): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}
