// IT extends the os-patch check's support data through managed configuration (issue 13
// follow-up): postureSupportData, one JSON object per entry, and supportDataMaxAgeDays. Real
// policy files in a temporary /etc-like root, read and resolved as the agent does, then the
// real os-patch judges run on recorded outputs with the policy that came out.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import type { PosturePolicy } from '../../../common/posture.js';
import { SupportDataSchema, defaultSupportData } from '../../../common/posture.js';
import { isValid } from '../../../common/validate.js';
import { LINUX_POLICY_DIR, WINDOWS_POLICY_KEYS, readWindowsPolicies } from '../../../main/config/config-sources.js';
import { loadEffectiveConfig, posturePolicyFrom } from '../../../main/config/load-config.js';
import { supportDataFromConfig } from '../../../main/config/posture-support-data.js';
import type { RegValue } from '../../../main/config/registry-export.js';
import { resolveConfig } from '../../../main/config/resolve-config.js';
import { darwinOsPatchCheck } from '../../../main/posture/checks/os-patch/probe.darwin.js';
import { linuxOsPatchCheck } from '../../../main/posture/checks/os-patch/probe.linux.js';
import { windowsOsPatchCheck } from '../../../main/posture/checks/os-patch/probe.win32.js';
import { fixture, judge, missingTool, rec } from '../../kit/probe-records.js';
import { tempFolderPath } from '../../kit/temp-folder.js';

const NOW = new Date('2026-11-29T12:00:00Z');
const POLICY_FILE = `${LINUX_POLICY_DIR}/policy.json`;

async function policyFrom(policy: Record<string, unknown>, user?: Record<string, unknown>) {
  const root = tempFolderPath('dta-support-');
  mkdirSync(root + LINUX_POLICY_DIR, { recursive: true });
  writeFileSync(root + POLICY_FILE, JSON.stringify(policy));
  const userSettingsPath = join(root, 'settings.json');
  if (user) writeFileSync(userSettingsPath, JSON.stringify(user));
  const config = await loadEffectiveConfig('linux', { root, userSettingsPath });
  return { config, ...posturePolicyFrom(config) };
}

/** Windows 11 on a build the agent's tables do not know (27100), at update revision 100. */
function windows27100(policy: PosturePolicy) {
  const os = fixture('win32', 'win.os', 'windows-11-25h2-pro').replace('26200', '27100').replace(/^UBR(\s+): \d+$/m, 'UBR$1: 100');
  return judge(windowsOsPatchCheck, [rec('win.os', os, { kind: 'powershell' }), rec('win.hotfix', fixture('win32', 'win.hotfix', 'empty'), { kind: 'powershell' })], { now: NOW, policy });
}

/** OpenMandriva 3.0, a release the agent's Linux calendar does not list, updated yesterday. */
function openMandriva(policy: PosturePolicy) {
  const records = [rec('linux.os-release', fixture('linux', 'linux.os-release', 'unknown-distro')), rec('linux.kernel', '5.4.0-216-generic\n'), rec('linux.dpkg-log', '2026-11-28 06:00:00 upgrade libc6:amd64 2.31-0ubuntu9.17 2.31-0ubuntu9.18\n'), missingTool('linux.rpm-installtime'), missingTool('linux.updates-available')];
  return judge(linuxOsPatchCheck, records, { now: NOW, policy });
}

/** macOS 27, a major the agent's calendar does not list, updated to 27.1 ten days ago. */
function macos27(policy: PosturePolicy) {
  const os = fixture('darwin', 'mac.os', 'tahoe-26').replace('26.0.1', '27.1');
  const updates = fixture('darwin', 'mac.updates', 'recent-macos-update').replace('macOS Sonoma 14.6.1     ', 'macOS 27.1              ').replace('14.6.1     08/08/2024', '27.1       11/19/2026');
  const records = [rec('mac.os', os), rec('mac.updates', updates), rec('mac.pending', fixture('darwin', 'mac.pending', 'none-pending'))];
  return judge(darwinOsPatchCheck, records, { now: NOW, policy });
}

const WINDOWS_RELEASE = { kind: 'windowsRelease', build: 27100, edition: 'consumer', name: 'Windows 11 27H1', endsOn: '2029-03-13' };
const WINDOWS_UPDATE = { kind: 'windowsUpdate', build: 27100, channel: 'client', ubr: 100, releasedOn: '2026-11-10', kb: 'KB5999999' };
const LINUX_RELEASE = { kind: 'linuxRelease', id: 'openmandriva', versionId: '3.0', endsOn: '2027-01-31' };
const MACOS_RELEASE = { kind: 'macosRelease', major: 27, name: 'macOS 27', releasedOn: '2026-09-14' };
const REVIEWED_ON = { kind: 'reviewedOn', date: '2026-11-24' };
const EVERY_KIND = [WINDOWS_RELEASE, WINDOWS_UPDATE, LINUX_RELEASE, MACOS_RELEASE, REVIEWED_ON].map((e) => JSON.stringify(e));

test('IT\'s entries of every kind extend the judgement: an unknown Windows build, Linux release and macOS major become judged', async () => {
  const before = await policyFrom({ serviceUrl: 'https://dts.hospital.example' });
  assert.deepEqual(before.policy.supportData, defaultSupportData());
  assert.equal(windows27100(before.policy).verdict, 'unknown');
  assert.equal(openMandriva(before.policy).verdict, 'unknown');
  assert.equal(macos27(before.policy).verdict, 'unknown');

  const after = await policyFrom({ serviceUrl: 'https://dts.hospital.example', supportDataMaxAgeDays: 90, postureSupportData: EVERY_KIND });
  assert.deepEqual(after.problems, []);
  assert.deepEqual(after.config.problems, []);
  assert.deepEqual(after.policy.supportData, {
    maxAgeDays: 90,
    reviewedOn: '2026-11-24',
    windowsUpdates: [{ build: 27100, channel: 'client', ubr: 100, releasedOn: '2026-11-10', kb: 'KB5999999' }],
    windowsReleases: [{ build: 27100, edition: 'consumer', name: 'Windows 11 27H1', endsOn: '2029-03-13' }],
    linuxReleases: [{ id: 'openmandriva', versionId: '3.0', endsOn: '2027-01-31' }],
    macosReleases: [{ major: 27, name: 'macOS 27', releasedOn: '2026-09-14' }],
  });
  const windows = windows27100(after.policy);
  assert.equal(windows.verdict, 'pass', windows.reason);
  assert.equal(windows.facts.supportEndsOn, '2029-03-13');
  assert.equal(windows.facts.daysSinceUpdate, 19, 'dated by IT\'s update of 2026-11-10');
  assert.match(String(windows.facts.lastUpdateName), /KB5999999/);
  assert.equal(windows.facts.supportDataReviewedOn, '2026-11-24', 'IT\'s review day, later than the built-in data\'s');
  assert.equal(windows.facts.itNotice, null);
  const linux = openMandriva(after.policy);
  assert.equal(linux.verdict, 'pass', linux.reason);
  assert.equal(linux.facts.supportEndsOn, '2027-01-31');
  const mac = macos27(after.policy);
  assert.equal(mac.verdict, 'pass', mac.reason);
  assert.equal(mac.facts.release, 'macOS 27');
  assert.equal(mac.facts.daysSinceUpdate, 10);
});

test('supportDataMaxAgeDays sets when IT is told its data is stale', async () => {
  const tight = await policyFrom({ supportDataMaxAgeDays: 7, postureSupportData: EVERY_KIND.filter((e) => !e.includes('reviewedOn')) });
  assert.equal(tight.policy.supportData?.maxAgeDays, 7);
  assert.match(String(openMandriva(tight.policy).facts.itNotice), /policy allows 7\)/);
  for (const bad of [6, 731, 'often']) {
    const out = await policyFrom({ supportDataMaxAgeDays: bad });
    assert.deepEqual(out.config.problems.map((p) => `${p.key ?? ''}@${p.source}`), [`supportDataMaxAgeDays@${POLICY_FILE}`], String(bad));
    assert.equal(out.policy.supportData?.maxAgeDays, 45, 'the default applies');
  }
});

test('each malformed entry is reported naming the entry and why; the valid ones still apply', async () => {
  const valid = JSON.stringify({ ...WINDOWS_UPDATE, build: 26200, ubr: 9974 });
  const entries = [
    valid,
    'not json',
    '[1, 2]',
    JSON.stringify({ ...WINDOWS_UPDATE, ubr: '100' }),
    JSON.stringify({ ...LINUX_RELEASE, id: 'Open Mandriva' }),
    JSON.stringify({ ...WINDOWS_RELEASE, endOfLife: '2029-03-13' }),
    JSON.stringify({ build: 27100, edition: 'consumer' }),
    JSON.stringify({ kind: 'windowsUpgrade', build: 27100 }),
    JSON.stringify({ kind: 'reviewedOn', date: '2026-13-45' }),
    JSON.stringify({ ...MACOS_RELEASE, name: 'x'.repeat(2000) }),
    LINUX_RELEASE.kind,
  ];
  const out = await policyFrom({ postureSupportData: entries });
  assert.deepEqual(out.config.problems, [], 'the list itself is usable');
  const why = [/not JSON/, /not a JSON object/, /\/ubr: Expected integer/, /\/id: Expected string to match/, /\/endOfLife: Unexpected property/, /no "kind"/, /"kind" "windowsUpgrade" is not one of windowsUpdate, windowsRelease, linuxRelease, macosRelease, reviewedOn/, /\/date: Expected string to match 'date' format/, /longer than 1024 characters/, /not JSON/];
  assert.equal(out.problems.length, why.length, out.problems.map((p) => p.message).join('\n'));
  out.problems.forEach((p, i) => {
    assert.equal(p.key, 'postureSupportData');
    assert.equal(p.source, POLICY_FILE);
    assert.match(p.message, new RegExp(`^Entry ${i + 2} of "postureSupportData" in ${POLICY_FILE.replace(/\//g, '\\/')} \\(`), p.message);
    assert.match(p.message, why[i] ?? /never/, p.message);
    assert.match(p.message, /it is skipped; the other entries still apply\.$/);
  });
  assert.ok(out.problems[0]?.message.includes('("not json")'), 'the entry is quoted');
  assert.ok((out.problems[8]?.message.length ?? Infinity) < 300, 'a long entry is shortened in the message');
  assert.deepEqual(out.policy.supportData?.windowsUpdates, [{ build: 26200, channel: 'client', ubr: 9974, releasedOn: '2026-11-10', kb: 'KB5999999' }]);
  assert.deepEqual([out.policy.supportData?.windowsReleases, out.policy.supportData?.linuxReleases, out.policy.supportData?.macosReleases, out.policy.supportData?.reviewedOn], [[], [], [], null]);
});

test('__proto__, constructor and other Object.prototype names in an entry are harmless: reported, never applied, nothing polluted', async () => {
  const entries = [
    // A complete update hidden under __proto__: a merge that set prototypes would make it look like an entry.
    `{"__proto__":{"kind":"windowsUpdate","build":27100,"channel":"client","ubr":100,"releasedOn":"2026-11-10"}}`,
    `{"kind":"windowsUpdate","build":27100,"channel":"client","ubr":100,"releasedOn":"2026-11-10","__proto__":{"polluted":true}}`,
    `{"kind":"__proto__","build":27100}`,
    `{"kind":"constructor"}`,
    `{"kind":"toString"}`,
    `{"kind":"windowsRelease","build":27100,"edition":"consumer","name":"Windows 11 27H1","endsOn":"2029-03-13","constructor":{"prototype":{"polluted":true}}}`,
    JSON.stringify(LINUX_RELEASE),
  ];
  const out = await policyFrom({ postureSupportData: entries });
  assert.deepEqual(
    out.problems.map((p) => /Entry (\d+)/.exec(p.message)?.[1]),
    ['1', '2', '3', '4', '5', '6'],
    out.problems.map((p) => p.message).join('\n'),
  );
  assert.match(out.problems[0]?.message ?? '', /no "kind"/);
  assert.match(out.problems[1]?.message ?? '', /\/__proto__: Unexpected property/);
  assert.match(out.problems[2]?.message ?? '', /"kind" "__proto__" is not one of/);
  assert.match(out.problems[3]?.message ?? '', /"kind" "constructor" is not one of/);
  assert.match(out.problems[5]?.message ?? '', /\/constructor: Unexpected property/);
  assert.deepEqual(out.policy.supportData?.windowsUpdates, []);
  assert.deepEqual(out.policy.supportData?.windowsReleases, []);
  assert.deepEqual(out.policy.supportData?.linuxReleases, [{ id: 'openmandriva', versionId: '3.0', endsOn: '2027-01-31' }]);
  assert.equal(windows27100(out.policy).verdict, 'unknown', 'the build stays unknown');
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(Object.getPrototypeOf(out.policy.supportData?.linuxReleases[0]), Object.prototype);
});

test('only IT sets the support data: the user\'s own settings cannot add entries or move the staleness limit', async () => {
  const out = await policyFrom({ serviceUrl: 'https://dts.hospital.example' }, { postureSupportData: EVERY_KIND, supportDataMaxAgeDays: 7, logLevel: 'debug' });
  assert.deepEqual(out.config.problems.map((p) => p.key).sort(), ['postureSupportData', 'supportDataMaxAgeDays']);
  for (const p of out.config.problems) assert.match(p.message, /only your organisation can set that/);
  assert.equal(out.config.settings.logLevel?.value, 'debug', 'the user\'s other settings still apply');
  assert.deepEqual(out.policy.supportData, defaultSupportData());
  assert.equal(windows27100(out.policy).verdict, 'unknown');
});

test('a repeated review day is reported and the latest applies; entries past the schema\'s limit are reported, not kept', async () => {
  const updates = Array.from({ length: 1001 }, (_, i) => JSON.stringify({ kind: 'windowsUpdate', build: 26200, channel: 'client', ubr: 10_000 + i, releasedOn: '2026-11-10' }));
  const out = await policyFrom({ postureSupportData: [JSON.stringify({ kind: 'reviewedOn', date: '2026-11-01' }), JSON.stringify(REVIEWED_ON), JSON.stringify({ kind: 'reviewedOn', date: '2026-10-01' }), ...updates] });
  assert.equal(out.policy.supportData?.reviewedOn, '2026-11-24');
  assert.equal(out.policy.supportData?.windowsUpdates.length, 1000);
  assert.deepEqual(
    out.problems.map((p) => p.message.replace(/ \(.*\)/, '')),
    [
      `Entry 2 of "postureSupportData" in ${POLICY_FILE} repeats reviewedOn: the latest day, 2026-11-24, applies.`,
      `Entry 3 of "postureSupportData" in ${POLICY_FILE} repeats reviewedOn: the latest day, 2026-11-24, applies.`,
      `Entry 1004 of "postureSupportData" in ${POLICY_FILE} is not usable: there are more than 1000 windowsUpdate entries; it is skipped; the other entries still apply.`,
    ],
  );
});

test('Windows: entries in the list subkey of the policy key (what the ADMX list box writes) are read and applied', () => {
  const [hklm] = WINDOWS_POLICY_KEYS;
  const list = new Map<string, RegValue>(EVERY_KIND.map((e, i) => [String(i + 1), { type: 'sz', value: e }]));
  const keys = new Map<string, ReadonlyMap<string, RegValue>>([
    [hklm, new Map([['supportDataMaxAgeDays', { type: 'dword', value: 60 }]])],
    [`${hklm}\\postureSupportData`, list],
  ]);
  const config = resolveConfig(readWindowsPolicies({ values: (key) => keys.get(key) ?? null }).layers);
  const { policy, problems } = posturePolicyFrom(config);
  assert.deepEqual(problems, []);
  assert.equal(policy.supportData?.maxAgeDays, 60);
  assert.equal(windows27100(policy).verdict, 'pass');
});

test('any entries, hostile keys included, give support data the schema accepts and one problem per entry not used', () => {
  const hostileKey = fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'kind', 'build', 'date');
  const kind = fc.constantFrom('windowsUpdate', 'windowsRelease', 'linuxRelease', 'macosRelease', 'reviewedOn', '__proto__', 'constructor');
  const entryObject = fc.tuple(kind, fc.dictionary(fc.oneof(hostileKey, fc.string({ maxLength: 8 })), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 })).map(([k, rest]) => JSON.stringify({ ...rest, kind: k }));
  const entry = fc.oneof(entryObject, fc.json({ maxDepth: 2 }), fc.string({ maxLength: 40 }), fc.constantFrom(...EVERY_KIND));
  fc.assert(
    fc.property(fc.array(entry, { maxLength: 12 }), (entries) => {
      const { supportData, problems } = supportDataFromConfig(entries, 45, 'policy');
      assert.ok(isValid(SupportDataSchema, supportData));
      const used = supportData.windowsUpdates.length + supportData.windowsReleases.length + supportData.linuxReleases.length + supportData.macosReleases.length;
      // Each entry is used, is the one review day, or is reported: none is dropped without a word.
      assert.equal(used + (supportData.reviewedOn === null ? 0 : 1) + problems.length, entries.length);
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    }),
    { numRuns: 300 },
  );
});
