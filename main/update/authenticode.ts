// Our own decision on a downloaded Windows update's Authenticode signature, in place of
// electron-updater's verifySignature, which lets the update through when PowerShell cannot
// run (AppLocker / WDAC on hospital images: its handleError only logs and resolves) and
// accepts any certificate whose bare CN matches. Here every doubt refuses the update:
// PowerShell missing, blocked, failing or slow, output we cannot read, any Status but
// Valid, a report about another file, or a signer whose full distinguished name is not
// the release's. The parser and the decision are plain and tested on Linux with recorded
// real output (tests/fixtures/update/authenticode/) and injected command runners.
import { win32 } from 'node:path';
import type { CommandRunner } from '../posture/command-runner.js';
import { DistinguishedNameError, parseDistinguishedName, sameDistinguishedName } from './distinguished-name.js';

/** Why an update's signature was refused; stable codes for the log IT reads. */
export type SignatureRefusalCode =
  | 'SIGNATURE_CHECK_UNAVAILABLE' // PowerShell missing, blocked or failed
  | 'SIGNATURE_CHECK_TIMED_OUT'
  | 'SIGNATURE_REPORT_UNREADABLE'
  | 'SIGNATURE_NOT_VALID' // NotSigned, HashMismatch, NotTrusted, UnknownError, ...
  | 'SIGNATURE_WRONG_FILE'
  | 'SIGNER_MISMATCH'
  | 'SIGNER_NOT_CONFIGURED';

export type SignatureVerdict =
  | { readonly ok: true; readonly signer: string; readonly thumbprint: string | null }
  | { readonly ok: false; readonly code: SignatureRefusalCode; readonly reason: string };

/** System.Management.Automation.SignatureStatus: ConvertTo-Json writes its number. */
const STATUS_NAMES: readonly string[] = ['Valid', 'UnknownError', 'NotSigned', 'HashMismatch', 'NotTrusted', 'NotSupportedFileFormat', 'Incompatible'];

export interface AuthenticodeReport {
  /** The status by name (`Valid`, `NotSigned`, `HashMismatch`, ...). */
  readonly status: string;
  readonly statusMessage: string;
  readonly path: string;
  /** SignerCertificate.Subject, null for an unsigned file. */
  readonly subject: string | null;
  readonly thumbprint: string | null;
}

export class AuthenticodeReportError extends Error {
  override readonly name = 'AuthenticodeReportError';
}

function field(record: object, key: string): unknown {
  return Object.prototype.hasOwnProperty.call(record, key) ? (record as Record<string, unknown>)[key] : undefined;
}

/** Parses `Get-AuthenticodeSignature | ConvertTo-Json` (Windows PowerShell 5.1 or 7; compressed or not). */
export function parseAuthenticodeReport(stdout: string): AuthenticodeReport {
  const text = stdout.replace(/^\uFEFF/, '').trim();
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new AuthenticodeReportError(text === '' ? 'PowerShell printed nothing' : 'PowerShell printed no JSON report');
  }
  // One file asked about gives one object; an array would be a report on several files.
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new AuthenticodeReportError('the report is not one signature object');
  const rawStatus = field(doc, 'Status');
  const status = typeof rawStatus === 'number' && Number.isInteger(rawStatus) ? STATUS_NAMES[rawStatus] : typeof rawStatus === 'string' && STATUS_NAMES.includes(rawStatus) ? rawStatus : undefined;
  if (status === undefined) throw new AuthenticodeReportError(`the report has no known Status (${JSON.stringify(rawStatus) ?? 'none'})`);
  const path = field(doc, 'Path');
  if (typeof path !== 'string' || path === '') throw new AuthenticodeReportError('the report names no file (Path)');
  const message = field(doc, 'StatusMessage');
  const signer = field(doc, 'SignerCertificate');
  let subject: string | null = null;
  let thumbprint: string | null = null;
  if (signer !== null && signer !== undefined) {
    if (typeof signer !== 'object') throw new AuthenticodeReportError('SignerCertificate is not an object');
    const s = field(signer, 'Subject');
    const t = field(signer, 'Thumbprint');
    if (s !== undefined && typeof s !== 'string') throw new AuthenticodeReportError('SignerCertificate.Subject is not text');
    subject = typeof s === 'string' ? s : null;
    thumbprint = typeof t === 'string' ? t : null;
  }
  return { status, statusMessage: typeof message === 'string' ? message : '', path, subject, thumbprint };
}

/**
 * The PowerShell script, for -EncodedCommand (no shell, no quoting by a shell). The path is
 * a single-quoted literal: PowerShell ends such a literal at any of its four single-quote
 * characters, so each is doubled, as its own EscapeSingleQuotedStringContent does. Setting
 * the output encoding is not allowed in Constrained Language mode, so a failure there is
 * ignored; a subject with non-ASCII letters then fails to match, which refuses the update.
 */
export function authenticodeScript(file: string): string {
  const literal = file.replace(/['\u2018\u2019\u201A\u201B]/g, (q) => q + q);
  return [
    "$ErrorActionPreference = 'Stop'",
    // PowerShell 7 warns on stdout-bound streams when ConvertTo-Json cuts at its depth.
    "$WarningPreference = 'SilentlyContinue'",
    'try { [Console]::OutputEncoding = [Text.Encoding]::UTF8 } catch { }',
    `Get-AuthenticodeSignature -LiteralPath '${literal}' | ConvertTo-Json -Compress`,
  ].join('\n');
}

export const SIGNATURE_CHECK_TIMEOUT_MS = 30_000;

/** Same file for Windows: separators and case do not matter, `.` and `..` are resolved. */
function sameWindowsPath(a: string, b: string): boolean {
  return win32.normalize(a).toLowerCase() === win32.normalize(b).toLowerCase();
}

/** Decides on a report: Status Valid, this file, and the signer's full name equal to the release's. */
export function judgeAuthenticodeReport(report: AuthenticodeReport, file: string, expectedSigner: string): SignatureVerdict {
  if (report.status !== 'Valid') {
    return { ok: false, code: 'SIGNATURE_NOT_VALID', reason: `Windows reports the update's signature as ${report.status}${report.statusMessage ? ` (${report.statusMessage.trim()})` : ''}.` };
  }
  if (!sameWindowsPath(report.path, file)) return { ok: false, code: 'SIGNATURE_WRONG_FILE', reason: `The signature report is about ${report.path}, not the downloaded ${file}.` };
  if (report.subject === null) return { ok: false, code: 'SIGNATURE_NOT_VALID', reason: 'The signature report names no signer certificate.' };
  let expected;
  try {
    expected = parseDistinguishedName(expectedSigner);
  } catch (e) {
    return { ok: false, code: 'SIGNER_NOT_CONFIGURED', reason: `The release signer "${expectedSigner}" is not a distinguished name we can read: ${(e as Error).message}.` };
  }
  let actual;
  try {
    actual = parseDistinguishedName(report.subject);
  } catch (e) {
    if (!(e instanceof DistinguishedNameError)) throw e;
    return { ok: false, code: 'SIGNER_MISMATCH', reason: `The update's signer "${report.subject}" is not a distinguished name we can read: ${e.message}.` };
  }
  if (!sameDistinguishedName(actual, expected)) return { ok: false, code: 'SIGNER_MISMATCH', reason: `The update is signed by "${report.subject}", not by the release signer "${expectedSigner}".` };
  return { ok: true, signer: report.subject, thumbprint: report.thumbprint };
}

export interface SignatureCheckDeps {
  readonly runner: CommandRunner;
  /** Absolute path of powershell.exe (it must be on the runner's allow-list). */
  readonly powershell: string;
}

const REFUSED = 'The update is refused and the running version stays.';

/** Runs Get-AuthenticodeSignature on the downloaded file and decides. Never throws. */
export async function checkUpdateSignature(deps: SignatureCheckDeps, file: string, expectedSigner: string): Promise<SignatureVerdict> {
  const refuse = (code: SignatureRefusalCode, why: string): SignatureVerdict => ({ ok: false, code, reason: `${why} ${REFUSED}` });
  const script = Buffer.from(authenticodeScript(file), 'utf16le').toString('base64');
  let result;
  try {
    result = await deps.runner.run({ argv: [deps.powershell, '-NoProfile', '-NonInteractive', '-InputFormat', 'None', '-EncodedCommand', script], timeoutMs: SIGNATURE_CHECK_TIMEOUT_MS });
  } catch (e) {
    return refuse('SIGNATURE_CHECK_UNAVAILABLE', `The signature check could not start PowerShell: ${(e as Error).message}.`);
  }
  if (result.timedOut) return refuse('SIGNATURE_CHECK_TIMED_OUT', `The signature check (PowerShell Get-AuthenticodeSignature) gave no answer within ${SIGNATURE_CHECK_TIMEOUT_MS / 1000} s.`);
  if (result.error) return refuse('SIGNATURE_CHECK_UNAVAILABLE', `The signature check could not run PowerShell (${result.error.code}: ${result.error.message}); AppLocker or WDAC may block it.`);
  const stderr = result.stderr.trim();
  if (result.exitCode !== 0 || stderr !== '') {
    return refuse('SIGNATURE_CHECK_UNAVAILABLE', `The signature check failed (PowerShell exit code ${String(result.exitCode)}${stderr ? `: ${stderr.split(/\r?\n/)[0] ?? ''}` : ''}).`);
  }
  if (result.truncated) return refuse('SIGNATURE_REPORT_UNREADABLE', 'The signature report was longer than the agent reads.');
  let report;
  try {
    report = parseAuthenticodeReport(result.stdout);
  } catch (e) {
    if (!(e instanceof AuthenticodeReportError)) throw e;
    return refuse('SIGNATURE_REPORT_UNREADABLE', `The signature report cannot be read: ${e.message}.`);
  }
  const verdict = judgeAuthenticodeReport(report, file, expectedSigner);
  return verdict.ok ? verdict : refuse(verdict.code, verdict.reason);
}
