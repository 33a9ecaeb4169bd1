/**
 * The admin API's window onto a running Ballast: what it may read and the
 * few operator actions it may take. The runtime implements it; the admin
 * server never reaches past it into pools, listeners or config.
 */
import type { EventBus } from '../core/events.js';
import type { RuntimeStatus } from '../runtime/status.js';
import type { ServerAction } from '../runtime/runtime.js';

/** Outcome of `AdminView.reload`: the new config is live, or the old one stays and `errors` say why. */
export type ReloadResult = { readonly ok: true } | { readonly ok: false; readonly errors: readonly string[] };

/** What the admin API may see and do; the runtime implements it. */
export interface AdminView {
  /** The `GET /api/v1/status` document. Must not contain secrets (tokens, cookie or TSIG secrets). */
  status(): RuntimeStatus;
  /** Applies an operator action at once; throws a BallastError with a 404 code for an unknown pool or server. */
  serverAction(pool: string, server: string, action: ServerAction): void;
  /** Re-reads the config file and applies it; on failure the running config stays. */
  reload(): Promise<ReloadResult>;
  /** State changes, for `GET /api/v1/events` and its live stream. */
  readonly events: EventBus;
  /** Manual failback of a GSLB site; throws BallastError (404 unknown site or no gslb, 409 not recovering). */
  failback?(site: string): unknown;
  /** `AvailabilityLedger.availability()`, or `{}` when no ledger is kept. */
  availability(): unknown;
  /** The Prometheus exposition served on `GET /metrics`. */
  metrics(): Promise<{ readonly contentType: string; readonly body: string }>;
}
