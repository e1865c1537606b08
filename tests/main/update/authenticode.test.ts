// Our Windows update signature decision: Get-AuthenticodeSignature's JSON parsed from
// recorded real outputs (tests/fixtures/update/authenticode/, sources in its README), the
// signer's full distinguished name compared by RDN, and every failure to run or read the
// check refusing the update. PowerShell cannot run here, so runners are injected; one test
// uses the real command runner, whose powershell.exe is missing on Linux, as on a machine
// where AppLocker blocks it.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import type { CommandRequest, CommandResult, CommandRunner } from '../../../main/posture/command-runner.js';
import { createCommandRunner } from '../../../main/posture/command-runner.js';
import { authenticodeScript, checkUpdateSignature, judgeAuthenticodeReport, parseAuthenticodeReport } from '../../../main/update/authenticode.js';
import { DistinguishedNameError, parseDistinguishedName, sameDistinguishedName } from '../../../main/update/distinguished-name.js';
import { RELEASE_SIGNER_DN } from '../../../main/update/release-signer.js';
import { FIXTURES } from '../../kit/probe-records.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const fixture = (name: string): string => readFileSync(join(FIXTURES, 'update', 'authenticode', name), 'utf8');
const POWERSHELL = 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe';
const BARK = 'CN="Bark Technologies, Inc", O="Bark Technologies, Inc", L=Richmond Hill, S=Georgia, C=US';
const BARK_FILE = 'C:\\Users\\Brandon\\AppData\\Local\\bark-updater\\pending\\Bark Setup 1.0.1.exe';
const SIGNPATH = 'CN=SignPath Foundation, O=SignPath Foundation, L=Lewes, S=Delaware, C=US';
const SIGNPATH_FILE = 'C:\\Users\\orca\\AppData\\Local\\orca-updater\\pending\\orca-windows-setup.exe';

const same = (a: string, b: string): boolean => sameDistinguishedName(parseDistinguishedName(a), parseDistinguishedName(b));

/** A runner that answers every call with one result, and records what it was asked. */
function answering(result: Partial<CommandResult> | Error): CommandRunner & { calls: CommandRequest[] } {
  const calls: CommandRequest[] = [];
  return {
    calls,
    run(request) {
      calls.push(request);
      if (result instanceof Error) return Promise.reject(result);
      return Promise.resolve({ stdout: '', stderr: '', exitCode: 0, durationMs: 5, timedOut: false, truncated: false, ...result });
    },
  };
}

test('recorded real reports parse: status by number or name, subject, thumbprint, path', () => {
  const bark = parseAuthenticodeReport(fixture('valid-quoted-subject.json'));
  assert.deepEqual(bark, { status: 'Valid', statusMessage: 'Signature verified.', path: BARK_FILE, subject: BARK, thumbprint: 'BC5BF06603F25DBFAF1DAD0A697D691043355171' });
  assert.equal(parseAuthenticodeReport(fixture('valid-signpath.json')).subject, SIGNPATH);
  assert.equal(parseAuthenticodeReport(fixture('hash-mismatch.json')).status, 'HashMismatch');
  assert.equal(parseAuthenticodeReport(fixture('self-signed-untrusted.json')).status, 'UnknownError');
  const unsigned = parseAuthenticodeReport(fixture('not-signed.json'));
  assert.equal(unsigned.status, 'NotSigned');
  assert.equal(unsigned.subject, null);
  assert.equal(parseAuthenticodeReport(`\uFEFF${fixture('valid-signpath.json').replace('"Status":0', '"Status":"Valid"')}`).status, 'Valid', 'a BOM, and -EnumsAsStrings');
});

test('unreadable reports are errors, never a pass: truncated, empty, not JSON, several files, unknown status, no path', () => {
  assert.throws(() => parseAuthenticodeReport(fixture('truncated-compressed.txt')), { name: 'AuthenticodeReportError', message: 'PowerShell printed no JSON report' });
  assert.throws(() => parseAuthenticodeReport(''), { message: 'PowerShell printed nothing' });
  assert.throws(() => parseAuthenticodeReport("Get-AuthenticodeSignature : Cannot find path 'C:\\x.exe' because it does not exist."), { name: 'AuthenticodeReportError' });
  assert.throws(() => parseAuthenticodeReport(`[${fixture('valid-signpath.json')}]`), { message: 'the report is not one signature object' });
  assert.throws(() => parseAuthenticodeReport('{"Status":7,"Path":"C:\\\\a.exe"}'), { message: 'the report has no known Status (7)' });
  assert.throws(() => parseAuthenticodeReport('{"Status":"valid","Path":"C:\\\\a.exe"}'), /no known Status/);
  assert.throws(() => parseAuthenticodeReport('{"Status":0,"SignerCertificate":{"Subject":"CN=x"}}'), { message: 'the report names no file (Path)' });
  assert.throws(() => parseAuthenticodeReport('{"Status":0,"Path":"C:\\\\a.exe","SignerCertificate":{"Subject":1}}'), { message: 'SignerCertificate.Subject is not text' });
  assert.equal(parseAuthenticodeReport('{"Status":0,"Path":"C:\\\\a.exe","__proto__":{"SignerCertificate":{"Subject":"CN=x"}}}').subject, null, 'nothing is read through the prototype');
});

test('distinguished names: Windows quoting and RFC 4514 escaping, S = ST, types and values without case, RDN order kept', () => {
  assert.deepEqual(parseDistinguishedName(BARK)[0], [{ type: '2.5.4.3', value: 'Bark Technologies, Inc' }]);
  assert.ok(same(BARK, 'CN=Bark Technologies\\, Inc,O=Bark Technologies\\2C Inc,L=Richmond Hill,ST=Georgia,C=US'), 'RFC 4514 form of the same name');
  assert.ok(same(SIGNPATH, 'cn=signpath  foundation, o=SignPath Foundation, l=Lewes, st=DELAWARE, c=us'), 'case and runs of spaces (RFC 4518)');
  assert.ok(same('CN=Ärzte GmbH, C=DE', 'CN=A\u0308rzte GmbH, C=DE'), 'Unicode NFKC');
  assert.ok(same('CN=\\C3\\84rzte GmbH, C=DE', 'CN=Ärzte GmbH, C=DE'), 'RFC 4514 hex escapes are UTF-8');
  assert.throws(() => parseDistinguishedName('CN=Say ""Hi"", O=x'), { message: 'a quote inside an unquoted value' });
  assert.ok(same('CN="Say ""Hi""", O=x', 'CN=Say \\"Hi\\", O=x'));
  assert.ok(same('OID.2.5.4.97=VATDE-123, CN=x', '2.5.4.97=VATDE-123, CN=x'));
  assert.ok(same('E=it@x.example, CN=x', 'emailAddress=IT@x.example, CN=x'));
  assert.ok(same('CN=x + SERIALNUMBER=5, O=y', 'SERIALNUMBER=5+CN=x, O=y'), 'a multi-valued RDN is a set');
  assert.equal(same('CN=x, O=y', 'O=y, CN=x'), false, 'another order is another name');
  assert.equal(same('C=US, O=Apple Inc., OU=Apple Certification Authority, CN=Developer ID Certification Authority', 'CN=Developer ID Certification Authority, OU=Apple Certification Authority, O=Apple Inc., C=US'), false);
  assert.equal(same('CN=x + O=y', 'CN=x, O=y'), false, 'one RDN of two values is not two RDNs');
  for (const bad of ['', 'CN', 'CN="x', 'CN="x" y', 'CN=#0403616263', 'CN=a\\', 'CN=a\\q', 'C N=x', 'CN=a"b', 'CN=\\FF\\FE']) {
    assert.throws(() => parseDistinguishedName(bad), DistinguishedNameError, bad);
  }
});

test('the full name decides: a bare CN, a name inside another value, an extra or missing RDN, two CNs are all refused', () => {
  const report = parseAuthenticodeReport(fixture('valid-signpath.json'));
  assert.equal(judgeAuthenticodeReport(report, SIGNPATH_FILE, SIGNPATH).ok, true);
  for (const expected of ['SignPath Foundation', 'CN=SignPath Foundation', 'CN=SignPath Foundation, O=SignPath Foundation, L=Lewes, S=Delaware', `${SIGNPATH}, DC=example`, 'CN=SignPath Foundation, CN=SignPath Foundation, O=SignPath Foundation, L=Lewes, S=Delaware, C=US']) {
    const verdict = judgeAuthenticodeReport(report, SIGNPATH_FILE, expected);
    assert.equal(verdict.ok, false, expected);
    assert.ok(!verdict.ok && (verdict.code === 'SIGNER_MISMATCH' || verdict.code === 'SIGNER_NOT_CONFIGURED'), expected);
  }
  const evil = { ...report, subject: 'CN=SignPath Foundation, O=Evil Corp, L=Lewes, S=Delaware, C=US' };
  assert.deepEqual(judgeAuthenticodeReport(evil, SIGNPATH_FILE, SIGNPATH), { ok: false, code: 'SIGNER_MISMATCH', reason: `The update is signed by "${evil.subject}", not by the release signer "${SIGNPATH}".` });
  assert.equal(judgeAuthenticodeReport(parseAuthenticodeReport(fixture('valid-quoted-subject.json')), BARK_FILE, 'CN=Bark Technologies, O=Inc').ok, false, 'a comma inside a quoted value is not a separator');
});

test('only Status Valid about this very file passes: HashMismatch, NotSigned, UnknownError and a report on another file are refused', () => {
  const mismatch = judgeAuthenticodeReport(parseAuthenticodeReport(fixture('hash-mismatch.json')), SIGNPATH_FILE, SIGNPATH);
  assert.equal(mismatch.ok ? '' : mismatch.code, 'SIGNATURE_NOT_VALID');
  assert.match(mismatch.ok ? '' : mismatch.reason, /^Windows reports the update's signature as HashMismatch \(The contents of file /);
  const unsigned = judgeAuthenticodeReport(parseAuthenticodeReport(fixture('not-signed.json')), 'C:\\Program Files\\PowerShell\\Modules\\Pester\\Pester.psd1', SIGNPATH);
  assert.match(unsigned.ok ? '' : unsigned.reason, /as NotSigned/);
  const untrusted = judgeAuthenticodeReport(parseAuthenticodeReport(fixture('self-signed-untrusted.json')), 'C:\\Users\\daveywc\\AppData\\Local\\Temp\\up-1930\\setup.exe', 'CN=56E7E84D-7F15-45F6-BA32-A644DE395803');
  assert.match(untrusted.ok ? '' : untrusted.reason, /as UnknownError \(A certificate chain processed, but terminated in a root certificate/);
  const valid = parseAuthenticodeReport(fixture('valid-signpath.json'));
  assert.equal(judgeAuthenticodeReport(valid, SIGNPATH_FILE.toUpperCase().replace(/\\/g, '/'), SIGNPATH).ok, true, 'Windows paths: case and separators do not matter');
  const other = judgeAuthenticodeReport(valid, 'C:\\Users\\orca\\AppData\\Local\\Temp\\other.exe', SIGNPATH);
  assert.equal(other.ok ? '' : other.code, 'SIGNATURE_WRONG_FILE');
  const noSigner = judgeAuthenticodeReport({ ...valid, subject: null }, SIGNPATH_FILE, SIGNPATH);
  assert.equal(noSigner.ok ? '' : noSigner.code, 'SIGNATURE_NOT_VALID');
});

test('the check runs PowerShell without a shell, the path quoted for every single-quote character PowerShell knows', async () => {
  const runner = answering({ stdout: fixture('valid-signpath.json') });
  const verdict = await checkUpdateSignature({ runner, powershell: POWERSHELL }, SIGNPATH_FILE, SIGNPATH);
  assert.deepEqual(verdict, { ok: true, signer: SIGNPATH, thumbprint: 'F7394FAE852E68922222C04A4364204298E6E82E' });
  const argv = runner.calls[0]?.argv ?? [];
  assert.equal(argv[0], POWERSHELL);
  assert.deepEqual(argv.slice(1, 6), ['-NoProfile', '-NonInteractive', '-InputFormat', 'None', '-EncodedCommand']);
  const script = Buffer.from(argv[6] ?? '', 'base64').toString('utf16le');
  assert.equal(script, authenticodeScript(SIGNPATH_FILE));
  assert.match(script, /Get-AuthenticodeSignature -LiteralPath 'C:\\Users\\orca\\AppData\\Local\\orca-updater\\pending\\orca-windows-setup\.exe' \| ConvertTo-Json -Compress$/);
  assert.equal(runner.calls[0]?.timeoutMs, 30_000);
  const tricky = "C:\\Users\\O'Brien\u2019s\\x';calc;'.exe";
  assert.match(authenticodeScript(tricky), /-LiteralPath 'C:\\Users\\O''Brien\u2019\u2019s\\x'';calc;''\.exe' \|/);
});

test('any failure to run or read the check refuses the update and says why', async () => {
  const deps = (runner: CommandRunner) => ({ runner, powershell: POWERSHELL });
  const cases: [string, CommandRunner, string, RegExp][] = [
    ['blocked (AppLocker: access denied)', answering({ exitCode: null, error: { code: 'ACCESS_DENIED', message: 'spawn EACCES' } }), 'SIGNATURE_CHECK_UNAVAILABLE', /could not run PowerShell \(ACCESS_DENIED: spawn EACCES\); AppLocker or WDAC may block it\. The update is refused and the running version stays\.$/],
    ['timed out', answering({ exitCode: null, timedOut: true, error: { code: 'TIMED_OUT', message: 'No answer within 30000 ms' } }), 'SIGNATURE_CHECK_TIMED_OUT', /gave no answer within 30 s\. The update is refused/],
    ['exit code 1', answering({ exitCode: 1, stdout: fixture('valid-signpath.json') }), 'SIGNATURE_CHECK_UNAVAILABLE', /exit code 1\)/],
    ['an error on stderr (Constrained Language mode)', answering({ stderr: 'Cannot invoke method. Method invocation is supported only on core types in this language mode.\r\n', stdout: fixture('valid-signpath.json') }), 'SIGNATURE_CHECK_UNAVAILABLE', /exit code 0: Cannot invoke method\. Method invocation is supported only on core types in this language mode\.\)/],
    ['output cut at the cap', answering({ truncated: true, stdout: fixture('valid-signpath.json') }), 'SIGNATURE_REPORT_UNREADABLE', /longer than the agent reads/],
    ['truncated real output', answering({ stdout: fixture('truncated-compressed.txt') }), 'SIGNATURE_REPORT_UNREADABLE', /cannot be read: PowerShell printed no JSON report\./],
    ['nothing printed', answering({ stdout: '' }), 'SIGNATURE_REPORT_UNREADABLE', /PowerShell printed nothing/],
    ['runner refused the command', answering(new Error('Command not on the allow-list')), 'SIGNATURE_CHECK_UNAVAILABLE', /could not start PowerShell: Command not on the allow-list\./],
    ['HashMismatch', answering({ stdout: fixture('hash-mismatch.json') }), 'SIGNATURE_NOT_VALID', /HashMismatch/],
    ['another signer', answering({ stdout: fixture('valid-quoted-subject.json').replaceAll(BARK_FILE.replace(/\\/g, '\\\\'), SIGNPATH_FILE.replace(/\\/g, '\\\\')) }), 'SIGNER_MISMATCH', /signed by "CN="Bark Technologies, Inc"/],
  ];
  for (const [label, runner, code, reason] of cases) {
    const verdict = await checkUpdateSignature(deps(runner), SIGNPATH_FILE, SIGNPATH);
    assert.equal(verdict.ok, false, label);
    assert.equal(verdict.ok ? '' : verdict.code, code, label);
    assert.match(verdict.ok ? '' : verdict.reason, reason, label);
  }
});

test('with the real command runner and no runnable powershell.exe (as under AppLocker), the update is refused', async () => {
  const runner = createCommandRunner({ allowList: new Set([POWERSHELL]) });
  const verdict = await checkUpdateSignature({ runner, powershell: POWERSHELL }, SIGNPATH_FILE, SIGNPATH);
  assert.equal(verdict.ok ? '' : verdict.code, 'SIGNATURE_CHECK_UNAVAILABLE');
  assert.match(verdict.ok ? '' : verdict.reason, /TOOL_MISSING/);
});

test('why we replace it: electron-updater 6.8\'s own check passes an update when PowerShell cannot run', async () => {
  const require = createRequire(import.meta.url);
  const { verifySignature } = require('electron-updater/out/windowsExecutableCodeSignatureVerifier.js') as { verifySignature: (names: string[], file: string, logger: object) => Promise<string | null> };
  const warnings: string[] = [];
  const logger = { info: () => undefined, warn: (m: string) => warnings.push(m), error: () => undefined };
  // Its command line is for cmd.exe (`chcp 65001 >NUL`); under /bin/sh that redirect makes a
  // file named NUL in the working folder, so it runs in a temp folder of its own.
  const home = process.cwd();
  const scratch = mkdtempSync(join(tmpdir(), 'dta-electron-updater-check-'));
  try {
    process.chdir(scratch);
    // null is electron-updater's "signature accepted": it starts the installer after this.
    assert.equal(await verifySignature(['Device Trust Project'], SIGNPATH_FILE, logger), null);
  } finally {
    process.chdir(home);
    rmSync(scratch, { recursive: true, force: true });
  }
  assert.match(warnings.join('\n'), /Ignoring signature validation/);
});

test('the release signer is one name: electron-builder.yml\'s publisherName equals the agent\'s constant, and it parses', () => {
  const config = parse(readFileSync(join(ROOT, 'electron-builder.yml'), 'utf8')) as { win: { signtoolOptions: { publisherName: string[] } } };
  assert.deepEqual(config.win.signtoolOptions.publisherName, [RELEASE_SIGNER_DN]);
  assert.ok(parseDistinguishedName(RELEASE_SIGNER_DN).length >= 3, 'a full name, not a bare CN');
});
