// The system agent takes its posture policy from IT's managed configuration only: a policy file
// in a temporary /etc-like root changes the limits and adds support data; a person's own
// settings are never read; a bad entry is reported and the rest applies.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { defaultPosturePolicy } from '../../../common/posture.js';
import { managedPosturePolicy } from '../../../main/agent/managed-posture-policy.js';
import { LINUX_POLICY_DIR } from '../../../main/config/config-sources.js';
import { tempFolderPath } from '../../kit/temp-folder.js';

function policyRoot(policy: Record<string, unknown>): string {
  const root = tempFolderPath('dta-managed-posture-');
  mkdirSync(root + LINUX_POLICY_DIR, { recursive: true });
  writeFileSync(`${root}${LINUX_POLICY_DIR}/policy.json`, JSON.stringify(policy));
  return root;
}

test('IT\'s managed limits and support data reach the system agent\'s posture policy; a bad entry is reported, the rest applies', async () => {
  const root = policyRoot({
    updateFailAfterDays: 30,
    supportDataMaxAgeDays: 20,
    postureSupportData: [JSON.stringify({ kind: 'linuxRelease', id: 'openmandriva', versionId: '3.0', endsOn: '2027-01-31' }), '{"kind":"windowsUpdate","build":"not a number"}'],
  });
  const { policy, problems } = await managedPosturePolicy('linux', { root });
  assert.equal(policy.updates.failAfterDays, 30);
  assert.equal(policy.supportData?.maxAgeDays, 20);
  assert.deepEqual(policy.supportData?.linuxReleases.map((r) => r.id), ['openmandriva']);
  assert.equal(problems.length, 1, problems.join('\n'));
  assert.match(problems[0] ?? '', /postureSupportData/);
});

test('with no managed configuration the defaults apply and nothing is reported', async () => {
  const root = tempFolderPath('dta-managed-posture-none-');
  const { policy, problems } = await managedPosturePolicy('linux', { root });
  assert.deepEqual(problems, []);
  assert.equal(policy.updates.failAfterDays, defaultPosturePolicy().updates.failAfterDays);
});
