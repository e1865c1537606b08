// Windows antivirus against recorded outputs (tests/fixtures/win32/win.antivirus and
// win.defender; sources and which files are constructed in tests/fixtures/win32/SOURCES.md).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ProbeRecord } from '../../../../common/posture.js';
import { decodeProductState, windowsAntivirusCheck } from '../../../../main/posture/checks/antivirus/probe.win32.js';
import { fixture, judge, rec } from '../../../kit/probe-records.js';

const ps = (id: string, stdout: string, extra: Partial<ProbeRecord> = {}) => rec(id, stdout, { kind: 'powershell', ...extra });
const wsc = (state: string) => ps('win.antivirus', fixture('win32', 'win.antivirus', state));
const defender = (state: string) => ps('win.defender', fixture('win32', 'win.defender', state));
const notRecorded = ps('win.defender', '', { exitCode: null, error: { code: 'NOT_RECORDED', message: 'not in the bundle' } });

test('productState: every nibble is decoded, not one bit (on, off, snoozed, expired; signatures; owner)', () => {
  assert.deepEqual(decodeProductState(397568), { protection: 'on', signatures: 'current', microsoft: true, hex: '0x061100' });
  assert.deepEqual(decodeProductState(393472), { protection: 'off', signatures: 'current', microsoft: true, hex: '0x060100' });
  assert.deepEqual(decodeProductState(397584), { protection: 'on', signatures: 'out-of-date', microsoft: true, hex: '0x061110' });
  assert.deepEqual(decodeProductState(266240), { protection: 'on', signatures: 'current', microsoft: false, hex: '0x041000' });
  assert.equal(decodeProductState(270336).protection, 'snoozed'); // 0x042000, seen on real endpoints
  assert.equal(decodeProductState(274432).protection, 'expired'); // 0x043000: bit 0x1000 is set, yet it is not on
  assert.equal(decodeProductState(274448).signatures, 'out-of-date');
  assert.equal(decodeProductState(344064).protection, 'unknown'); // 0x054000: a state nobody documents
  assert.equal(decodeProductState(262176).signatures, 'unknown'); // 0x040020
});

test('an expired third-party antivirus beside a disabled Defender fails; it is not "on"', () => {
  const out = judge(windowsAntivirusCheck, [wsc('third-party-expired-defender-off'), notRecorded]);
  assert.equal(out.verdict, 'fail', out.reason);
  assert.match(out.reason, /expired/);
  assert.match(out.reason, /Bitdefender Antivirus/);
  assert.equal(out.remediation, 'antivirus.renew', 'the product is installed: its licence needs renewing, not a new product');
});

test('a snoozed antivirus fails and says it is paused', () => {
  const out = judge(windowsAntivirusCheck, [wsc('third-party-snoozed-defender-off'), notRecorded]);
  assert.equal(out.verdict, 'fail');
  assert.match(out.reason, /paused \(snoozed\)/);
  assert.equal(out.remediation, 'antivirus.enable');
});

test('an undocumented protection state is unknown with the value, never a pass', () => {
  const text = fixture('win32', 'win.antivirus', 'third-party-expired-defender-off').replace('274432', '344064');
  const out = judge(windowsAntivirusCheck, [ps('win.antivirus', text), notRecorded]);
  assert.equal(out.verdict, 'unknown');
  assert.match(out.reason, /Bitdefender Antivirus \(productState 0x054000\)/);
});

test('Defender passive or not running beside an active third-party product: the third party protects', () => {
  for (const d of ['not-running', 'passive']) {
    const out = judge(windowsAntivirusCheck, [wsc('sentinelone-on-defender-passive-with-path'), defender(d)]);
    assert.equal(out.verdict, 'pass', d);
    assert.equal(out.reason, 'Antivirus protection is on (Sentinel Agent).');
  }
});

test("Defender's own status decides for Defender: real-time protection off fails although Security Center says on", () => {
  for (const d of ['normal-realtime-off-zh-cn', 'normal-realtime-off-signatures-904-days']) {
    const out = judge(windowsAntivirusCheck, [wsc('defender-on-uptodate-with-path'), defender(d)]);
    assert.equal(out.verdict, 'fail', d);
    assert.equal(out.remediation, 'antivirus.enable');
    const products = out.facts.products as { source: string; protection: string }[];
    assert.deepEqual(products.map((p) => [p.source, p.protection]), [['defender-status', 'off']]);
  }
});

test('Defender in passive mode with real-time protection reported on is not protection on its own', () => {
  const out = judge(windowsAntivirusCheck, [wsc('defender-on-uptodate-with-path'), defender('passive')]);
  assert.equal(out.verdict, 'fail');
});

test("Defender's signatures: Defender's own out-of-date flag warns; the age is used when the flag is absent", () => {
  const out = judge(windowsAntivirusCheck, [wsc('defender-on-uptodate-with-path'), defender('normal-signatures-out-of-date')]);
  assert.equal(out.verdict, 'warn');
  assert.equal(out.remediation, 'antivirus.update-definitions');
  assert.equal(judge(windowsAntivirusCheck, [wsc('defender-on-uptodate-with-path'), defender('normal-current')]).verdict, 'pass');
});

test('Windows Server: Defender active passes on its own status; otherwise unknown, since a third party cannot be seen', () => {
  const server = wsc('server-no-securitycenter-caught');
  const active = judge(windowsAntivirusCheck, [server, defender('normal-current')]);
  assert.equal(active.verdict, 'pass', active.reason);
  assert.match(active.reason, /Microsoft Defender Antivirus/);
  for (const d of ['not-running', 'service-disabled-caught']) {
    const out = judge(windowsAntivirusCheck, [server, defender(d)]);
    assert.equal(out.verdict, 'unknown', d);
    assert.match(out.reason, /does not report antivirus status through Windows Security Center/);
  }
});

test('a bundle from before win.defender is judged on Security Center alone, as before', () => {
  assert.equal(judge(windowsAntivirusCheck, [wsc('defender-on-uptodate'), notRecorded]).verdict, 'pass');
  assert.equal(judge(windowsAntivirusCheck, [wsc('defender-outdated'), notRecorded]).verdict, 'warn');
  assert.equal(judge(windowsAntivirusCheck, [wsc('third-party-on-defender-passive'), notRecorded]).verdict, 'pass');
});

test('a Security Center that cannot be read on a client is unknown with its error id, not called a Server', () => {
  const denied = ps('win.antivirus', 'SecurityCenterError : HRESULT 0x80041003,Microsoft.Management.Infrastructure.CimCmdlets.GetCimInstanceCommand\n');
  const out = judge(windowsAntivirusCheck, [denied, defender('not-running')]);
  assert.equal(out.verdict, 'unknown');
  assert.match(out.reason, /Windows Security Center could not be read \(HRESULT 0x80041003/);
  assert.doesNotMatch(out.reason, /Server/);
});

test('an undocumented signature value on an active product is unknown, not "out of date"; an unreadable Defender status falls back to Security Center', () => {
  const text = fixture('win32', 'win.antivirus', 'third-party-expired-defender-off').replace('274432', '266272'); // 0x041020
  const out = judge(windowsAntivirusCheck, [ps('win.antivirus', text), notRecorded]);
  assert.equal(out.verdict, 'unknown');
  assert.match(out.reason, /productState 0x041020/);
  const garbled = judge(windowsAntivirusCheck, [wsc('defender-on-uptodate-with-path'), ps('win.defender', 'not a status\n')]);
  assert.equal(garbled.verdict, 'pass');
  assert.deepEqual(garbled.facts.defender, { unavailable: 'UNREADABLE_OUTPUT' });
});
