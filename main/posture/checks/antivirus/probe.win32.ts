// Windows antivirus: the products registered with Windows Security Center (client Windows),
// each with its whole productState decoded, and Microsoft Defender's own status, which
// replaces Security Center's bits for Defender and is the only source on Windows Server.
// Both scripts catch their own errors and print the FullyQualifiedErrorId, which is never
// translated (the error message is), so a French or German Windows is judged the same way.
import type { ProbeRecord } from '../../../../common/posture.js';
import type { CheckDefinition, CheckOutcome } from '../../probe.js';
import { probeProblem, unknownOutcome } from '../../probe-outcome.js';
import { parseFormatList } from '../windows/format-list.js';
import type { DefenderStatus } from './defender-status.js';
import { defenderProtects, defenderSignaturesCurrent, parseDefenderStatus } from './defender-status.js';
import type { WscProtection, WscSignatures } from './security-center-state.js';
import { decodeProductState } from './security-center-state.js';

export { decodeProductState } from './security-center-state.js';

export const WIN32_ANTIVIRUS_PROBES = [
  {
    kind: 'powershell',
    id: 'win.antivirus',
    script:
      "try { Get-CimInstance -Namespace root/SecurityCenter2 -ClassName AntivirusProduct -ErrorAction Stop | Format-List displayName,productState,pathToSignedReportingExe,timestamp } catch { 'SecurityCenterError : ' + $_.FullyQualifiedErrorId }",
  },
  {
    kind: 'powershell',
    id: 'win.defender',
    script:
      "try { Get-MpComputerStatus -ErrorAction Stop | Format-List AMServiceEnabled,AMRunningMode,AntivirusEnabled,RealTimeProtectionEnabled,AntivirusSignatureAge,DefenderSignaturesOutOfDate,ProductStatus,IsTamperProtected,AMProductVersion,AntivirusSignatureVersion } catch { 'DefenderError : ' + $_.FullyQualifiedErrorId }",
  },
] as const;

export interface AntivirusProduct {
  readonly name: string;
  readonly productState: number;
  readonly hex: string;
  readonly protection: WscProtection;
  readonly signatures: WscSignatures;
  /** Microsoft Defender: the owner nibble says Microsoft, or it reports through MsMpEng.exe. */
  readonly defender: boolean;
  /** Where protection and signatures came from: Security Center's bits, or Defender's own status. */
  readonly source: 'security-center' | 'defender-status';
}

/** Security Center's products; `unavailable` holds the error id when it could not be read. */
export type SecurityCenterReading = { readonly products: AntivirusProduct[] } | { readonly unavailable: string };

// WBEM_E_INVALID_NAMESPACE: Windows Server has no root/SecurityCenter2.
const NO_SECURITY_CENTER = /0x8004100e|invalid namespace|namespace.*(not found|ungültig|non valide)|espace de noms non valide/i;

export function parseAntivirusProducts(text: string): AntivirusProduct[] {
  return parseFormatList(text)
    .filter((o) => o.displayName !== undefined && /^\d{1,10}$/.test(o.productState ?? ''))
    .map((o) => {
      const productState = Number(o.productState);
      const d = decodeProductState(productState);
      const defender = d.microsoft || /\\msmpeng\.exe$/i.test(o.pathToSignedReportingExe ?? '');
      return { name: o.displayName ?? '', productState, hex: d.hex, protection: d.protection, signatures: d.signatures, defender, source: 'security-center' };
    });
}

export function readSecurityCenter(rec: ProbeRecord): SecurityCenterReading {
  const caught = parseFormatList(rec.stdout)[0]?.SecurityCenterError;
  if (caught !== undefined) return { unavailable: caught };
  if (rec.exitCode !== 0 && NO_SECURITY_CENTER.test(rec.stdout + rec.stderr)) return { unavailable: 'HRESULT 0x8004100e' };
  return { products: parseAntivirusProducts(rec.stdout) };
}

/** Security Center's products with Defender's entry judged by Defender's own status. */
export function mergeDefenderStatus(products: readonly AntivirusProduct[], defender: DefenderStatus | null): AntivirusProduct[] {
  if (defender === null || defender.mode === null || defender.mode === 'unrecognised') return [...products];
  const fromDefender = (p: AntivirusProduct): AntivirusProduct => ({
    ...p,
    protection: defenderProtects(defender) ? 'on' : 'off',
    signatures: defenderSignaturesCurrent(defender) ? 'current' : 'out-of-date',
    source: 'defender-status',
  });
  if (products.some((p) => p.defender)) return products.map((p) => (p.defender ? fromDefender(p) : p));
  // Windows Server, or a client where Defender is not registered: Defender's status alone.
  const name = 'Microsoft Defender Antivirus';
  return [...products, fromDefender({ name, productState: 0, hex: '', protection: 'unknown', signatures: 'unknown', defender: true, source: 'defender-status' })];
}

export const windowsAntivirusCheck: CheckDefinition = {
  id: 'antivirus',
  probes: WIN32_ANTIVIRUS_PROBES,
  judge({ records }): CheckOutcome {
    const wscRec = records.get('win.antivirus');
    const wscProblem = wscRec && wscRec.exitCode !== 0 && NO_SECURITY_CENTER.test(wscRec.stdout + wscRec.stderr) ? undefined : probeProblem(wscRec);
    if (wscProblem || !wscRec) return unknownOutcome(wscProblem?.reason ?? 'The probe did not run.', { probeError: wscProblem?.code ?? 'NOT_RUN' });
    const wsc = readSecurityCenter(wscRec);
    const defenderReading = readDefender(records.get('win.defender'));
    const defender = 'status' in defenderReading ? defenderReading.status : null;
    const products = mergeDefenderStatus('products' in wsc ? wsc.products : [], defender);
    const facts = {
      securityCenter: 'products' in wsc ? 'read' : `unavailable (${wsc.unavailable})`,
      products,
      defender: 'status' in defenderReading ? defenderReading.status : { unavailable: defenderReading.unavailable },
    };

    const protecting = products.filter((p) => p.protection === 'on' && p.signatures === 'current');
    if (protecting.length > 0) {
      return { verdict: 'pass', reason: `Antivirus protection is on (${names(protecting)}).`, remediation: 'none', facts };
    }
    const stale = products.filter((p) => p.protection === 'on' && p.signatures === 'out-of-date');
    if (stale.length > 0) {
      return { verdict: 'warn', reason: `Antivirus protection is on but its definitions are out of date (${names(stale)}).`, remediation: 'antivirus.update-definitions', facts };
    }
    const undecoded = products.filter((p) => p.protection === 'unknown' || (p.protection === 'on' && p.signatures === 'unknown'));
    if (undecoded.length > 0) {
      return unknownOutcome(`Windows reports a state the agent does not know for ${undecoded.map((p) => `${p.name} (productState ${p.hex})`).join(', ')}; IT should check it in Windows Security.`, facts);
    }
    if ('unavailable' in wsc) {
      // No Security Center: a third-party product cannot be seen, so neither pass nor fail.
      const defenderSays = defender ? ` Microsoft Defender Antivirus ${defender.mode === 'passive' ? 'runs in passive mode' : 'is not protecting this device'}.` : '';
      const why = NO_SECURITY_CENTER.test(wsc.unavailable)
        ? 'This edition of Windows (Server) does not report antivirus status through Windows Security Center.'
        : `Windows Security Center could not be read (${wsc.unavailable}).`;
      return unknownOutcome(`${why}${defenderSays} IT should confirm which antivirus protects it.`, facts);
    }
    if (products.length === 0) {
      return { verdict: 'fail', reason: 'Windows reports no antivirus product.', remediation: 'antivirus.enable', facts };
    }
    const expired = products.filter((p) => p.protection === 'expired');
    if (expired.length > 0) {
      return { verdict: 'fail', reason: `The antivirus has expired and no longer protects this device (${names(expired)}); its licence or subscription must be renewed.`, remediation: 'antivirus.renew', facts };
    }
    const snoozed = products.filter((p) => p.protection === 'snoozed');
    if (snoozed.length > 0) {
      return { verdict: 'fail', reason: `Antivirus protection is paused (snoozed) (${names(snoozed)}).`, remediation: 'antivirus.enable', facts };
    }
    return { verdict: 'fail', reason: 'Antivirus real-time protection is off.', remediation: 'antivirus.enable', facts };
  },
};

function readDefender(rec: ProbeRecord | undefined): { status: DefenderStatus } | { unavailable: string } {
  const problem = probeProblem(rec);
  if (problem || !rec) return { unavailable: problem?.code ?? 'NOT_RUN' };
  try {
    const parsed = parseDefenderStatus(rec.stdout);
    return 'error' in parsed ? { unavailable: parsed.error } : { status: parsed };
  } catch {
    return { unavailable: 'UNREADABLE_OUTPUT' }; // Security Center's bits still judge Defender
  }
}

function names(products: readonly AntivirusProduct[]): string {
  return [...new Set(products.map((p) => p.name))].join(', ');
}
