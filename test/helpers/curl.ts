import { run } from './process.js';

export interface CurlResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly exitCode: number;
}

/**
 * Runs the real curl and parses its answer. `args` are extra curl arguments
 * (e.g. `-H`, `-X`, `--resolve`); the last one should be the URL.
 */
export async function curl(args: readonly string[], timeoutMs = 30_000): Promise<CurlResponse> {
  const result = await run('curl', ['-sS', '-i', '--max-time', String(timeoutMs / 1000), ...args], { timeoutMs: timeoutMs + 5000 });
  const text = result.stdout.replace(/\r\n/g, '\n');
  // Skip informational (1xx) blocks.
  let rest = text;
  for (;;) {
    const end = rest.indexOf('\n\n');
    const head = end === -1 ? rest : rest.slice(0, end);
    const statusLine = /^HTTP\/[\d.]+ (\d{3})/.exec(head);
    if (statusLine === null) return { status: 0, headers: {}, body: rest, exitCode: result.code };
    const status = Number(statusLine[1]);
    const body = end === -1 ? '' : rest.slice(end + 2);
    if (status >= 100 && status < 200 && status !== 101) {
      rest = body;
      continue;
    }
    const headers: Record<string, string> = {};
    for (const line of head.split('\n').slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    return { status, headers, body, exitCode: result.code };
  }
}
