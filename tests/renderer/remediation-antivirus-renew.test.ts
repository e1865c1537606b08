// An expired antivirus is installed and only needs its licence renewed: the clinician is told
// that, in every language, rather than "no endpoint protection is active" or the contact-IT fallback.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LOCALES } from '../../common/ipc.js';
import { PLATFORMS } from '../../common/posture.js';
import { remedyFor } from '../../renderer/remediation-steps.js';

test('antivirus.renew has its own steps on every platform and in every language', () => {
  for (const locale of LOCALES) {
    for (const platform of PLATFORMS) {
      const renew = remedyFor('antivirus.renew', platform, locale);
      assert.ok(renew && renew.steps.length > 0, `${platform} ${locale}`);
      assert.notDeepEqual(renew, remedyFor('contact-it', platform, locale), `${platform} ${locale}: not the fallback`);
      assert.notDeepEqual(renew, remedyFor('antivirus.install-edr', platform, locale), `${platform} ${locale}: not "install one"`);
    }
  }
  assert.deepEqual(remedyFor('antivirus.renew', 'win32', 'en')?.steps, ['The antivirus licence has expired.', 'Contact IT.']);
});
