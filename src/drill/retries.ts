/**
 * Counting the retries Ballast made during a drill: from the difference of
 * the retries counter (see the metric catalogue) on the admin listener's `/metrics` before and after
 * the load, or (when the drill runs Ballast itself) from the `retries` field
 * of its access log.
 */
import { readFile } from 'node:fs/promises';
import { request } from 'undici';
import { METRIC_CATALOGUE } from '../admin/metrics.js';

const RETRIES_METRIC = METRIC_CATALOGUE.servers.retries.name;

/**
 * Sum of every series of the retries counter on `GET {adminUrl}/metrics`;
 * undefined when the endpoint or the metric is not there.
 */
export async function scrapeRetries(adminUrl: string): Promise<number | undefined> {
  try {
    const response = await request(`${adminUrl}/metrics`, { headersTimeout: 3_000, bodyTimeout: 3_000 });
    if (response.statusCode !== 200) {
      await response.body.dump();
      return undefined;
    }
    return sumMetric(await response.body.text(), RETRIES_METRIC);
  } catch {
    return undefined;
  }
}

/** Sums the samples of one counter in Prometheus text format; undefined when it has none. O(text). */
export function sumMetric(text: string, name: string): number | undefined {
  let total: number | undefined;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    const afterLabels = rest[0] === '{' ? rest.slice(rest.lastIndexOf('}') + 1) : rest;
    const value = Number(afterLabels.trim().split(/\s+/)[0]);
    if (Number.isFinite(value)) total = (total ?? 0) + value;
  }
  return total;
}

/** Sum of the `retries` fields of a JSON-lines access log. Lines that are not JSON are skipped. */
export async function accessLogRetries(path: string): Promise<number> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return 0;
  }
  let total = 0;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    try {
      const entry = JSON.parse(line) as { retries?: unknown };
      if (typeof entry.retries === 'number') total += entry.retries;
    } catch {
      // a partial last line
    }
  }
  return total;
}
