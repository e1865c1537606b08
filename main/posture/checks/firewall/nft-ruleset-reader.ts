// `nft --json list ruleset` → the packet-path model: every chain of the ip, ip6 and inet tables,
// the base chains on the prerouting and input hooks, the rules as steps the walk can run.
// iptables-nft's rules appear with `xt` expressions whose options nft's JSON does not print;
// the tables that hold them are listed so iptables-save's text can stand in for them.
import type { BaseChain, Chain, IpVersion, Rule, Step, Verdict } from './packet-path-model.js';
import { undecided } from './packet-path-model.js';
import { matchTest, renderLeft } from './nft-match-tests.js';
import type { MatchContext } from './nft-match-tests.js';
import { field, isRecord, kindOf, renderValue } from './nft-json-values.js';

export interface NftRuleset {
  readonly tables: Map<string, Map<string, Chain>>;
  readonly baseChains: BaseChain[];
  readonly interfaces: Set<string>;
  /** Tables (`ip filter`) with iptables-nft `xt` expressions, whose options only iptables-save shows. */
  readonly xtTables: Set<string>;
  /** Every table, `family name`, of any family. */
  readonly allTables: string[];
  /** Base chains the walk does not follow (netdev / ingress, bridge, arp): they can only drop more. */
  readonly otherHooks: string[];
}

const IP_FAMILIES = new Map<string, readonly IpVersion[]>([
  ['ip', [4]],
  ['ip6', [6]],
  ['inet', [4, 6]],
]);

const NO_OP_STATEMENTS = new Set(['counter', 'log', 'mangle', 'snat', 'masquerade', 'dup', 'secmark', 'ct helper', 'ct timeout', 'ct expectation', 'last', 'flow', 'xt watcher']);

/** Parses the JSON; throws with a plain message when it is not nft's ruleset. */
export function readNftRuleset(json: string): NftRuleset {
  const data: unknown = JSON.parse(json);
  const items = field(data, 'nftables');
  if (!Array.isArray(items)) throw new Error('nft printed no "nftables" array');

  const sets = new Map<string, unknown[]>();
  const ruleLists = new Map<string, { family: string; table: string; name: string; rules: unknown[] }>();
  const out: NftRuleset = { tables: new Map(), baseChains: [], interfaces: new Set(), xtTables: new Set(), allTables: [], otherHooks: [] };

  for (const item of items) {
    const kind = kindOf(item);
    const body = kind === undefined ? undefined : field(item, kind);
    if (kind === 'table') out.allTables.push(`${String(field(body, 'family'))} ${String(field(body, 'name'))}`);
    if (kind === 'set' || kind === 'map') {
      const elem = field(body, 'elem');
      sets.set(`${String(field(body, 'family'))} ${String(field(body, 'table'))} ${String(field(body, 'name'))}`, Array.isArray(elem) ? elem : []);
    }
    if (kind === 'chain') {
      const family = String(field(body, 'family'));
      const table = String(field(body, 'table'));
      const name = String(field(body, 'name'));
      ruleLists.set(`${family} ${table} ${name}`, { family, table, name, rules: [] });
      const hook = field(body, 'hook');
      if (typeof hook !== 'string') continue;
      const sees = IP_FAMILIES.get(family);
      if (sees && (hook === 'prerouting' || hook === 'input')) {
        const prio = field(body, 'prio');
        out.baseChains.push({ table: `${family} ${table}`, chain: name, hook, prio: typeof prio === 'number' ? prio : 0, policy: field(body, 'policy') === 'drop' ? 'drop' : 'accept', sees });
      } else if (hook === 'ingress') {
        out.otherHooks.push(`${family} ${table} ${name} (${hook})`);
      }
    }
  }
  for (const item of items) {
    const rule = field(item, 'rule');
    if (rule === undefined) continue;
    const list = ruleLists.get(`${String(field(rule, 'family'))} ${String(field(rule, 'table'))} ${String(field(rule, 'chain'))}`);
    list?.rules.push(rule);
  }
  for (const { family, table, name, rules } of ruleLists.values()) {
    if (!IP_FAMILIES.has(family)) continue;
    const tableKey = `${family} ${table}`;
    const chains = out.tables.get(tableKey) ?? new Map<string, Chain>();
    out.tables.set(tableKey, chains);
    chains.set(name, {
      name,
      rules: rules.map((r, i) => readRule(r, { sets, table: tableKey, where: `${tableKey} ${name}, rule ${String(i + 1)}`, interfaces: out.interfaces }, out.xtTables)),
    });
  }
  return out;
}

function readRule(rule: unknown, ctx: MatchContext, xtTables: Set<string>): Rule {
  const expr = field(rule, 'expr');
  const statements = Array.isArray(expr) ? expr : [];
  const steps: Step[] = [];
  const words: string[] = [];
  for (const statement of statements) {
    const kind = kindOf(statement) ?? '?';
    const body = field(statement, kind);
    if (kind === 'xt') xtTables.add(ctx.table);
    const step = readStatement(kind, body, ctx);
    if (step) steps.push(step);
    if (kind !== 'counter') words.push(step?.kind === 'test' ? step.test.label : step?.kind === 'vmap' ? step.label : kind === 'xt' ? `xt ${String(field(body, 'type'))} ${String(field(body, 'name'))}` : renderVerdictWord(kind, body));
  }
  const comment = field(rule, 'comment');
  const text = (words.join(' ') || '(empty rule)') + (typeof comment === 'string' ? ` comment ${JSON.stringify(comment)}` : '');
  return { where: ctx.where, text, steps };
}

function renderVerdictWord(kind: string, body: unknown): string {
  if (kind === 'jump' || kind === 'goto') return `${kind} ${String(field(body, 'target'))}`;
  if (kind === 'reject' && isRecord(body)) return `reject${field(body, 'expr') === undefined ? '' : ` with ${String(field(body, 'type'))} ${String(field(body, 'expr'))}`}`;
  return kind;
}

function readStatement(kind: string, body: unknown, ctx: MatchContext): Step | null {
  const verdict = (v: Verdict): Step => ({ kind: 'verdict', verdict: v });
  const sender = (label: string): Step => ({ kind: 'test', test: undecided(label, 'attacker', false, `${ctx.where}: ${label}`) });
  switch (kind) {
    case 'match':
      return { kind: 'test', test: matchTest(field(body, 'left'), String(field(body, 'op')), field(body, 'right'), ctx) };
    case 'accept':
    case 'drop':
    case 'reject':
    case 'return':
    case 'continue':
      return verdict({ kind });
    case 'jump':
    case 'goto':
      return verdict({ kind, target: String(field(body, 'target')) });
    case 'queue':
      return verdict({ kind: 'uncertain', reason: 'the packet is handed to a program through a queue, which decides' });
    case 'dnat':
    case 'redirect':
    case 'tproxy':
      return verdict({ kind: 'uncertain', reason: 'the packet is sent on to another address or port, whose rules are not judged' });
    case 'notrack':
      return verdict({ kind: 'uncertain', reason: 'the packet is left untracked, so connection-state tests no longer see it as new' });
    case 'synproxy':
      return verdict({ kind: 'uncertain', reason: 'synproxy answers the connection itself' });
    case 'limit':
      // Under the rate or over it: the connecting host picks by how fast it sends.
      return sender(`limit rate ${field(body, 'inv') === true ? 'over ' : ''}${String(field(body, 'rate'))}/${String(field(body, 'per'))}`);
    case 'ct count':
      return sender(`ct count${field(body, 'inv') === true ? ' over' : ''} ${String(field(body, 'val'))}`);
    case 'quota':
      return { kind: 'test', test: undecided(`quota ${field(body, 'inv') === true ? 'over ' : ''}${String(field(body, 'val'))} ${String(field(body, 'val_unit'))}`, 'environment', false, `${ctx.where}: quota`) };
    case 'set':
    case 'meter': {
      const inner = field(body, 'stmt');
      const limited = Array.isArray(inner) && inner.some((s) => kindOf(s) === 'limit' || kindOf(s) === 'ct count' || kindOf(s) === 'quota');
      return limited ? sender(`${kind} ${String(field(body, 'name') ?? field(body, 'set'))} with a rate limit`) : null;
    }
    case 'vmap':
      return readVmap(body, ctx);
    case 'xt':
      return readXt(body, ctx);
    default:
      if (NO_OP_STATEMENTS.has(kind)) return null;
      // A statement this reader does not know: it may be a test, so both ways are walked.
      return { kind: 'test', test: undecided(`the statement "${kind}"`, 'environment', false, `${ctx.where}: ${kind}`) };
  }
}

function readVerdict(v: unknown): Verdict | null {
  const kind = kindOf(v);
  switch (kind) {
    case 'accept':
    case 'drop':
    case 'return':
    case 'continue':
      return { kind };
    case 'jump':
    case 'goto':
      return { kind, target: String(field(field(v, kind), 'target')) };
    default:
      return null;
  }
}

function readVmap(body: unknown, ctx: MatchContext): Step {
  const key = field(body, 'key');
  const data = field(body, 'data');
  const entries = typeof data === 'string' && data.startsWith('@') ? ctx.sets.get(`${ctx.table} ${data.slice(1)}`) : field(data, 'set');
  const pairs: { test: ReturnType<typeof matchTest>; verdict: Verdict | null }[] = [];
  for (const entry of Array.isArray(entries) ? entries : []) {
    if (!Array.isArray(entry)) continue;
    pairs.push({ test: matchTest(key, '==', entry[0], ctx), verdict: readVerdict(entry[1]) });
  }
  const label = `${renderLeft(key)} vmap ${renderValue(data)}`;
  return {
    kind: 'vmap',
    label,
    lookup: (packet) => {
      if (!Array.isArray(entries)) return { kind: 'uncertain', reason: `the verdict map ${renderValue(data)} is not in the ruleset` };
      for (const { test, verdict } of pairs) {
        const d = test.decide(packet);
        if (d === false) continue;
        if (d === true && verdict) return verdict;
        return { kind: 'uncertain', reason: `which entry of the verdict map applies cannot be told (${test.label})` };
      }
      return null;
    },
  };
}

// iptables targets that do not end the packet's way (they log, mark or count).
const XT_PASSING_TARGETS = new Set(['LOG', 'NFLOG', 'ULOG', 'MARK', 'CONNMARK', 'CT', 'TCPMSS', 'CHECKSUM', 'AUDIT', 'TRACE', 'CLASSIFY', 'DSCP', 'TOS', 'TTL', 'HL', 'SECMARK', 'CONNSECMARK', 'SET', 'LED', 'IDLETIMER', 'TEE', 'SNAT', 'MASQUERADE', 'NETMAP', 'RATEEST', 'TCPOPTSTRIP']);

function readXt(body: unknown, ctx: MatchContext): Step | null {
  const name = String(field(body, 'name'));
  if (field(body, 'type') === 'target') {
    if (name === 'REJECT') return { kind: 'verdict', verdict: { kind: 'reject' } };
    if (XT_PASSING_TARGETS.has(name)) return null;
    if (name === 'DNAT' || name === 'REDIRECT' || name === 'TPROXY') return { kind: 'verdict', verdict: { kind: 'uncertain', reason: 'the packet is sent on to another address or port, whose rules are not judged' } };
    return { kind: 'verdict', verdict: { kind: 'uncertain', reason: `the iptables target ${name} decides` } };
  }
  if (name === 'comment') return null;
  return { kind: 'test', test: undecided(`xt match ${name} (its options are only printed by iptables-save)`, 'environment', false, `${ctx.where}: xt ${name}`) };
}
