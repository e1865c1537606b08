// macOS 13+ lists the tray's LaunchAgent and the system agent's LaunchDaemon under Login Items,
// where a person can switch them off. The generated profile carries a Managed Login Items payload
// (Apple's ServiceManagementManagedLoginItems: payload type com.apple.servicemanagement, a Rules
// array of RuleType / RuleValue / Comment) whose rules match both jobs the pkg installs.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parsePlist } from '../../main/config/plist.js';
import { PREFERENCE_DOMAIN } from '../../scripts/native-config.js';

const ROOT = join(import.meta.dirname, '..', '..');
type Dict = Record<string, unknown>;
const profile = parsePlist(readFileSync(join(ROOT, 'native-config/macos', `${PREFERENCE_DOMAIN}.mobileconfig`))) as Dict;
const payloads = profile.PayloadContent as Dict[];
// Apple's documented rule types for this payload.
const RULE_TYPES = new Set(['BundleIdentifier', 'BundleIdentifierPrefix', 'Label', 'LabelPrefix', 'TeamIdentifier']);

function labelOf(plist: string): string {
  const job = parsePlist(readFileSync(join(ROOT, 'build/mac', plist))) as Dict;
  assert.equal(typeof job.Label, 'string');
  return job.Label as string;
}

function ruleMatches(rule: Dict, label: string): boolean {
  const value = String(rule.RuleValue);
  return (rule.RuleType === 'Label' && value === label) || (rule.RuleType === 'LabelPrefix' && label.startsWith(value));
}

test('the profile has one Managed Login Items payload with the fields every payload needs', () => {
  const managed = payloads.filter((p) => p.PayloadType === 'com.apple.servicemanagement');
  assert.equal(managed.length, 1, 'a com.apple.servicemanagement payload');
  const [payload = {}] = managed;
  assert.equal(payload.PayloadVersion, 1);
  assert.match(String(payload.PayloadUUID), /^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-8[0-9A-F]{3}-[0-9A-F]{12}$/);
  assert.equal(typeof payload.PayloadDisplayName, 'string');
  assert.equal(profile.PayloadScope, 'System', 'the payload is for the device channel only');
  for (const key of ['PayloadUUID', 'PayloadIdentifier'] as const) {
    const values = [profile, ...payloads].map((p) => p[key]);
    assert.equal(new Set(values).size, values.length, `${key} is unique in the profile`);
  }
});

test('its rules lock both launchd jobs the pkg installs: the tray\'s LaunchAgent and the system agent\'s LaunchDaemon', () => {
  const payload = payloads.find((p) => p.PayloadType === 'com.apple.servicemanagement') ?? {};
  const rules = payload.Rules as Dict[] | undefined;
  assert.ok(Array.isArray(rules) && rules.length > 0, 'Rules is a non-empty array');
  for (const rule of rules) {
    assert.ok(RULE_TYPES.has(String(rule.RuleType)), `RuleType ${String(rule.RuleType)}`);
    assert.ok(typeof rule.RuleValue === 'string' && rule.RuleValue !== '', 'RuleValue');
    assert.ok(typeof rule.Comment === 'string' && rule.Comment !== '', 'a Comment IT can read in its MDM');
  }
  for (const plist of ['org.devicetrust.agent.plist', 'org.devicetrust.agent.daemon.plist']) {
    const label = labelOf(plist);
    assert.ok(rules.some((rule) => ruleMatches(rule, label)), `no rule matches ${label} (build/mac/${plist})`);
  }
});
