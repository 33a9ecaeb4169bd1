/**
 * The dashboard's files, served by the admin server from memory: the page,
 * its stylesheet and script, and an icon. Nothing is loaded from another
 * origin, so the dashboard works offline and under a strict CSP.
 */
import { createHash } from 'node:crypto';
import { DASHBOARD_JS } from './client.js';
import { DASHBOARD_HTML } from './page.js';
import { DASHBOARD_CSS } from './style.js';

export interface DashboardAsset {
  readonly contentType: string;
  readonly body: Buffer;
  /** Strong validator of `body`, for `If-None-Match`. */
  readonly etag: string;
}

const FAVICON_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">' +
  '<rect width="32" height="32" rx="6" fill="#24292f"/>' +
  '<path d="M6 22h20l-3 5H9z" fill="#1a7f37"/><path d="M15 5h2v15h-2z" fill="#f6f8fa"/>' +
  '<path d="M17 7l8 11h-8z" fill="#0969da"/></svg>';

function asset(contentType: string, text: string): DashboardAsset {
  const body = Buffer.from(text, 'utf8');
  return { contentType, body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
}

/** URL path → file. */
export const DASHBOARD_ASSETS: ReadonlyMap<string, DashboardAsset> = new Map([
  ['/', asset('text/html; charset=utf-8', DASHBOARD_HTML)],
  ['/assets/dashboard.css', asset('text/css; charset=utf-8', DASHBOARD_CSS)],
  ['/assets/dashboard.js', asset('text/javascript; charset=utf-8', DASHBOARD_JS)],
  ['/favicon.svg', asset('image/svg+xml', FAVICON_SVG)],
]);
