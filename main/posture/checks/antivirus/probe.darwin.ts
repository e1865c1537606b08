// macOS reports no antivirus status of its own; XProtect is always present. An EDR or
// antivirus product shows as an activated Endpoint Security system extension.
import type { CheckDefinition, CheckOutcome } from '../../probe.js';
import { usableRecord } from '../../probe-outcome.js';

export const DARWIN_ANTIVIRUS_PROBES = [{ kind: 'command', id: 'mac.edr', argv: ['/usr/bin/systemextensionsctl', 'list'] }] as const;

export interface SystemExtension {
  readonly category: string;
  readonly teamId: string;
  readonly bundleId: string;
  readonly name: string;
  readonly state: string;
}

/** Tab-separated rows under "--- com.apple.system_extension.<category>" headings. */
export function parseSystemExtensions(text: string): SystemExtension[] {
  const out: SystemExtension[] = [];
  let category = '';
  for (const line of text.split(/\r?\n/)) {
    const heading = /^--- com\.apple\.system_extension\.(\S+)/.exec(line);
    if (heading) {
      category = heading[1] ?? '';
      continue;
    }
    const cols = line.split('\t');
    const state = /\[([^\]]+)\]\s*$/.exec(line)?.[1];
    if (cols.length < 6 || state === undefined || cols[2] === 'teamID') continue;
    out.push({ category, teamId: cols[2] ?? '', bundleId: (cols[3] ?? '').replace(/\s*\(.*\)$/, ''), name: cols[4] ?? '', state });
  }
  return out;
}

export const darwinAntivirusCheck: CheckDefinition = {
  id: 'antivirus',
  probes: DARWIN_ANTIVIRUS_PROBES,
  judge({ records }): CheckOutcome {
    const got = usableRecord(records, 'mac.edr');
    if ('outcome' in got) return got.outcome;
    const { rec } = got;
    if (!/^\d+ extension\(s\)/m.test(rec.stdout)) throw new Error('systemextensionsctl printed no extension count');
    const security = parseSystemExtensions(rec.stdout).filter((e) => e.category === 'endpoint_security');
    const active = security.filter((e) => e.state === 'activated enabled');
    const facts = { builtIn: 'XProtect', endpointSecurity: security.map((e) => ({ name: e.name, bundleId: e.bundleId, state: e.state })) };
    if (active.length > 0) {
      return { verdict: 'pass', reason: `Endpoint protection is active (${active.map((e) => e.name).join(', ')}).`, remediation: 'none', facts };
    }
    if (security.some((e) => /waiting for user/.test(e.state))) {
      return { verdict: 'warn', reason: 'The endpoint protection is installed but waits for approval in System Settings.', remediation: 'antivirus.approve-extension', facts };
    }
    return { verdict: 'warn', reason: 'Only the built-in XProtect protects this Mac; no endpoint protection product is active.', remediation: 'antivirus.install-edr', facts };
  },
};
