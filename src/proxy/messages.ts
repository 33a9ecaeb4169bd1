/**
 * The client side of a proxied HTTP exchange, as the proxy sees it: one
 * request and the response to it, whatever carries them (Ballast's HTTP/1
 * connections, or Node's HTTP/2 streams). The proxy never touches sockets
 * or streams of the client directly.
 */

import type { ResponseHead } from '../http1/head.js';

/** Header fields keyed by lower-case name, joined as Node joins them (`, `; `; ` for Cookie; Set-Cookie as a list). */
export type HeaderMap = Readonly<Record<string, string | string[] | undefined>>;

/** Counts over a request's fields, for the listener's limits and Host rules. */
export interface FieldStats {
  readonly fieldCount: number;
  /** Bytes of names and values. */
  readonly fieldBytes: number;
  readonly hostCount: number;
  /** The Host value (the last, when there are several). */
  readonly host: string | undefined;
  /** Some field name contains `_`. */
  readonly underscore: boolean;
}

export interface ProxyRequest {
  readonly method: string;
  /** The request target in origin-form (`/path?query`); rewritten from absolute-form by the listener. */
  url: string;
  /** Field names and values, alternating, as received (HTTP/2 pseudo-headers included). */
  readonly rawHeaders: string[];
  readonly stats: FieldStats;
  /**
   * The field lines exactly as received (each ending in CRLF) when forwarding
   * them needs none removed or replaced; null otherwise. Lets a plain request
   * be forwarded without splitting its fields.
   */
  readonly plainFields: string | null;
  /** Sets Host to `authority`, replacing every Host field (absolute-form targets). */
  replaceHost(authority: string): void;
  readonly httpVersionMajor: number;
  /** Address of the peer connected to Ballast. */
  readonly remoteAddress: string;
  /** Every value of the field `lowerName`, joined; undefined when absent. */
  header(lowerName: string): string | undefined;
  /** All fields as a map, built on first use (routing rules and hash keys on headers). */
  readonly headers: HeaderMap;
  /** The declared Content-Length, or -1 when the request declared none. */
  readonly contentLength: number;
  /** The request body; null when the request has none. */
  readonly body: RequestBody | null;
}

/** A request body arriving from the client; read once, by one sink. */
export interface RequestBody {
  /** Declared length in bytes; undefined when the body is chunked or of unknown length. */
  readonly length: number | undefined;
  /** Whether the client sent the whole body and it was delivered. */
  readonly complete: boolean;
  /** Starts delivering the body (anything already received first). */
  start(sink: BodySink): void;
  /** Delivery continues after the sink returned false. */
  resume(): void;
}

export interface BodySink {
  /** One piece of body; returns false to pause delivery until `resume`. */
  data(chunk: Buffer): boolean;
  /** The body ended. */
  end(): void;
}

export interface ProxyResponse {
  /** Whether the response head was given (the status can no longer change). */
  readonly headersSent: boolean;
  /** Sets the status and fields; `reason` is ignored by protocols without one. */
  writeHead(status: number, reason: string | undefined, headers: string[]): void;
  /**
   * Passes a server's response head on as it is, when this protocol and
   * connection allow (HTTP/1.1 both ways, a length-framed or bodiless
   * response, keep-alive); false when the caller must use `writeHead`.
   */
  forwardHead(head: ResponseHead): boolean;
  /**
   * Sends a head still held back to be joined with the first body bytes (a
   * server that sends its head first: event streams, long polls).
   */
  flushHead(): void;
  /** Sends body bytes; false asks the sender to wait for `onceDrain`. */
  write(chunk: Buffer): boolean;
  onceDrain(listener: () => void): void;
  /** Completes the response, with a last piece of body if given. */
  end(body?: Buffer): void;
  /** Aborts: the client sees a truncated response (or a reset stream). */
  destroy(): void;
  /**
   * Closes the client connection after this response (an unread body, a
   * refusal): HTTP/1 answers with `Connection: close` and closes lingering;
   * HTTP/2 streams end on their own.
   */
  closeConnection(): void;
  /**
   * Called once when the client goes away before the response finished;
   * with a `fault` when Ballast ended it for a broken request body.
   */
  onClientGone: ((fault?: ClientFault) => void) | undefined;
}

/** A request body that broke its framing: what the client was answered, and why. */
export interface ClientFault {
  readonly status: 400 | 413;
  readonly reason: string;
}
