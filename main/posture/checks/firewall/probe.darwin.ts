// macOS: the application firewall's global state by its number, not its wording
// (which changed between releases), and stealth mode as a fact.
import type { CheckDefinition, CheckOutcome } from '../../probe.js';
import { probeProblem, usableRecord } from '../../probe-outcome.js';

const SOCKETFILTERFW = '/usr/libexec/ApplicationFirewall/socketfilterfw';
export const DARWIN_FIREWALL_PROBES = [
  { kind: 'command', id: 'mac.firewall', argv: [SOCKETFILTERFW, '--getglobalstate'] },
  { kind: 'command', id: 'mac.stealth', argv: [SOCKETFILTERFW, '--getstealthmode'] },
] as const;

/**
 * "Firewall is enabled. (State = 1)" (macOS 13 to 26): 0 off, 1 on, 2 block all incoming,
 * which newer releases word "Firewall is blocking all non-essential incoming connections.
 * (State = 2)". The number decides; a number outside 0-2 is not read from the words around it.
 */
export function parseGlobalState(text: string): 0 | 1 | 2 {
  const m = /\(State = (\d+)\)/.exec(text);
  if (m) {
    if (m[1] === '0' || m[1] === '1' || m[1] === '2') return Number(m[1]) as 0 | 1 | 2;
    throw new Error(`unknown socketfilterfw global state ${m[1] ?? ''}`);
  }
  if (/Firewall is disabled/i.test(text)) return 0;
  if (/Firewall is enabled/i.test(text)) return 1;
  throw new Error(`unrecognised socketfilterfw output: ${text.trim().slice(0, 80)}`);
}

/** "Stealth mode enabled|disabled" (macOS 13, 14) or "Firewall stealth mode is on|off" (15 and later). */
export function parseStealthMode(text: string): boolean {
  if (/Stealth mode enabled|stealth mode is on/i.test(text)) return true;
  if (/Stealth mode disabled|stealth mode is off/i.test(text)) return false;
  throw new Error(`unrecognised stealth mode output: ${text.trim().slice(0, 80)}`);
}

export const darwinFirewallCheck: CheckDefinition = {
  id: 'firewall',
  probes: DARWIN_FIREWALL_PROBES,
  judge({ records }): CheckOutcome {
    const got = usableRecord(records, 'mac.firewall');
    if ('outcome' in got) return got.outcome;
    const { rec } = got;
    const state = parseGlobalState(rec.stdout);
    const stealthRec = records.get('mac.stealth');
    const stealth = stealthRec && !probeProblem(stealthRec) ? parseStealthMode(stealthRec.stdout) : null;
    const facts = { firewall: 'application-firewall', globalState: state, blockAll: state === 2, stealthMode: stealth };
    if (state === 0) return { verdict: 'fail', reason: 'The macOS firewall is off.', remediation: 'firewall.enable-macos', facts };
    return { verdict: 'pass', reason: state === 2 ? 'The macOS firewall blocks all incoming connections.' : 'The macOS firewall is on.', remediation: 'none', facts };
  },
};
