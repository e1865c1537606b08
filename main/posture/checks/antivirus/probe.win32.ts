// Windows Security Center's registered antivirus products (client Windows only).
// productState packs the state in bytes: 0x1000 set = real-time protection on,
// 0x10 set = signatures out of date (see tests/fixtures/win32/SOURCES.md).
import type { CheckDefinition, CheckOutcome } from '../../probe.js';
import { probeProblem, unknownOutcome } from '../../probe-outcome.js';
import { parseFormatList } from '../windows/format-list.js';

export const WIN32_ANTIVIRUS_PROBES = [
  {
    kind: 'powershell',
    id: 'win.antivirus',
    script: 'Get-CimInstance -Namespace root/SecurityCenter2 -ClassName AntivirusProduct | Format-List displayName,productState,timestamp',
  },
] as const;

export interface AntivirusProduct {
  readonly name: string;
  readonly productState: number;
  readonly enabled: boolean;
  readonly upToDate: boolean;
}

export function decodeProductState(state: number): { enabled: boolean; upToDate: boolean } {
  return { enabled: (state & 0x1000) !== 0, upToDate: (state & 0x10) === 0 };
}

export function parseAntivirusProducts(text: string): AntivirusProduct[] {
  return parseFormatList(text)
    .filter((o) => o.displayName !== undefined && /^\d+$/.test(o.productState ?? ''))
    .map((o) => {
      const productState = Number(o.productState);
      return { name: o.displayName ?? '', productState, ...decodeProductState(productState) };
    });
}

export const windowsAntivirusCheck: CheckDefinition = {
  id: 'antivirus',
  probes: WIN32_ANTIVIRUS_PROBES,
  judge({ records }): CheckOutcome {
    const rec = records.get('win.antivirus');
    if (rec && rec.exitCode !== 0 && /invalid namespace|namespace.*(not found|ungültig|non valide)|0x8004100e/i.test(rec.stdout + rec.stderr)) {
      return unknownOutcome('This edition of Windows (Server) does not report antivirus status through Windows Security Center.', { securityCenter: false });
    }
    const problem = probeProblem(rec);
    if (problem || !rec) return unknownOutcome(problem?.reason ?? 'missing probe', { probeError: problem?.code });
    const products = parseAntivirusProducts(rec.stdout);
    const facts = { products };
    const active = products.filter((p) => p.enabled);
    if (active.some((p) => p.upToDate)) {
      return { verdict: 'pass', reason: `Antivirus protection is on (${active.filter((p) => p.upToDate).map((p) => p.name).join(', ')}).`, remediation: 'none', facts };
    }
    if (active.length > 0) {
      return { verdict: 'warn', reason: `Antivirus protection is on but its definitions are out of date (${active.map((p) => p.name).join(', ')}).`, remediation: 'antivirus.update-definitions', facts };
    }
    return { verdict: 'fail', reason: products.length === 0 ? 'Windows reports no antivirus product.' : 'Antivirus real-time protection is off.', remediation: 'antivirus.enable', facts };
  },
};
