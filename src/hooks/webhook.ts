/**
 * The webhook transport: one POST of the payload to the configured URL. A
 * 2xx answer means delivered. Network errors, the timeout, 408, 429 and 5xx
 * may be retried by the dispatcher; any other answer is final (another
 * attempt would get the same). Redirects are not followed: only the
 * configured URL is ever called. Connections are kept alive between
 * deliveries (undici's global pool).
 */
import { request } from 'undici';
import { VERSION } from '../core/version.js';
import type { Delivery, DeliveryOutcome } from './delivery.js';
import type { WebhookHookAction } from './types.js';

/** Bytes of a failed answer's body kept for the log. */
const ERROR_BODY_LIMIT = 512;

const USER_AGENT = `ballast/${VERSION}`;

/** The headers sent: the defaults, then the configured ones (which may override all but content-length). */
export function webhookHeaders(action: WebhookHookAction, delivery: Delivery): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': USER_AGENT,
    'x-ballast-hook': delivery.hook,
    'x-ballast-event': delivery.event.type,
    'x-ballast-sequence': String(delivery.sequence),
    'x-ballast-attempt': String(delivery.attempt),
  };
  for (const [name, value] of Object.entries(action.headers)) headers[name.toLowerCase()] = value;
  headers['content-length'] = String(Buffer.byteLength(delivery.body));
  return headers;
}

/** Sends one attempt. Never rejects. `signal` aborts it (shutdown). */
export async function postWebhook(action: WebhookHookAction, delivery: Delivery, signal: AbortSignal): Promise<DeliveryOutcome> {
  if (signal.aborted) return { ok: false, retryable: false, error: 'aborted before it started' };
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, action.timeout);
  timer.unref();
  const onAbort = (): void => controller.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    const response = await request(action.url, {
      method: 'POST',
      headers: webhookHeaders(action, delivery),
      body: delivery.body,
      signal: controller.signal,
    });
    const status = response.statusCode;
    if (status >= 200 && status < 300) {
      await response.body.dump();
      return { ok: true, summary: `HTTP ${status}` };
    }
    const text = await readStart(response.body, ERROR_BODY_LIMIT);
    const retryable = status >= 500 || status === 408 || status === 429;
    return { ok: false, retryable, error: `HTTP ${status}${text === '' ? '' : `: ${text}`}` };
  } catch (error) {
    if (timedOut) return { ok: false, retryable: true, error: `no complete answer within the ${action.timeout} ms timeout` };
    if (signal.aborted) return { ok: false, retryable: false, error: 'aborted at shutdown' };
    return { ok: false, retryable: true, error: describeError(error) };
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
  }
}

/** The first `limit` bytes of a body as trimmed text; the rest is discarded. */
async function readStart(body: AsyncIterable<Buffer> & { destroy(): unknown }, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    length += chunk.length;
    if (length >= limit) break;
  }
  body.destroy();
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8').trim();
}

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as NodeJS.ErrnoException).code;
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${code === undefined ? '' : `${code} `}${error.message}${cause}`;
}
