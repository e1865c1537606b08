// Linux: nftables is read as JSON; iptables (legacy or nft backend) as rules;
// firewalld's state helps only when neither can be read without root.
// An inbound chain filters when its policy drops or one of its rules drops or rejects.
import type { CheckDefinition, CheckOutcome } from '../../probe.js';
import { probeProblem, unknownOutcome } from '../../probe-outcome.js';

export const LINUX_FIREWALL_PROBES = [
  { kind: 'command', id: 'linux.nft-ruleset', argv: ['/usr/sbin/nft', '--json', 'list', 'ruleset'] },
  { kind: 'command', id: 'linux.iptables-input', argv: ['/usr/sbin/iptables', '-w', '2', '-S', 'INPUT'] },
  { kind: 'command', id: 'linux.firewalld-state', argv: ['/usr/bin/firewall-cmd', '--state'] },
] as const;

export interface InputChain {
  readonly family: string;
  readonly table: string;
  readonly name: string;
  readonly policy: string;
  readonly filteringRules: number;
}

/** Base chains hooked on input (inet / ip / ip6) with their policy and drop/reject rule count. */
export function parseNftInputChains(json: string): InputChain[] {
  const data = JSON.parse(json) as { nftables?: unknown[] };
  if (!Array.isArray(data.nftables)) throw new Error('nft printed no "nftables" array');
  const chains = new Map<string, { family: string; table: string; name: string; policy: string; filteringRules: number }>();
  const key = (f: unknown, t: unknown, n: unknown): string => `${String(f)}/${String(t)}/${String(n)}`;
  for (const item of data.nftables) {
    const chain = (item as { chain?: Record<string, unknown> }).chain;
    if (chain && chain.hook === 'input' && (chain.type === undefined || chain.type === 'filter') && ['inet', 'ip', 'ip6'].includes(String(chain.family))) {
      chains.set(key(chain.family, chain.table, chain.name), {
        family: String(chain.family),
        table: String(chain.table),
        name: String(chain.name),
        policy: typeof chain.policy === 'string' ? chain.policy : 'accept',
        filteringRules: 0,
      });
    }
  }
  for (const item of data.nftables) {
    const rule = (item as { rule?: Record<string, unknown> }).rule;
    if (!rule) continue;
    const chain = chains.get(key(rule.family, rule.table, rule.chain));
    if (chain && Array.isArray(rule.expr) && rule.expr.some((e) => e !== null && typeof e === 'object' && ('drop' in e || 'reject' in e))) {
      chain.filteringRules += 1;
    }
  }
  return [...chains.values()];
}

/** `iptables -S INPUT`: "-P INPUT DROP" and "-A INPUT ... -j DROP|REJECT". */
export function parseIptablesInput(text: string): { policy: string; filteringRules: number } {
  const policy = /^-P INPUT (\S+)/m.exec(text)?.[1];
  if (!policy) throw new Error('iptables printed no INPUT policy');
  const filteringRules = text.split('\n').filter((l) => /^-A INPUT .*-j (DROP|REJECT)\b/.test(l)).length;
  return { policy: policy.toLowerCase(), filteringRules };
}

export const linuxFirewallCheck: CheckDefinition = {
  id: 'firewall',
  probes: LINUX_FIREWALL_PROBES,
  judge({ records }): CheckOutcome {
    const nft = records.get('linux.nft-ruleset');
    const ipt = records.get('linux.iptables-input');
    const fwd = records.get('linux.firewalld-state');
    const nftProblem = probeProblem(nft);
    const iptProblem = probeProblem(ipt);
    const facts: Record<string, unknown> = {};

    let readable = false;
    let filtering = false;
    if (!nftProblem && nft) {
      const chains = parseNftInputChains(nft.stdout);
      facts.nftInputChains = chains;
      readable = true;
      filtering ||= chains.some((c) => c.policy === 'drop' || c.filteringRules > 0);
    }
    if (!iptProblem && ipt) {
      const input = parseIptablesInput(ipt.stdout);
      facts.iptablesInput = input;
      readable = true;
      filtering ||= input.policy === 'drop' || input.filteringRules > 0;
    }
    facts.backend = !nftProblem ? 'nftables' : !iptProblem ? 'iptables' : null;

    if (readable && filtering) {
      return { verdict: 'pass', reason: 'The firewall filters incoming connections.', remediation: 'none', facts };
    }
    if (readable) {
      return { verdict: 'fail', reason: 'The firewall lets every incoming connection through: no inbound rule drops or rejects traffic.', remediation: 'firewall.enable-linux', facts };
    }
    // Neither table could be read (usually: not root). firewalld answers over D-Bus without root.
    if (fwd && !probeProblem(fwd) && fwd.stdout.trim() === 'running') {
      facts.firewalld = 'running';
      return { verdict: 'pass', reason: 'The firewall (firewalld) is running.', remediation: 'none', facts };
    }
    if (fwd && /not running/.test(fwd.stdout + fwd.stderr)) {
      facts.firewalld = 'not running';
      if (nftProblem?.code !== 'NEEDS_PRIVILEGE') {
        return { verdict: 'fail', reason: 'The firewall (firewalld) is not running.', remediation: 'firewall.enable-linux', facts };
      }
    }
    const why = nftProblem?.code === 'NEEDS_PRIVILEGE' || iptProblem?.code === 'NEEDS_PRIVILEGE'
      ? 'The firewall rules can only be read with administrator rights; run the agent as a system service.'
      : `No firewall tool could be read (${nftProblem?.reason ?? ''} ${iptProblem?.reason ?? ''}).`.replace(/\s+\)/, ')');
    return unknownOutcome(why, { ...facts, nftError: nftProblem?.code, iptablesError: iptProblem?.code });
  },
};
