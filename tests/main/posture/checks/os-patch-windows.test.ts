// Windows patch level from the build and UBR against the table of cumulative updates, each
// edition on its own lifecycle (issue 13). Fixtures: tests/fixtures/win32 (SOURCES.md).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PosturePolicy } from '../../../../common/posture.js';
import { defaultPosturePolicy, defaultSupportData } from '../../../../common/posture.js';
import { windowsOsPatchCheck } from '../../../../main/posture/checks/os-patch/probe.win32.js';
import { windowsEditionClass, windowsPatchLevel } from '../../../../main/posture/checks/os-patch/windows-patch-level.js';
import { WINDOWS_UPDATES } from '../../../../main/posture/checks/os-patch/windows-updates.js';
import { fixture, judge, rec } from '../../../kit/probe-records.js';

const win = (probe: string, state: string): string => fixture('win32', probe, state);
const ps = (id: string, stdout: string) => rec(id, stdout, { kind: 'powershell' });
const at = (iso: string): Date => new Date(`${iso}T12:00:00Z`);
/** A recorded registry output with another update revision (the UBR line is the only change). */
const withUbr = (text: string, ubr: number): string => text.replace(/^UBR(\s+): \d+$/m, `UBR$1: ${ubr}`);

function osPatch(osText: string, now: Date, policy: PosturePolicy = defaultPosturePolicy(), hotfix = win('win.hotfix', 'empty')) {
  return judge(windowsOsPatchCheck, [ps('win.os', osText), ps('win.hotfix', hotfix)], { now, policy });
}

test('a fresh .NET hotfix does not hide an OS build almost two years behind', () => {
  // 26100.2894 is January 2025's update; Get-HotFix shows an update installed 11 days ago.
  const out = osPatch(win('win.os', 'windows-11-24h2-enterprise'), at('2026-11-29'), defaultPosturePolicy(), win('win.hotfix', 'dotnet-this-month'));
  assert.equal(out.verdict, 'fail', out.reason);
  assert.equal(out.remediation, 'os.update-now');
  assert.match(out.reason, /No security update was installed for \d{3} days/);
  assert.match(String(out.facts.lastUpdateName), /older than 26100\.\d+ \(KB/);
});

test('the update age counts from the release day of the device\'s cumulative update', () => {
  const os = win('win.os', 'windows-11-25h2-pro');
  const august = osPatch(withUbr(os, 9168), at('2026-09-20'));
  assert.equal(august.facts.lastUpdateAt, '2026-08-11T00:00:00.000Z');
  assert.equal(august.facts.daysSinceUpdate, 40);
  assert.equal(august.verdict, 'warn', august.reason);
  assert.match(String(august.facts.lastUpdateName), /KB5121003/);
  // A preview (8973, 28 July) carries July's security content (8875, 14 July).
  const preview = osPatch(withUbr(os, 8973), at('2026-08-12'));
  assert.equal(preview.facts.lastUpdateAt, '2026-07-14T00:00:00.000Z');
  assert.equal(preview.verdict, 'pass', preview.reason);
  assert.equal(preview.facts.newerUpdatesMissing, 2, "August's update and its hotpatch twin");
  // Before August's update was out, the same preview was newer than anything released.
  assert.equal(osPatch(withUbr(os, 8973), at('2026-08-01')).facts.updatedBeyondData, true);
  // Months behind: fails, and says how many newer updates exist.
  const behind = osPatch(withUbr(os, 7840), at('2026-08-20'));
  assert.equal(behind.verdict, 'fail');
  assert.ok(Number(behind.facts.newerUpdatesMissing) >= 5);
});

test('hotpatch revisions are dated by their own month', () => {
  const out = osPatch(withUbr(win('win.os', 'windows-11-24h2-enterprise'), 9106), at('2026-08-20'));
  assert.equal(out.facts.lastUpdateAt, '2026-08-11T00:00:00.000Z');
  assert.match(String(out.facts.lastUpdateName), /hotpatch/);
  assert.equal(out.verdict, 'pass', out.reason);
});

test('a supported, patched LTSC 2019 PC passes on its own lifecycle; the general channel minimum does not apply', () => {
  const out = osPatch(win('win.os', 'windows-10-ltsc-2019-patched'), at('2026-11-29'));
  assert.equal(out.verdict, 'pass', out.reason);
  assert.equal(out.facts.edition, 'ltsc');
  assert.equal(out.facts.supportEndsOn, '2029-01-09');
  assert.equal(out.facts.lastUpdateAt, '2026-11-10T00:00:00.000Z');
  // Windows Server 2019 shares the revisions and has its own lifecycle.
  const server = osPatch(withUbr(win('win.os', 'windows-server-2019'), 9487), at('2026-11-29'));
  assert.equal(server.verdict, 'pass', server.reason);
  assert.equal(server.facts.osName, 'Windows Server');
});

test('each channel has its own end of support: LTSC 2021, IoT LTSC 2021, Server 2022, Windows 10 22H2 (with and without ESU)', () => {
  const ltsc2021 = win('win.os', 'windows-10-ltsc-2021');
  assert.equal(osPatch(ltsc2021, at('2026-11-29')).facts.supportEndsOn, '2027-01-12');
  assert.equal(osPatch(ltsc2021.replace('EnterpriseS', 'IoTEnterpriseS'), at('2026-11-29')).facts.supportEndsOn, '2032-01-13');
  assert.equal(osPatch(win('win.os', 'windows-server-2022-core'), at('2026-11-29')).facts.supportEndsOn, '2031-10-14');
  const w10 = osPatch(withUbr(win('win.os', 'windows-10-22h2-pro'), 7663), at('2026-08-20'));
  assert.equal(w10.verdict, 'fail');
  assert.match(w10.reason, /no longer gets security updates \(support ended on 2025-10-14\)/);
  const esu = { ...defaultPosturePolicy(), windows: { ...defaultPosturePolicy().windows, windows10EsuUntil: '2027-10-12' } };
  const withEsu = osPatch(withUbr(win('win.os', 'windows-10-22h2-pro'), 7663), at('2026-08-20'), esu);
  assert.equal(withEsu.verdict, 'warn', withEsu.reason);
  assert.equal(withEsu.facts.supportPhase, 'extended');
  assert.equal(windowsEditionClass('', 'Client', 'Windows 10 IoT Enterprise LTSC 2021'), 'iot-ltsc');
  assert.equal(windowsEditionClass('ProfessionalWorkstation', 'Client'), 'consumer');
  assert.equal(windowsEditionClass('ServerDatacenter', 'Server Core'), 'server');
});

test('Windows Server 2025 is dated by its own revisions (26100.32xxx), not the client\'s', () => {
  const server = win('win.os', 'windows-server-2025-core');
  const current = osPatch(withUbr(server, 33296), at('2026-08-20'));
  assert.equal(current.verdict, 'pass', current.reason);
  assert.equal(current.facts.lastUpdateAt, '2026-08-11T00:00:00.000Z');
  const june2025 = osPatch(server, at('2026-08-20'));
  assert.equal(june2025.facts.lastUpdateAt, '2025-06-10T00:00:00.000Z');
  assert.equal(june2025.verdict, 'fail');
});

test('a device at or past the newest update of a stale table passes, and IT (not the clinician) is told the table is stale', () => {
  const os = withUbr(win('win.os', 'windows-11-25h2-pro'), 9974);
  const soon = osPatch(os, at('2026-09-20'));
  assert.equal(soon.verdict, 'pass', soon.reason);
  assert.equal(soon.facts.updatedBeyondData, true);
  assert.equal(soon.facts.itNotice, null);
  const late = osPatch(os, at('2026-11-29'));
  assert.equal(late.verdict, 'pass', late.reason);
  assert.match(String(late.facts.itNotice), /last reviewed on 2026-08-12, \d+ days ago \(policy allows 45\)/);
  // At the table's newest update (August's 9168): while the table is fresh its age counts
  // (warned after 35 days); once the table is stale the age cannot be held against the device.
  const atNewest = withUbr(win('win.os', 'windows-11-25h2-pro'), 9168);
  assert.equal(osPatch(atNewest, at('2026-09-20')).verdict, 'warn');
  const staleAtNewest = osPatch(atNewest, at('2026-11-29'));
  assert.equal(staleAtNewest.verdict, 'pass', staleAtNewest.reason);
  assert.match(String(staleAtNewest.facts.itNotice), /policy allows 45/);
  // A device behind the newest listed update is still judged by its own update's age.
  assert.equal(osPatch(withUbr(win('win.os', 'windows-11-25h2-pro'), 7840), at('2026-11-29')).verdict, 'fail');
  // A stale table does not change the verdict of a device it can date: only IT is told.
  const dated = osPatch(win('win.os', 'windows-10-ltsc-2019-patched'), at('2026-11-29'));
  assert.equal(dated.verdict, 'pass', dated.reason);
  assert.match(String(dated.facts.itNotice), /policy allows 45/);
});

test('IT adds newer cumulative updates and releases through policy', () => {
  const base = defaultPosturePolicy();
  const policy: PosturePolicy = {
    ...base,
    supportData: { ...defaultSupportData(), reviewedOn: '2026-11-24', windowsUpdates: [{ build: 26200, channel: 'client', ubr: 9974, releasedOn: '2026-11-10', kb: 'KB5999999' }] },
  };
  const out = osPatch(withUbr(win('win.os', 'windows-11-25h2-pro'), 9974), at('2026-11-29'), policy);
  assert.equal(out.verdict, 'pass', out.reason);
  assert.equal(out.facts.daysSinceUpdate, 19);
  assert.equal(out.facts.itNotice, null);
  const unknownBuild = win('win.os', 'windows-11-25h2-pro').replace('26200', '27100');
  assert.equal(osPatch(unknownBuild, at('2026-11-29')).verdict, 'unknown');
  const known = osPatch(withUbr(unknownBuild, 100), at('2026-11-29'), {
    ...policy,
    supportData: { ...defaultSupportData(), reviewedOn: '2026-11-24', windowsReleases: [{ build: 27100, edition: 'consumer', name: 'Windows 11 27H1', endsOn: '2029-03-13' }], windowsUpdates: [{ build: 27100, channel: 'client', ubr: 100, releasedOn: '2026-11-10' }] },
  });
  assert.equal(known.verdict, 'pass', known.reason);
});

test('an edition the release does not have, or a build the calendar does not know, is unknown with the reason', () => {
  const ltscOn22h2 = osPatch(withUbr(win('win.os', 'windows-10-22h2-pro').replace('Professional', 'EnterpriseS'), 7663), at('2026-08-20'));
  assert.equal(ltscOn22h2.verdict, 'unknown');
  assert.match(ltscOn22h2.reason, /no LTSC edition/);
});

test('the UBR lookup: below, between and past the listed updates', () => {
  const series = WINDOWS_UPDATES.find((s) => s.build === 26100 && s.channel === 'client');
  assert.ok(series);
  const updates = series.updates.map(([ubr, releasedOn, source, hotpatch]) => ({ ubr, releasedOn, source, hotpatch: hotpatch === true }));
  assert.equal(windowsPatchLevel(updates, 1).kind, 'older-than-table');
  assert.equal(windowsPatchLevel(updates, 99_999).kind, 'newer-than-table');
  const between = windowsPatchLevel(updates, 8039);
  assert.equal(between.kind, 'dated');
  assert.equal(between.kind === 'dated' ? between.update.ubr : 0, 8037);
  assert.equal(windowsPatchLevel([], 5).kind, 'not-listed');
  for (const s of WINDOWS_UPDATES) {
    for (let i = 1; i < s.updates.length; i++) assert.ok((s.updates[i - 1]?.[1] ?? '') <= (s.updates[i]?.[1] ?? ''), `${s.build}/${s.channel}: revisions and dates rise together`);
  }
});
