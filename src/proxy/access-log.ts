/** One line of the access log, written once per finished request or connection. */
export interface AccessLogEntry {
  readonly listener: string;
  /** The X-Request-Id sent to the server (HTTP only). */
  readonly requestId?: string;
  readonly client: string;
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly pool: string | undefined;
  readonly server: string | undefined;
  /** Milliseconds from sending to the server until its response headers; undefined when none came. */
  readonly upstreamMs: number | undefined;
  readonly totalMs: number;
  /** Response body bytes sent to the client. */
  readonly bytes: number;
  readonly retries: number;
  /** Why the request failed, when it did. */
  readonly error: string | undefined;
}

export type AccessLogWriter = (entry: AccessLogEntry) => void;
