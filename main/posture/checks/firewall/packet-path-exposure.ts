// What the walks say about one IP version: is a new inbound connection to a port no rule opens
// dropped on every path (filtered), accepted on a path that depends on nothing but the sender's
// own choices (open), or does the answer hang on something the ruleset alone cannot tell?
import type { IpVersion, RulesetModel } from './packet-path-model.js';
import type { Assumption, PathOutcome } from './packet-path-walk.js';
import { walkPacket, WalkTooLong } from './packet-path-walk.js';

export type Exposure =
  | { readonly kind: 'filtered'; readonly by: readonly string[] }
  | { readonly kind: 'open'; readonly by: readonly string[]; readonly senderChoices: readonly string[] }
  | { readonly kind: 'uncertain'; readonly because: readonly string[] };

const MAX_REASONS = 4;

export function judgeExposure(model: RulesetModel, ip: IpVersion): Exposure {
  const candidates: (string | null)[] = [null, ...[...model.interfaces].sort()];
  const drops = new Set<string>();
  const uncertain = new Set<string>();
  let open: PathOutcome | undefined;
  for (const iface of candidates) {
    let outcomes: PathOutcome[];
    try {
      outcomes = walkPacket(model, { ip, iface });
    } catch (e) {
      if (!(e instanceof WalkTooLong)) throw e;
      uncertain.add(`the ruleset branches more than the agent follows (${e.message})`);
      continue;
    }
    for (const o of outcomes) {
      const env = o.assumptions.filter((a) => a.chooser === 'environment');
      if (o.result === 'drop') {
        if (iface === null && env.length === 0) drops.add(o.by.join('; '));
      } else if (o.result === 'accept' && iface === null && env.length === 0) {
        open ??= o;
      } else {
        uncertain.add(describe(o, iface, env));
      }
    }
  }
  if (open) return { kind: 'open', by: open.by, senderChoices: open.assumptions.map(assumptionText) };
  if (uncertain.size > 0) return { kind: 'uncertain', because: [...uncertain].slice(0, MAX_REASONS) };
  return { kind: 'filtered', by: [...drops].slice(0, MAX_REASONS) };
}

function describe(o: PathOutcome, iface: string | null, env: readonly Assumption[]): string {
  const where = iface === null ? '' : `arriving on ${iface}`;
  const conditions = env.map(assumptionText).join(' and ');
  const context = [where, conditions === '' ? '' : `if ${conditions}`].filter((s) => s !== '').join(', ');
  if (o.result === 'accept') return `${context === '' ? '' : `${context}, `}a new connection is accepted (${o.by.join('; ')})`;
  return `${context === '' ? '' : `${context}: `}${o.by.join('; ')}`;
}

function assumptionText(a: Assumption): string {
  return `${a.holds ? '' : 'not '}"${a.label}"`;
}
