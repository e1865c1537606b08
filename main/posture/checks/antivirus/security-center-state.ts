// Windows Security Center's AntivirusProduct.productState, decoded whole. Microsoft does
// not document this value; its layout is the one every public decoder agrees on (sources in
// tests/fixtures/win32/SOURCES.md, "SecurityCenter2 productState"):
//   0x00FF0000  providers: WSC_SECURITY_PROVIDER flags (iwscapi.h), 0x04 = antivirus
//   0x0000F000  protection: 0 off, 1 on, 2 snoozed, 3 expired (the WSC_SECURITY_PRODUCT_STATE
//               states of iwscapi.h, numbered differently)
//   0x00000F00  owner: 0 a third party, 1 Microsoft (Windows Defender)
//   0x000000F0  signatures: 0 up to date, 1 out of date (WSC_SECURITY_SIGNATURE_STATUS)
// Any other nibble value is not guessed at: it decodes as 'unknown'.

export type WscProtection = 'on' | 'off' | 'snoozed' | 'expired' | 'unknown';
export type WscSignatures = 'current' | 'out-of-date' | 'unknown';

export interface WscProductState {
  readonly protection: WscProtection;
  readonly signatures: WscSignatures;
  /** The owner nibble says Microsoft: Windows' own antivirus (Defender). */
  readonly microsoft: boolean;
  /** The value in hex, 0xPPSSDD, as IT reads it in public tables. */
  readonly hex: string;
}

const PROTECTION: readonly WscProtection[] = ['off', 'on', 'snoozed', 'expired'];
const SIGNATURES: readonly WscSignatures[] = ['current', 'out-of-date'];

export function decodeProductState(state: number): WscProductState {
  const valid = Number.isSafeInteger(state) && state >= 0 && state <= 0xffffff;
  return {
    protection: valid ? (PROTECTION[(state >>> 12) & 0xf] ?? 'unknown') : 'unknown',
    signatures: valid ? (SIGNATURES[(state >>> 4) & 0xf] ?? 'unknown') : 'unknown',
    microsoft: valid && ((state >>> 8) & 0xf) === 1,
    hex: `0x${state.toString(16).padStart(6, '0')}`,
  };
}
