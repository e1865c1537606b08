// Support calendars as data (issue 13): a release the calendar does not know is `unknown`, an
// ended one fails whatever was updated recently, Ubuntu ESM counts only with Ubuntu Pro attached,
// macOS keeps the newest three majors. Fixtures: tests/fixtures/{linux,darwin} (SOURCES.md).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PosturePolicy } from '../../../../common/posture.js';
import { defaultPosturePolicy, defaultSupportData } from '../../../../common/posture.js';
import { darwinOsPatchCheck } from '../../../../main/posture/checks/os-patch/probe.darwin.js';
import { linuxOsPatchCheck } from '../../../../main/posture/checks/os-patch/probe.linux.js';
import { parseProStatus } from '../../../../main/posture/checks/os-patch/ubuntu-pro.js';
import { fixture, judge, missingTool, rec } from '../../../kit/probe-records.js';

const lx = (probe: string, state: string): string => fixture('linux', probe, state);
const NOW = new Date('2026-11-29T12:00:00Z');
/** A package upgraded the day before "now": fresh, whatever the release. */
const FRESH_DPKG = '2026-11-28 06:00:00 upgrade libc6:amd64 2.31-0ubuntu9.17 2.31-0ubuntu9.18\n';
const FRESH_RPM = '1795845600 openssl-libs-3.2.2-16.fc42\n';

function linux(osState: string, extra: { pro?: string; rpm?: boolean; policy?: PosturePolicy } = {}) {
  return judge(
    linuxOsPatchCheck,
    [
      rec('linux.os-release', lx('linux.os-release', osState)),
      rec('linux.kernel', '5.4.0-216-generic\n'),
      extra.rpm ? missingTool('linux.dpkg-log') : rec('linux.dpkg-log', FRESH_DPKG),
      extra.rpm ? rec('linux.rpm-installtime', FRESH_RPM) : missingTool('linux.rpm-installtime'),
      missingTool('linux.updates-available'),
      extra.pro === undefined ? missingTool('linux.pro-status') : rec('linux.pro-status', lx('linux.pro-status', extra.pro)),
    ],
    { now: NOW, ...(extra.policy ? { policy: extra.policy } : {}) },
  );
}

test('an ended release fails however recently a package was updated: CentOS 7, Fedora 42, Ubuntu 25.04', () => {
  const centos = linux('centos-7', { rpm: true });
  assert.equal(centos.verdict, 'fail', centos.reason);
  assert.match(centos.reason, /support ended on 2024-06-30/);
  const fedora = linux('fedora-42', { rpm: true });
  assert.equal(fedora.verdict, 'fail', fedora.reason);
  assert.match(fedora.reason, /support ended on 2026-05-13/);
  assert.equal(fedora.facts.osReleaseSupportEnd, '2026-05-13');
  assert.equal(linux('ubuntu-25.04').verdict, 'fail');
});

test('a release the calendar does not know is unknown with the reason, never a warning or a pass', () => {
  const out = linux('unknown-distro');
  assert.equal(out.verdict, 'unknown', out.reason);
  assert.equal(out.remediation, 'contact-it');
  assert.match(out.reason, /not in the agent's support calendar.*IT can add the release to the calendar through the managed setting postureSupportData/);
  // Its own os-release promising support is not taken on trust.
  const fedora44Like = lx('linux.os-release', 'fedora-43').replace(/VERSION_ID=43/, 'VERSION_ID=44').replace('SUPPORT_END=2026-12-02', 'SUPPORT_END=2027-05-19');
  const f44 = judge(linuxOsPatchCheck, [rec('linux.os-release', fedora44Like), rec('linux.rpm-installtime', FRESH_RPM), missingTool('linux.dpkg-log')], { now: NOW });
  assert.equal(f44.verdict, 'unknown');
  assert.match(f44.reason, /does not take on trust/);
});

test('IT extends the calendar through policy', () => {
  const base = defaultPosturePolicy();
  const policy: PosturePolicy = { ...base, supportData: { ...defaultSupportData(), reviewedOn: '2026-11-20', linuxReleases: [{ id: 'openmandriva', versionId: '3.0', endsOn: '2027-01-31' }] } };
  const out = linux('unknown-distro', { policy });
  assert.equal(out.verdict, 'pass', out.reason);
  assert.equal(out.facts.itNotice, null);
});

test('Ubuntu 20.04 after standard support: ESM counts only with Ubuntu Pro attached and ESM Infra on', () => {
  const unattached = linux('ubuntu-20.04', { pro: 'unattached' });
  assert.equal(unattached.verdict, 'fail', unattached.reason);
  assert.match(unattached.reason, /support ended on 2025-05-31\)\. Expanded Security Maintenance needs Ubuntu Pro, which is not attached/);
  const noTool = linux('ubuntu-20.04');
  assert.equal(noTool.verdict, 'fail');
  assert.match(noTool.reason, /could not be read/);
  const attached = linux('ubuntu-20.04', { pro: 'attached-esm-infra' });
  assert.equal(attached.verdict, 'warn', attached.reason);
  assert.equal(attached.facts.supportPhase, 'extended');
  assert.match(attached.reason, /extended support until 2030-04-30/);
  assert.deepEqual(parseProStatus(lx('linux.pro-status', 'attached-esm-infra')), { attached: true, esmInfraEnabled: true, expires: '9999-12-31' });
  assert.equal(parseProStatus(lx('linux.pro-status', 'unattached')).attached, false);
});

test('Debian LTS is free and counts; Debian 11 after its LTS fails; Rocky 9.3 is RHEL 9', () => {
  const d12 = linux('debian-12');
  assert.equal(d12.facts.supportPhase, 'extended');
  assert.equal(d12.verdict, 'warn');
  const d11 = lx('linux.os-release', 'debian-12').replace(/12/g, '11').replace('bookworm', 'bullseye');
  assert.equal(judge(linuxOsPatchCheck, [rec('linux.os-release', d11), rec('linux.dpkg-log', FRESH_DPKG)], { now: NOW }).verdict, 'fail');
  assert.equal(linux('rocky-9', { rpm: true }).facts.supportEndsOn, '2032-05-31');
  assert.equal(linux('rhel-9', { rpm: true }).facts.extendedSupportEndsOn, null, 'ELS is paid and invisible: not counted');
});

test('macOS: the newest three majors are supported; the fourth newest fails; an unknown major is unknown', () => {
  const mac = (state: string, now: Date, policy = defaultPosturePolicy()) =>
    judge(darwinOsPatchCheck, [rec('mac.os', fixture('darwin', 'mac.os', state)), rec('mac.updates', fixture('darwin', 'mac.updates', 'recent-macos-update')), rec('mac.pending', fixture('darwin', 'mac.pending', 'none-pending'))], { now, policy: { ...policy, macos: { ...policy.macos, minimumVersion: '10.0' } } });
  const aug2024 = new Date('2024-08-20T00:00:00Z');
  assert.equal(mac('ventura-13-4-1-rsr', aug2024).facts.supportPhase, 'regular', 'Ventura is one of 12, 13, 14 before Sequoia ships');
  const oct2024 = new Date('2024-10-01T00:00:00Z');
  const monterey = mac('monterey-12', oct2024);
  assert.equal(monterey.verdict, 'fail');
  assert.match(monterey.reason, /support ended on 2024-09-15/, 'Sequoia, the third successor, shipped on 2024-09-16');
  assert.equal(mac('ventura-13-4-1-rsr', oct2024).facts.supportPhase, 'regular');
  assert.equal(mac('ventura-13-4-1-rsr', new Date('2025-10-01T00:00:00Z')).facts.supportEndsOn, '2025-09-14');
  assert.equal(mac('ventura-13-4-1-rsr', new Date('2025-10-01T00:00:00Z')).verdict, 'fail');
  assert.equal(mac('sonoma-14-6-1', new Date('2025-10-01T00:00:00Z')).facts.supportEndsOn, '9999-12-31', 'supported until a macOS the calendar does not know yet ships');
  const tahoe = mac('tahoe-26', aug2024);
  assert.equal(tahoe.verdict, 'unknown', 'Tahoe had not shipped in August 2024: the calendar does not know it then');
});
