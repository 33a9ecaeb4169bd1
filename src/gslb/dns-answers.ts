/**
 * Routing policy → DNS answers. Pure: given which sites are active, what each
 * configured record answers now.
 *
 * - failover: the first active target in configured order.
 * - all-healthy: every active target (a CNAME has one value, so its first).
 * - weighted: one target per query, chosen by weight among the active
 *   targets (targets of weight 0 only when every active target has weight
 *   0). The answer here is the candidate set; `pickWeighted` draws per query.
 *
 * Active means healthy and past the failback hysteresis. When no target is
 * active, the targets that are healthy but still recovering serve (the
 * hysteresis protects an active site; with none, a healthy one beats a dead
 * one). When no target is even healthy the record answers as if every target
 * were (failover: the first; all-healthy: all; weighted: by weight over all),
 * the way Route 53 fails open, and the answer is flagged `allTargetsDown`.
 */
import type { DnsRecordConfig } from '../config/types.js';
import type { Random } from '../core/random.js';

export interface TargetAnswer {
  readonly site: string;
  /** An IPv4 address (A), IPv6 address (AAAA) or host name without trailing dot (CNAME). */
  readonly address: string;
  readonly weight: number;
}

export interface RecordAnswer {
  /** Owner name, lower case, without trailing dot (`www.example.com`). */
  readonly fqdn: string;
  readonly type: DnsRecordConfig['type'];
  readonly policy: DnsRecordConfig['policy'];
  /** The RRset served (failover, all-healthy) or the candidates of the per-query draw (weighted). */
  readonly targets: readonly TargetAnswer[];
  /** No target was active: answering in configured order. */
  readonly allTargetsDown: boolean;
}

/** `www` + `example.com` → `www.example.com`; `@` (or empty) is the apex. Lower case, no trailing dot. */
export function recordFqdn(name: string, zone: string): string {
  const apex = normalizeName(zone);
  const relative = normalizeName(name);
  if (relative === '@' || relative === '') return apex;
  if (name.endsWith('.')) return relative;
  return `${relative}.${apex}`;
}

/** Lower case without leading or trailing dots. */
export function normalizeName(name: string): string {
  let start = 0;
  let end = name.length;
  while (start < end && name.charCodeAt(start) === 46) start++;
  while (end > start && name.charCodeAt(end - 1) === 46) end--;
  return name.slice(start, end).toLowerCase();
}

/** The answer of one record given which sites are active. O(targets). */
export function computeAnswer(
  record: DnsRecordConfig,
  zone: string,
  isActive: (site: string) => boolean,
  isUp: (site: string) => boolean = isActive,
): RecordAnswer {
  const all = record.targets.map((target) => ({ site: target.site, address: normalizeTarget(record.type, target.address), weight: target.weight }));
  let pool = all.filter((target) => isActive(target.site));
  if (pool.length === 0) pool = all.filter((target) => isUp(target.site));
  const allTargetsDown = pool.length === 0;
  if (allTargetsDown) pool = all;
  let targets: TargetAnswer[];
  switch (record.policy) {
    case 'failover':
      targets = pool.slice(0, 1);
      break;
    case 'all-healthy':
      targets = record.type === 'CNAME' ? pool.slice(0, 1) : pool;
      break;
    case 'weighted': {
      const positive = pool.filter((target) => target.weight > 0);
      targets = positive.length > 0 ? positive : pool.map((target) => ({ ...target, weight: 1 }));
      break;
    }
    default: {
      const exhaustive: never = record.policy;
      throw new Error(`unknown DNS policy ${String(exhaustive)}`);
    }
  }
  return { fqdn: recordFqdn(record.name, zone), type: record.type, policy: record.policy, targets, allTargetsDown };
}

export function computeAnswers(
  records: readonly DnsRecordConfig[],
  zone: string,
  isActive: (site: string) => boolean,
  isUp: (site: string) => boolean = isActive,
): RecordAnswer[] {
  return records.map((record) => computeAnswer(record, zone, isActive, isUp));
}

/** Same served content (targets, weights, fail-open flag). */
export function sameAnswer(a: RecordAnswer, b: RecordAnswer): boolean {
  if (a.allTargetsDown !== b.allTargetsDown || a.targets.length !== b.targets.length) return false;
  for (let i = 0; i < a.targets.length; i++) {
    const x = a.targets[i];
    const y = b.targets[i];
    if (x === undefined || y === undefined || x.address !== y.address || x.weight !== y.weight) return false;
  }
  return true;
}

/** Human-readable answer: `127.0.0.10,127.0.0.20`, weights as `addr*3` for weighted records. */
export function describeAnswer(answer: RecordAnswer): string {
  if (answer.policy === 'weighted') return answer.targets.map((target) => `${target.address}*${target.weight}`).join(',');
  return answer.targets.map((target) => target.address).join(',');
}

/**
 * Draws one candidate with probability weight / total. Precondition: a
 * non-empty list with positive weights (as `computeAnswer` builds it). O(n).
 */
export function pickWeighted(targets: readonly TargetAnswer[], random: Random): TargetAnswer {
  let total = 0;
  for (const target of targets) total += target.weight;
  let point = random() * total;
  for (const target of targets) {
    point -= target.weight;
    if (point < 0) return target;
  }
  const last = targets[targets.length - 1];
  if (last === undefined) throw new RangeError('pickWeighted needs at least one target');
  return last;
}

/**
 * The values an external DNS server holds for this record, which cannot draw
 * per query: the RRset itself, for weighted A/AAAA every candidate, for a
 * weighted CNAME the heaviest candidate (the first among equals).
 */
export function staticValues(answer: RecordAnswer): string[] {
  if (answer.policy === 'weighted' && answer.type === 'CNAME') {
    let best: TargetAnswer | undefined;
    for (const target of answer.targets) if (best === undefined || target.weight > best.weight) best = target;
    return best === undefined ? [] : [best.address];
  }
  return answer.targets.map((target) => target.address);
}

/** CNAME targets are compared and served without trailing dot, in lower case. */
function normalizeTarget(type: DnsRecordConfig['type'], address: string): string {
  return type === 'CNAME' ? normalizeName(address) : address;
}
