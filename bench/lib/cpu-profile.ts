/**
 * Summarizes a V8 `.cpuprofile` (as written by `node --cpu-prof`): self time
 * per function and per area of code (Ballast folder, npm package, Node core,
 * GC). Percentages are of busy time, i.e. everything except `(idle)`.
 */

/** The subset of the V8 CPU profile format read here. */
export interface CpuProfile {
  readonly nodes: ReadonlyArray<{
    readonly id: number;
    readonly callFrame: {
      readonly functionName: string;
      readonly url: string;
      /** 0-based. */
      readonly lineNumber: number;
    };
  }>;
  /** Node id of each sample, in time order. */
  readonly samples: readonly number[];
  /** Microseconds since the previous sample (the first: since the start). */
  readonly timeDeltas: readonly number[];
}

export interface FunctionTime {
  readonly functionName: string;
  /** `path:line`, with the path shortened to what a reader recognizes. */
  readonly location: string;
  readonly area: string;
  readonly selfMs: number;
  /** Share of busy time, 0–100. */
  readonly selfPct: number;
}

export interface AreaTime {
  readonly area: string;
  readonly selfMs: number;
  readonly selfPct: number;
}

export interface ProfileSummary {
  readonly totalMs: number;
  readonly idleMs: number;
  readonly busyMs: number;
  readonly samples: number;
  readonly top: readonly FunctionTime[];
  readonly areas: readonly AreaTime[];
}

/** Shortens a script URL: the part after node_modules/ or the repository's dist/, else the URL. */
export function shortLocation(url: string): string {
  if (url === '') return '';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm !== -1) return url.slice(nm + '/node_modules/'.length);
  const dist = url.lastIndexOf('/dist/');
  if (dist !== -1) return url.slice(dist + 1);
  return url.replace(/^file:\/\//, '');
}

/** Node core modules grouped by the subsystem a reader thinks in. */
const NODE_GROUPS: ReadonlyArray<readonly [RegExp, string]> = [
  [/^_?http(?!2)|^_http_/, 'http'],
  [/^stream|^streams$|^_stream_/, 'streams'],
  [/^net$|^tcp_wrap$|^socketaddress$/, 'net'],
  [/^timers$/, 'timers'],
  [/^events$|^event_target$/, 'events'],
  [/^process$/, 'process (nextTick, microtasks)'],
];

/**
 * The area a frame belongs to: `ballast <folder>` for compiled Ballast code,
 * the npm package name, `node <subsystem>` for Node's own JavaScript, `wasm`
 * for WebAssembly (undici's HTTP parser), and `GC`, `native`, `(program)` for
 * time outside JavaScript.
 */
export function areaOf(functionName: string, url: string): string {
  if (functionName === '(garbage collector)') return 'GC';
  if (functionName === '(program)' || functionName === '(idle)' || functionName === '(root)') return functionName;
  if (url === '') return 'native';
  if (url.startsWith('wasm://')) return 'wasm';
  if (url.startsWith('node:')) {
    const path = url.slice('node:'.length).replace(/^internal\//, '');
    const module = path.split('/')[0] ?? path;
    return `node ${NODE_GROUPS.find(([re]) => re.test(module))?.[1] ?? module}`;
  }
  const nm = url.lastIndexOf('/node_modules/');
  if (nm !== -1) {
    const parts = url.slice(nm + '/node_modules/'.length).split('/');
    const first = parts[0] ?? '';
    return first.startsWith('@') ? `${first}/${parts[1] ?? ''}` : first;
  }
  const dist = url.lastIndexOf('/dist/');
  if (dist !== -1) {
    const parts = url.slice(dist + '/dist/'.length).split('/');
    return parts.length > 1 ? `ballast ${parts[0] ?? ''}/` : 'ballast';
  }
  return 'other';
}

/**
 * Self time per function. Sample i lasts until sample i+1 (`timeDeltas[i+1]`);
 * the last sample gets the mean interval. O(nodes + samples).
 */
export function summarizeProfile(profile: CpuProfile, topN: number): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const selfUs = new Map<number, number>();
  const n = profile.samples.length;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const next = profile.timeDeltas[i + 1];
    total += Math.max(0, next ?? 0);
  }
  const meanInterval = n > 1 ? total / (n - 1) : 0;
  for (let i = 0; i < n; i++) {
    const id = profile.samples[i] as number;
    const next = profile.timeDeltas[i + 1];
    const us = next === undefined ? meanInterval : Math.max(0, next);
    selfUs.set(id, (selfUs.get(id) ?? 0) + us);
  }

  // The same function appears as many nodes (one per call path); merge them.
  const functions = new Map<string, { functionName: string; location: string; area: string; us: number }>();
  let idleUs = 0;
  let allUs = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id);
    if (frame === undefined) continue;
    allUs += us;
    if (frame.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    const name = frame.functionName === '' ? '(anonymous)' : frame.functionName;
    const short = shortLocation(frame.url);
    const location = short === '' ? '' : `${short}:${frame.lineNumber + 1}`;
    const key = `${name}\u0000${location}`;
    const entry = functions.get(key);
    if (entry) entry.us += us;
    else functions.set(key, { functionName: name, location, area: areaOf(frame.functionName, frame.url), us });
  }
  const busyUs = allUs - idleUs;
  const pct = (us: number): number => (busyUs > 0 ? (100 * us) / busyUs : 0);

  const ranked = [...functions.values()].sort((a, b) => b.us - a.us);
  const top = ranked.slice(0, topN).map((f) => ({
    functionName: f.functionName,
    location: f.location,
    area: f.area,
    selfMs: f.us / 1000,
    selfPct: pct(f.us),
  }));
  const areaUs = new Map<string, number>();
  for (const f of ranked) areaUs.set(f.area, (areaUs.get(f.area) ?? 0) + f.us);
  const areas = [...areaUs.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([area, us]) => ({ area, selfMs: us / 1000, selfPct: pct(us) }));
  return { totalMs: allUs / 1000, idleMs: idleUs / 1000, busyMs: busyUs / 1000, samples: n, top, areas };
}

/** Areas below this share of busy time are summed into one line when printed. */
const MIN_AREA_PCT = 0.5;

/** Plain-text rendering for the terminal and the docs. */
export function formatProfile(summary: ProfileSummary): string {
  const lines = [
    `CPU profile: ${summary.samples} samples, ${summary.totalMs.toFixed(0)} ms, ` +
      `busy ${summary.busyMs.toFixed(0)} ms, idle ${summary.idleMs.toFixed(0)} ms`,
    '',
    'Self time by area (% of busy time):',
  ];
  const shown = summary.areas.filter((a) => a.selfPct >= MIN_AREA_PCT);
  for (const a of shown) lines.push(`  ${a.selfPct.toFixed(1).padStart(5)}%  ${a.area}`);
  const rest = summary.areas.slice(shown.length);
  if (rest.length > 0) {
    const pct = rest.reduce((sum, a) => sum + a.selfPct, 0);
    lines.push(`  ${pct.toFixed(1).padStart(5)}%  (${rest.length} smaller areas)`);
  }
  lines.push('', 'Top functions by self time (% of busy time):');
  for (const f of summary.top) {
    const where = f.location === '' ? '' : `  ${f.location}`;
    lines.push(`  ${f.selfPct.toFixed(1).padStart(5)}%  ${f.functionName}${where}`);
  }
  return lines.join('\n');
}
