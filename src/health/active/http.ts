import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { formatHostPort, type HostPort } from '../../core/server.js';
import type { StatusRange } from '../../config/types.js';
import type { CheckResult, HttpHealthCheckConfig } from '../types.js';
import { abortReason, errorReason, fail, pass, withDeadline } from './probe.js';

/** At most this many body bytes are read when looking for `expectBody`. */
export const MAX_BODY_BYTES = 64 * 1024;

export function statusInRanges(status: number, ranges: readonly StatusRange[]): boolean {
  return ranges.some((range) => status >= range.min && status <= range.max);
}

/**
 * `GET config.path` on a fresh connection (no keep-alive, no pooling) with the
 * `Host` header from `config.host`, defaulting to the target address.
 * Healthy when the status is in one of `config.expectStatus` and, when
 * `config.expectBody` is set, the first `MAX_BODY_BYTES` of the body contain it.
 * The reason is the status code on success; `status N`, `body mismatch`,
 * `timeout`, `refused`, `reset`... on failure.
 */
export function httpCheck(target: HostPort, config: HttpHealthCheckConfig, signal: AbortSignal): Promise<CheckResult> {
  const deadline = withDeadline(signal, config.timeout);
  if (deadline.signal.aborted) {
    deadline.dispose();
    return Promise.resolve(fail(abortReason(deadline.signal)));
  }
  return new Promise<CheckResult>((resolve) => {
    let done = false;
    let req: ClientRequest;
    try {
      req = request({
        host: target.host,
        port: target.port,
        method: 'GET',
        path: config.path,
        agent: false,
        headers: {
          host: config.host ?? formatHostPort(target),
          'user-agent': 'ballast-health-check',
          accept: '*/*',
          connection: 'close',
        },
      });
    } catch (error) {
      // Options Node refuses outright, such as a path with spaces.
      deadline.dispose();
      resolve(fail(errorReason(error)));
      return;
    }
    const onAbort = (): void => finish(fail(abortReason(deadline.signal)));

    function finish(result: CheckResult): void {
      if (done) return;
      done = true;
      deadline.signal.removeEventListener('abort', onAbort);
      deadline.dispose();
      req.destroy();
      resolve(result);
    }

    deadline.signal.addEventListener('abort', onAbort, { once: true });
    req.on('error', (error) => finish(fail(errorReason(error))));
    req.on('response', (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      if (!statusInRanges(status, config.expectStatus)) {
        finish(fail(`status ${status}`));
        return;
      }
      const expected = config.expectBody;
      if (expected === undefined) {
        finish(pass(String(status)));
        return;
      }
      const needle = Buffer.from(expected, 'utf8');
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        size += chunk.length;
        // Searching the whole prefix each time costs O(size) per chunk; bounded by MAX_BODY_BYTES.
        const body = Buffer.concat(chunks, Math.min(size, MAX_BODY_BYTES));
        if (body.includes(needle)) finish(pass(String(status)));
        else if (size >= MAX_BODY_BYTES) finish(fail('body mismatch'));
      });
      res.on('end', () => finish(fail('body mismatch')));
      res.on('error', (error) => finish(fail(errorReason(error))));
    });
    req.end();
  });
}
