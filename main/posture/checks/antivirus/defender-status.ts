// Microsoft Defender Antivirus's own status (Get-MpComputerStatus, MSFT_MpComputerStatus):
// locale-independent booleans, numbers and mode names, read where Defender is the product
// instead of Security Center's undocumented productState bits.
import { parseFormatList } from '../windows/format-list.js';

/** AMRunningMode: "Normal" is active; passive and EDR block mode do not protect on their own. */
export type DefenderMode = 'active' | 'passive' | 'not-running' | 'unrecognised';

export interface DefenderStatus {
  /** null when the platform predates AMRunningMode (before 4.18.2102). */
  readonly mode: DefenderMode | null;
  readonly runningMode: string | null;
  readonly serviceEnabled: boolean | null;
  readonly antivirusEnabled: boolean | null;
  readonly realTimeProtection: boolean | null;
  /** Days since the signatures were built; null when Defender has none (4294967295). */
  readonly signatureAgeDays: number | null;
  readonly signaturesOutOfDate: boolean | null;
  readonly productStatus: number | null;
  readonly tamperProtected: boolean | null;
  readonly productVersion: string | null;
  readonly signatureVersion: string | null;
}

/** MSFT_MpComputerStatus.ProductStatus flags (Microsoft Graph windowsDefenderProductStatus). */
export const PRODUCT_STATUS = {
  serviceNotRunning: 0x1,
  serviceStartedWithoutMalwareProtection: 0x2,
  avSignaturesOutOfDate: 0x20,
  productExpired: 0x4000,
} as const;

/** Defender's default for "security intelligence out of date" (AVSignatureDue): 7 days. */
export const SIGNATURE_DUE_DAYS = 7;

const NO_VALUE = 4294967295; // UINT32_MAX: never updated, or not running

export function parseDefenderStatus(text: string): DefenderStatus | { readonly error: string } {
  const o = parseFormatList(text)[0];
  if (!o) throw new Error('Get-MpComputerStatus printed nothing');
  if (o.DefenderError !== undefined) return { error: o.DefenderError };
  if (o.AMServiceEnabled === undefined && o.RealTimeProtectionEnabled === undefined) throw new Error('no Defender status in the output');
  const runningMode = o.AMRunningMode ?? null;
  const age = whole(o.AntivirusSignatureAge);
  return {
    mode: runningMode === null ? null : modeOf(runningMode),
    runningMode,
    serviceEnabled: bool(o.AMServiceEnabled),
    antivirusEnabled: bool(o.AntivirusEnabled),
    realTimeProtection: bool(o.RealTimeProtectionEnabled),
    signatureAgeDays: age === NO_VALUE ? null : age,
    signaturesOutOfDate: bool(o.DefenderSignaturesOutOfDate),
    productStatus: whole(o.ProductStatus),
    tamperProtected: bool(o.IsTamperProtected),
    productVersion: o.AMProductVersion || null,
    signatureVersion: o.AntivirusSignatureVersion || null,
  };
}

function modeOf(value: string): DefenderMode {
  if (/^normal$/i.test(value)) return 'active';
  if (/passive|edr block/i.test(value)) return 'passive';
  if (/^not running$/i.test(value)) return 'not-running';
  return 'unrecognised';
}

/** Whether Defender itself scans files as they are opened: on, in active mode, not expired. */
export function defenderProtects(s: DefenderStatus): boolean {
  const flags = s.productStatus ?? 0;
  const broken = PRODUCT_STATUS.serviceNotRunning | PRODUCT_STATUS.serviceStartedWithoutMalwareProtection | PRODUCT_STATUS.productExpired;
  return s.mode === 'active' && s.serviceEnabled === true && s.antivirusEnabled === true && s.realTimeProtection === true && (flags & broken) === 0;
}

/** Defender's own word where it gives one; else the age against Defender's default due date. */
export function defenderSignaturesCurrent(s: DefenderStatus): boolean {
  if (s.signatureAgeDays === null) return false;
  if (((s.productStatus ?? 0) & PRODUCT_STATUS.avSignaturesOutOfDate) !== 0) return false;
  if (s.signaturesOutOfDate !== null) return !s.signaturesOutOfDate;
  return s.signatureAgeDays <= SIGNATURE_DUE_DAYS;
}

function bool(v: string | undefined): boolean | null {
  if (v === 'True') return true;
  if (v === 'False') return false;
  return null;
}

function whole(v: string | undefined): number | null {
  return v !== undefined && /^\d{1,10}$/.test(v) ? Number(v) : null;
}
