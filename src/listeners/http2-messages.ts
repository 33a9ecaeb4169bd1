/**
 * HTTP/2 requests and responses (Node's compatibility API) seen through the
 * proxy's message interfaces, so one proxy path serves both protocols.
 */
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { headerValue } from '../http1/fields.js';
import type { BodySink, FieldStats, HeaderMap, ProxyRequest, ProxyResponse, RequestBody } from '../proxy/messages.js';
import { fieldStatsOf } from './request-checks.js';

export class Http2Request implements ProxyRequest {
  readonly method: string;
  url: string;
  readonly rawHeaders: string[];
  readonly httpVersionMajor = 2;
  readonly remoteAddress: string;
  readonly contentLength: number;
  readonly body: Http2Body | null;
  readonly stats: FieldStats;
  /** HTTP/2 fields always go through the rewrite (pseudo-headers become Host). */
  readonly plainFields = null;

  constructor(private readonly req: Http2ServerRequest) {
    this.method = req.method;
    this.url = req.url;
    this.rawHeaders = req.rawHeaders;
    this.remoteAddress = req.socket?.remoteAddress ?? '';
    const length = req.headers['content-length'];
    // A request has a body when it declares one, or when its HEADERS frame did not end the stream.
    const declared = length === undefined ? undefined : Number(length);
    this.contentLength = declared ?? -1;
    const hasBody = declared === undefined ? !req.stream.endAfterHeaders : declared > 0;
    this.body = hasBody ? new Http2Body(req, declared) : null;
    this.stats = fieldStatsOf(this.rawHeaders);
  }

  replaceHost(): void {
    // HTTP/2 targets are always origin-form; Host comes from :authority.
  }

  header(lowerName: string): string | undefined {
    return headerValue(this.rawHeaders, lowerName);
  }

  get headers(): HeaderMap {
    return this.req.headers;
  }
}

function onBodyData(this: Http2ServerRequest & { [kBody]: Http2Body }, chunk: Buffer): void {
  this[kBody].piece(chunk);
}
function onBodyEnd(this: Http2ServerRequest & { [kBody]: Http2Body }): void {
  this[kBody].ended();
}

const kBody = Symbol('ballast.http2Body');

class Http2Body implements RequestBody {
  complete = false;
  private sink: BodySink | null = null;

  constructor(
    private readonly req: Http2ServerRequest,
    readonly length: number | undefined,
  ) {}

  start(sink: BodySink): void {
    this.sink = sink;
    const req = this.req as Http2ServerRequest & { [kBody]: Http2Body };
    req[kBody] = this;
    req.on('data', onBodyData);
    req.once('end', onBodyEnd);
  }

  resume(): void {
    this.req.resume();
  }

  piece(chunk: Buffer): void {
    if (!(this.sink as BodySink).data(chunk)) this.req.pause();
  }

  ended(): void {
    this.complete = true;
    this.sink?.end();
  }
}

export class Http2Response implements ProxyResponse {
  onClientGone: (() => void) | undefined = undefined;
  private finished = false;

  constructor(private readonly res: Http2ServerResponse) {
    res.once('close', () => {
      if (!this.finished) this.onClientGone?.();
    });
  }

  get headersSent(): boolean {
    return this.res.headersSent;
  }

  writeHead(status: number, _reason: string | undefined, headers: string[]): void {
    // HTTP/2 has no reason phrase.
    this.res.writeHead(status, headers as unknown as Record<string, string>);
  }

  forwardHead(): boolean {
    return false;
  }

  flushHead(): void {
    // Node's HTTP/2 layer sends the head when it is given.
  }

  write(chunk: Buffer): boolean {
    return this.res.write(chunk);
  }

  onceDrain(listener: () => void): void {
    this.res.once('drain', listener);
  }

  end(body?: Buffer): void {
    this.finished = true;
    if (body === undefined) this.res.end();
    else this.res.end(body);
  }

  destroy(): void {
    this.finished = true;
    this.res.destroy();
  }

  closeConnection(): void {
    // An HTTP/2 stream ends on its own; the connection carries other streams.
  }
}
