// The remediation steps are looked up by a key that comes from the agent's report over IPC
// (any `a.b` name the schema allows). A key that names a member of Object.prototype must find
// no steps of its own: it gets the "contact IT" steps like any other unknown key.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LOCALES } from '../../common/ipc.js';
import { PLATFORMS } from '../../common/posture.js';
import { remediationKeys, remedyFor } from '../../renderer/remediation-steps.js';

test('an unknown remediation key, including the names of Object.prototype, gets the contact-IT steps', () => {
  for (const locale of LOCALES) {
    for (const platform of PLATFORMS) {
      const contactIt = remedyFor('contact-it', platform, locale);
      assert.ok(contactIt && contactIt.steps.length > 0);
      for (const key of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueof', 'no.such-key']) {
        assert.deepEqual(remedyFor(key, platform, locale), contactIt, `${key} on ${platform} in ${locale}`);
      }
    }
  }
});

test('a known key gets its own steps for the platform, or none where it does not apply', () => {
  assert.equal(remedyFor('firewall.enable-windows', 'win32', 'en')?.action, 'open-firewall-settings');
  assert.equal(remedyFor('firewall.enable-windows', 'linux', 'en'), undefined, 'a Windows remedy is not shown on Linux');
  assert.ok(remediationKeys('de').includes('contact-it'));
  assert.ok(!remediationKeys('en').includes('constructor'));
});
