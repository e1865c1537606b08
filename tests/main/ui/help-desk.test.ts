// IT's help-desk contact, from managed configuration to what the tray hands the status window
// (issue 21): three managed-only settings; a web page other than https is refused when the
// configuration is read and again when the tray reads it (CONFIG_INVALID), the other parts
// still show; the only links the tray opens for the window are the help desk's own.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isValid } from '../../../common/validate.js';
import { StatusViewSchema } from '../../../common/ipc.js';
import { resolveConfig, type EffectiveSetting } from '../../../main/config/resolve-config.js';
import { helpDeskLinks, readHelpDesk } from '../../../main/ui/help-desk.js';
import { statusView } from '../../kit/status-views.js';

const IT = { source: 'HKLM\\SOFTWARE\\Policies\\DeviceTrust\\Agent', managed: true };
const good = { helpDeskName: 'IT-Servicedesk', helpDeskPhone: '+49 30 1234-5678', helpDeskUrl: 'https://servicedesk.hospital.example/dta' };

test('IT sets the help desk through managed policy; the window gets a tel: link and the https page', () => {
  const config = resolveConfig([{ ...IT, values: good }]);
  const { helpDesk, refusals } = readHelpDesk(config.settings);
  assert.deepEqual(refusals, []);
  assert.deepEqual(helpDesk, { name: 'IT-Servicedesk', phone: '+49 30 1234-5678', url: 'https://servicedesk.hospital.example/dta' });
  assert.deepEqual([...helpDeskLinks(helpDesk)], ['tel:+493012345678', 'https://servicedesk.hospital.example/dta']);
  assert.ok(isValid(StatusViewSchema, { ...statusView('error', 'en'), helpDesk }), 'the view with it still matches the IPC contract');
});

test('a help desk page that is not https is refused when the policy is read, naming the setting', () => {
  for (const url of ['http://servicedesk.hospital.example', 'javascript:alert(1)', 'file:///etc/passwd', 'https://evil@servicedesk.hospital.example', 'tel:+4930']) {
    const config = resolveConfig([{ ...IT, values: { ...good, helpDeskUrl: url } }]);
    assert.equal(config.settings.helpDeskUrl?.value, null, url);
    assert.ok(config.problems.some((p) => p.key === 'helpDeskUrl'), url);
    assert.equal(readHelpDesk(config.settings).helpDesk?.phone, good.helpDeskPhone, 'the phone number still shows');
  }
});

test('the tray refuses a non-https page that reached it with CONFIG_INVALID and keeps the rest', () => {
  const settings = (values: Record<string, string>): Record<string, EffectiveSetting> => Object.fromEntries(Object.entries(values).map(([k, v]) => [k, { value: v, source: 'test', managed: true }]));
  for (const url of ['javascript:alert(1)', 'http://servicedesk.hospital.example', 'https://user:pw@servicedesk.hospital.example', 'not a url']) {
    const { helpDesk, refusals } = readHelpDesk(settings({ ...good, helpDeskUrl: url }));
    assert.equal(helpDesk?.url, null, url);
    assert.equal(helpDesk?.name, good.helpDeskName);
    assert.deepEqual(refusals.map((e) => e.code), ['CONFIG_INVALID'], url);
    assert.match(refusals[0]?.message ?? '', /helpDeskUrl/);
    assert.ok(![...helpDeskLinks(helpDesk)].some((link) => link.startsWith('javascript:') || link.startsWith('http:')));
  }
  const badPhone = readHelpDesk(settings({ helpDeskPhone: '+49 30 1234; rm -rf' }));
  assert.equal(badPhone.helpDesk, null);
  assert.deepEqual(badPhone.refusals.map((e) => e.code), ['CONFIG_INVALID']);
});

test('only IT may name the help desk: a person\'s own settings file cannot', () => {
  const config = resolveConfig([{ source: '/home/nurse/.config/device-trust/settings.json', managed: false, values: good }]);
  assert.equal(readHelpDesk(config.settings).helpDesk, null);
  assert.deepEqual(config.problems.map((p) => p.key).sort(), ['helpDeskName', 'helpDeskPhone', 'helpDeskUrl']);
});

test('no help desk set: nothing to show and no link to open', () => {
  const { helpDesk, refusals } = readHelpDesk(resolveConfig([]).settings);
  assert.equal(helpDesk, null);
  assert.deepEqual(refusals, []);
  assert.equal(helpDeskLinks(helpDesk).size, 0);
});
