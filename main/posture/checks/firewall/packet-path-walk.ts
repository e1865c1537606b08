// Walks the symbolic packet through every base chain that sees it (prerouting, then input, each
// by priority), following jumps, gotos and returns. A drop or reject anywhere ends the walk; an
// accept only ends that base chain, and the next one still sees the packet (netfilter's rule).
// Where a test cannot be decided the walk forks, assuming it holds on one path and not on the
// other; one assumption holds the same way along a whole path.
import type { Chooser, Decision, PacketTest, RulesetModel, Rule, Chain, SymbolicPacket, Verdict } from './packet-path-model.js';

export interface Assumption {
  readonly key: string;
  readonly label: string;
  readonly chooser: Chooser;
  readonly holds: boolean;
}

export interface PathOutcome {
  readonly result: 'accept' | 'drop' | 'uncertain';
  /** What decided it: a drop or reject rule, a drop policy; for an accept, what let it through each base chain. */
  readonly by: readonly string[];
  readonly assumptions: readonly Assumption[];
}

/** Thrown when a ruleset needs more rule evaluations than the walk allows. */
export class WalkTooLong extends Error {
  override readonly name = 'WalkTooLong';
}

const MAX_DEPTH = 32;
export const DEFAULT_WALK_LIMIT = 50_000;

interface PathState {
  readonly assumptions: ReadonlyMap<string, Assumption>;
  /** One entry per base chain passed: what accepted the packet there. */
  readonly acceptedBy: readonly string[];
}

type Flow = { readonly kind: 'return' } | { readonly kind: 'final'; readonly result: 'accept' | 'drop' | 'uncertain'; readonly by: string };

interface Branch {
  readonly state: PathState;
  readonly flow: Flow;
}

interface Walk {
  readonly model: RulesetModel;
  readonly packet: SymbolicPacket;
  readonly limit: number;
  steps: number;
}

export function walkPacket(model: RulesetModel, packet: SymbolicPacket, limit = DEFAULT_WALK_LIMIT): PathOutcome[] {
  const walk: Walk = { model, packet, limit, steps: 0 };
  const hookOrder = (h: string): number => (h === 'prerouting' ? 0 : 1);
  const bases = model.baseChains.filter((b) => b.sees.includes(packet.ip)).sort((a, b) => hookOrder(a.hook) - hookOrder(b.hook) || a.prio - b.prio);
  const outcomes: PathOutcome[] = [];
  let live: PathState[] = [{ assumptions: new Map(), acceptedBy: [] }];
  for (const base of bases) {
    const next: PathState[] = [];
    const name = `${base.table} ${base.chain}`;
    for (const state of live) {
      for (const branch of runChain(walk, base.table, base.chain, state, 0)) {
        const { flow } = branch;
        if (flow.kind === 'return') {
          if (base.policy === 'accept') next.push(base.hook === 'input' ? passed(branch.state, `${name}: policy accept`) : branch.state);
          else outcomes.push(outcome('drop', [`${name}: policy drop`], branch.state));
        } else if (flow.result === 'accept') {
          // What let it through on the input hook explains an open firewall; prerouting passes all.
          next.push(base.hook === 'input' ? passed(branch.state, flow.by) : branch.state);
        } else {
          outcomes.push(outcome(flow.result, [flow.by], branch.state));
        }
      }
    }
    live = next;
  }
  for (const state of live) outcomes.push(outcome('accept', state.acceptedBy.length > 0 ? state.acceptedBy : ['no firewall chain sees incoming packets'], state));
  return outcomes;
}

function passed(state: PathState, by: string): PathState {
  return { assumptions: state.assumptions, acceptedBy: [...state.acceptedBy, by] };
}

function outcome(result: PathOutcome['result'], by: readonly string[], state: PathState): PathOutcome {
  return { result, by, assumptions: [...state.assumptions.values()] };
}

function runChain(walk: Walk, table: string, name: string, state: PathState, depth: number): Branch[] {
  const chain = walk.model.tables.get(table)?.get(name);
  if (chain === undefined) return [{ state, flow: { kind: 'final', result: 'uncertain', by: `${table}: a rule jumps to the chain "${name}", which the ruleset does not list` } }];
  if (depth > MAX_DEPTH) return [{ state, flow: { kind: 'final', result: 'uncertain', by: `${table} ${name}: jumps nest deeper than ${String(MAX_DEPTH)} chains` } }];
  return runRules(walk, table, chain, state, depth);
}

function runRules(walk: Walk, table: string, chain: Chain, start: PathState, depth: number): Branch[] {
  const out: Branch[] = [];
  const pending: { index: number; state: PathState }[] = [{ index: 0, state: start }];
  for (let item = pending.pop(); item !== undefined; item = pending.pop()) {
    const rule = chain.rules[item.index];
    if (rule === undefined) {
      out.push({ state: item.state, flow: { kind: 'return' } });
      continue;
    }
    if (++walk.steps > walk.limit) throw new WalkTooLong(`more than ${String(walk.limit)} rule evaluations`);
    const by = `${rule.where}: ${rule.text}`;
    for (const { state, verdict } of runSteps(walk.packet, rule, item.state)) {
      const nextRule = { index: item.index + 1, state };
      if (verdict === null) {
        pending.push(nextRule);
        continue;
      }
      switch (verdict.kind) {
        case 'accept':
          out.push({ state, flow: { kind: 'final', result: 'accept', by } });
          break;
        case 'drop':
        case 'reject':
          out.push({ state, flow: { kind: 'final', result: 'drop', by } });
          break;
        case 'uncertain':
          out.push({ state, flow: { kind: 'final', result: 'uncertain', by: `${by} (${verdict.reason})` } });
          break;
        case 'continue':
          pending.push(nextRule);
          break;
        case 'return':
          out.push({ state, flow: { kind: 'return' } });
          break;
        case 'jump':
          for (const b of runChain(walk, table, verdict.target, state, depth + 1)) {
            if (b.flow.kind === 'return') pending.push({ index: item.index + 1, state: b.state });
            else out.push(b);
          }
          break;
        case 'goto':
          // A return in the chain gone to returns from this chain too.
          out.push(...runChain(walk, table, verdict.target, state, depth + 1));
          break;
      }
    }
  }
  return out;
}

/** The rule's steps for one state: each way through, with the verdict reached (null: the rule did not match). */
function runSteps(packet: SymbolicPacket, rule: Rule, start: PathState): { state: PathState; verdict: Verdict | null }[] {
  // A rule with no verdict (it logs, counts, marks) sends every packet on: its tests need no fork.
  if (rule.steps.every((step) => step.kind === 'test')) return [{ state: start, verdict: null }];
  const done: { state: PathState; verdict: Verdict | null }[] = [];
  let states: PathState[] = [start];
  for (const step of rule.steps) {
    if (step.kind === 'test') {
      const next: PathState[] = [];
      for (const state of states) {
        for (const [s, holds] of decide(step.test, packet, state)) {
          if (holds) next.push(s);
          else done.push({ state: s, verdict: null });
        }
      }
      states = next;
    } else if (step.kind === 'verdict') {
      return [...done, ...states.map((state) => ({ state, verdict: step.verdict }))];
    } else {
      const verdict = step.lookup(packet);
      return [...done, ...states.map((state) => ({ state, verdict }))];
    }
  }
  return [...done, ...states.map((state) => ({ state, verdict: null }))];
}

function decide(test: PacketTest, packet: SymbolicPacket, state: PathState): [PathState, boolean][] {
  const d: Decision = test.decide(packet);
  if (typeof d === 'boolean') return [[state, d]];
  const known = state.assumptions.get(d.key);
  if (known !== undefined) return [[state, known.holds !== d.negated]];
  const assume = (holds: boolean): PathState => ({
    acceptedBy: state.acceptedBy,
    assumptions: new Map([...state.assumptions, [d.key, { key: d.key, label: d.label, chooser: d.chooser, holds }]]),
  });
  return [
    [assume(true), !d.negated],
    [assume(false), d.negated],
  ];
}
