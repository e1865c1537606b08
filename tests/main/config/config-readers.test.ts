// Readers against real files: Linux JSON policies in a temporary /etc-like root, macOS
// managed preferences as binary and XML plists (written by Python's plistlib), and a
// Windows registry export (UTF-16, as `reg export` writes it), with every bad case.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { LINUX_POLICY_DIR, MACOS_MANAGED_PREFERENCES, readLinuxPolicies, readMacManagedPreferences, readUserSettings, readWindowsPolicies } from '../../../main/config/config-sources.js';
import { parsePlist } from '../../../main/config/plist.js';
import { decodeRegFile, parseRegExport } from '../../../main/config/registry-export.js';
import { resolveConfig } from '../../../main/config/resolve-config.js';
import { watchConfig } from '../../../main/config/watch-config.js';
import { FIXTURES } from '../../kit/probe-records.js';
import { tempFolderPath } from '../../kit/temp-folder.js';

const fixture = (p: string): Buffer => readFileSync(join(FIXTURES, 'config', p));

function etcRoot(files: Record<string, string>): string {
  const root = tempFolderPath('dta-etc-');
  mkdirSync(root + LINUX_POLICY_DIR, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(root + LINUX_POLICY_DIR, name), text);
  return root;
}

test('Linux: policy files are managed values with their file as source; a later file wins', async () => {
  const root = etcRoot({ '10-base.json': JSON.stringify({ serviceUrl: 'https://dts.hospital.example', checkFastSeconds: 5 }), '20-ward.json': JSON.stringify({ checkFastSeconds: 3 }) });
  const { layers, problems } = await readLinuxPolicies(root);
  const config = resolveConfig(layers, problems);
  assert.deepEqual(config.problems, []);
  assert.deepEqual(config.settings.checkFastSeconds, { value: 3, source: `${LINUX_POLICY_DIR}/20-ward.json`, managed: true });
  assert.equal(config.settings.serviceUrl?.source, `${LINUX_POLICY_DIR}/10-base.json`);
  assert.deepEqual(config.settings.updateMode, { value: 'automatic', source: 'default', managed: false });
});

test('Linux: a half-written file, an unknown key and a wrong type are reported by key and source; the rest applies', async () => {
  const root = etcRoot({ '10-ok.json': JSON.stringify({ serviceUrl: 'https://dts.hospital.example', chekFastSeconds: 1, checkFullSeconds: 'often' }), '20-partial.json': '{"allowQuit": tr' });
  const { layers, problems } = await readLinuxPolicies(root);
  const config = resolveConfig(layers, problems);
  assert.equal(config.settings.serviceUrl?.value, 'https://dts.hospital.example');
  assert.equal(config.settings.checkFullSeconds?.value, 300, 'the default, not a guess');
  assert.equal(config.settings.allowQuit?.value, false);
  const messages = config.problems.map((p) => `${p.key ?? '-'}@${p.source}`);
  assert.ok(messages.includes(`-@${LINUX_POLICY_DIR}/20-partial.json`), messages.join(' '));
  assert.ok(messages.includes(`chekFastSeconds@${LINUX_POLICY_DIR}/10-ok.json`));
  assert.ok(messages.includes(`checkFullSeconds@${LINUX_POLICY_DIR}/10-ok.json`));
});

test('macOS: managed preferences in binary and XML plists give the same forced values', async () => {
  for (const name of ['managed-binary.plist', 'managed-xml.plist']) {
    const root = tempFolderPath('dta-mac-');
    mkdirSync(join(root, '/Library/Managed Preferences'), { recursive: true });
    writeFileSync(root + MACOS_MANAGED_PREFERENCES, fixture(`macos/${name}`));
    const { layers, problems } = await readMacManagedPreferences(root);
    const config = resolveConfig(layers, problems);
    assert.deepEqual(config.problems, [], name);
    assert.deepEqual(config.settings.allowedOrigins?.value, ['https://ehr.hospital.example=ehr'], name);
    assert.deepEqual(config.settings.checkFastSeconds, { value: 5, source: MACOS_MANAGED_PREFERENCES, managed: true });
    assert.equal(config.settings.updateMode?.value, 'notify');
  }
  assert.deepEqual(parsePlist(fixture('macos/managed-binary.plist')), parsePlist(fixture('macos/managed-xml.plist')));
});

test('macOS: a plist with bad values keeps the good ones; a corrupt plist is reported and skipped', async () => {
  const root = tempFolderPath('dta-mac-');
  mkdirSync(join(root, '/Library/Managed Preferences'), { recursive: true });
  writeFileSync(root + MACOS_MANAGED_PREFERENCES, fixture('macos/managed-bad-binary.plist'));
  const bad = resolveConfig(...Object.values(await readMacManagedPreferences(root)) as [never, never]);
  assert.equal(bad.settings.serviceUrl?.value, 'https://dts.hospital.example');
  assert.equal(bad.settings.allowQuit?.value, true, 'IT may relax a setting');
  assert.deepEqual(bad.problems.map((p) => p.key).sort(), ['checkFastSeconds', 'unknownKey', 'updateMode']);
  writeFileSync(root + MACOS_MANAGED_PREFERENCES, fixture('macos/managed-binary.plist').subarray(0, 60));
  const corrupt = await readMacManagedPreferences(root);
  assert.equal(corrupt.layers.length, 0);
  assert.match(corrupt.problems[0]?.message ?? '', /cannot be used/);
});

test('Windows: the GPO registry export (UTF-16) gives HKLM values, the list subkey and HKCU values; a bad enum is reported', () => {
  const registry = parseRegExport(decodeRegFile(fixture('windows/gpo-export.reg')));
  const { layers } = readWindowsPolicies(registry);
  const config = resolveConfig(layers);
  assert.equal(config.settings.serviceUrl?.source, 'HKEY_LOCAL_MACHINE\\Software\\Policies\\DeviceTrust\\Agent');
  assert.equal(config.settings.checkFastSeconds?.value, 5);
  assert.equal(config.settings.allowQuit?.value, true, 'REG_DWORD 1');
  assert.deepEqual(config.settings.allowedOrigins?.value, ['https://ehr.hospital.example=ehr', 'https://pacs.hospital.example=pacs,viewer']);
  assert.deepEqual(config.settings.checkFullSeconds, { value: 120, source: 'HKEY_CURRENT_USER\\Software\\Policies\\DeviceTrust\\Agent', managed: true });
  assert.equal(config.settings.logLevel?.value, 'info');
  assert.deepEqual(config.problems.map((p) => p.key), ['logLevel']);
  assert.throws(() => parseRegExport('not a registry file'), /not a registry export/);
});

test('Windows: a GPO that sets only a list (the policy key itself has no values) is still read', () => {
  // What the live reader (registry-js) gives for such a GPO: nothing for the key, the list in its subkey.
  const keys = new Map([['HKEY_LOCAL_MACHINE\\Software\\Policies\\DeviceTrust\\Agent\\allowedOrigins', new Map([['1', { type: 'sz' as const, value: 'https://ehr.hospital.example=ehr' }]])]]);
  const { layers } = readWindowsPolicies({ values: (key) => keys.get(key) ?? null });
  assert.equal(layers.length, 1, 'HKLM only; HKCU has nothing');
  assert.deepEqual(resolveConfig(layers).settings.allowedOrigins, { value: ['https://ehr.hospital.example=ehr'], source: 'HKEY_LOCAL_MACHINE\\Software\\Policies\\DeviceTrust\\Agent', managed: true });
});

test('the user\'s own settings apply where IT set nothing, and never weaker than the default', async () => {
  const dir = tempFolderPath('dta-user-');
  const path = join(dir, 'settings.json');
  writeFileSync(path, JSON.stringify({ allowQuit: true, checkFastSeconds: 1, maxScreenLockIdleSeconds: 3600, logLevel: 'debug', serviceUrl: 'https://elsewhere.example' }));
  const root = etcRoot({ 'policy.json': JSON.stringify({ serviceUrl: 'https://dts.hospital.example' }) });
  const linux = await readLinuxPolicies(root);
  const user = await readUserSettings(path);
  const config = resolveConfig([...linux.layers, ...user.layers], [...linux.problems, ...user.problems]);
  assert.equal(config.settings.serviceUrl?.value, 'https://dts.hospital.example', 'IT\'s value is locked');
  assert.equal(config.settings.checkFastSeconds?.value, 1, 'stricter is fine');
  assert.deepEqual(config.settings.logLevel, { value: 'debug', source: path, managed: false });
  assert.equal(config.settings.allowQuit?.value, false, 'a user cannot relax a security setting');
  assert.equal(config.settings.maxScreenLockIdleSeconds?.value, 900);
  assert.deepEqual(config.problems.map((p) => p.key).sort(), ['allowQuit', 'maxScreenLockIdleSeconds']);
  writeFileSync(path, '{"logLevel": "debug"');
  const broken = await readUserSettings(path);
  assert.match(broken.problems[0]?.message ?? '', /cannot be used/);
});

test('changes are picked up without a restart', async () => {
  const root = etcRoot({ 'policy.json': JSON.stringify({ checkFastSeconds: 5 }) });
  const load = async () => {
    const r = await readLinuxPolicies(root);
    return resolveConfig(r.layers, r.problems);
  };
  const seen: number[] = [];
  const stop = watchConfig([root + LINUX_POLICY_DIR], load, (c) => seen.push(Number(c.settings.checkFastSeconds?.value)), 50);
  try {
    writeFileSync(join(root + LINUX_POLICY_DIR, 'policy.json'), JSON.stringify({ checkFastSeconds: 7 }));
    const deadline = Date.now() + 3000;
    while (!seen.includes(7) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.ok(seen.includes(7), `seen ${seen.join(',')}`);
  } finally {
    stop();
  }
});

test('the agent\'s settings and posture policy come from the effective configuration', async () => {
  const { agentConfigFrom, loadEffectiveConfig, managedKeys, posturePolicyFrom } = await import('../../../main/config/load-config.js');
  const root = etcRoot({ 'policy.json': JSON.stringify({ serviceUrl: 'https://dts.hospital.example', enrolmentSecret: 'mdm-secret-123', allowedOrigins: ['https://ehr.hospital.example=ehr,pacs'], accessServices: ['ehr=https://ehr.hospital.example/api/,https://EHR-mobile.hospital.example:443'], maxScreenLockIdleSeconds: 300 }) });
  const config = await loadEffectiveConfig('linux', { root, userSettingsPath: join(root, 'nope.json') });
  const agent = agentConfigFrom(config, '/var/lib/dta');
  assert.equal(agent.serviceUrl, 'https://dts.hospital.example');
  assert.equal(agent.enrolmentSecret, 'mdm-secret-123');
  assert.deepEqual(agent.allowedOrigins, new Map([['https://ehr.hospital.example', ['ehr', 'pacs']]]));
  assert.deepEqual(agent.accessServices, new Map([['ehr', [{ origin: 'https://ehr.hospital.example', path: '/api' }, { origin: 'https://ehr-mobile.hospital.example', path: '' }]]]));
  assert.deepEqual(agent.cadence, { fastSeconds: 2, fullSeconds: 300 });
  assert.equal(posturePolicyFrom(config).policy.screenLock.maxIdleSeconds, 300);
  assert.deepEqual(managedKeys(config).sort(), ['accessServices', 'allowedOrigins', 'enrolmentSecret', 'maxScreenLockIdleSeconds', 'serviceUrl']);
  const empty = await loadEffectiveConfig('linux', { root: tempFolderPath('dta-none-'), userSettingsPath: '/nonexistent' });
  assert.throws(() => agentConfigFrom(empty, '/x'), /No device trust service is configured/);
});

test('the in-process registry reader loads (registry-js) and reads nothing off Windows', async () => {
  const { createLiveRegistrySource } = await import('../../../main/config/registry-live.js');
  const source = await createLiveRegistrySource();
  assert.equal(source.values('HKEY_LOCAL_MACHINE\\Software\\Policies\\DeviceTrust\\Agent'), null);
  assert.equal(source.values('HKEY_BOGUS\\x'), null);
});

test('accessServices: each URL must be https (http only on loopback) with no query, fragment, credentials or ambiguous path; a bad entry is reported by key and source', async () => {
  const { agentConfigFrom } = await import('../../../main/config/load-config.js');
  const good = ['ehr=https://ehr.hospital.example/api', 'dev=http://127.0.0.1:8080,http://localhost/x', 'pacs=https://pacs.hospital.example'];
  for (const entry of good) {
    const config = resolveConfig([{ source: 'policy.json', managed: true, values: { serviceUrl: 'https://dts.hospital.example', accessServices: [entry] } }]);
    assert.deepEqual(config.problems, [], entry);
    assert.equal(agentConfigFrom(config, '/x').accessServices.size, 1);
  }
  for (const entry of [
    'ehr=http://ehr.hospital.example/api',
    'ehr=https://ehr.hospital.example/api?x=1',
    'ehr=https://ehr.hospital.example/api#top',
    'ehr=https://user:pw@ehr.hospital.example/api',
    'ehr=https://ehr.hospital.example/api/../admin',
    'ehr=https://ehr.hospital.example/a%2fb',
    'ehr=ftp://ehr.hospital.example',
    'ehr=ehr.hospital.example',
    'ehr=https://ehr.hospital.example,not-a-url',
    '=https://ehr.hospital.example',
    'ehr',
  ]) {
    const config = resolveConfig([{ source: 'policy.json', managed: true, values: { serviceUrl: 'https://dts.hospital.example', accessServices: [entry] } }]);
    assert.deepEqual(config.problems.map((p) => `${p.key ?? ''}@${p.source}`), ['accessServices@policy.json'], entry);
    assert.deepEqual(config.settings.accessServices?.value, [], 'the default applies');
    assert.equal(agentConfigFrom(config, '/x').accessServices.size, 0);
  }
});

test('allowedOrigins: an origin with a path or credentials is reported and skipped; lookups are by Map, so Object.prototype names find nothing', async () => {
  const { agentConfigFrom } = await import('../../../main/config/load-config.js');
  const bad = resolveConfig([{ source: 'policy.json', managed: true, values: { serviceUrl: 'https://dts.hospital.example', allowedOrigins: ['https://a@ehr.hospital.example=ehr'] } }]);
  assert.deepEqual(bad.problems.map((p) => p.key), ['allowedOrigins']);
  const config = resolveConfig([{ source: 'policy.json', managed: true, values: { serviceUrl: 'https://dts.hospital.example', allowedOrigins: ['https://EHR.hospital.example:443=ehr', 'https://ehr.hospital.example=pacs'] } }]);
  const origins = agentConfigFrom(config, '/x').allowedOrigins;
  assert.deepEqual(origins, new Map([['https://ehr.hospital.example', ['ehr', 'pacs']]]), 'normalized as browsers send it; a repeated origin adds up');
  for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) assert.equal(origins.get(name), undefined);
});

test('a plist key named __proto__ is a key like any other: reported as unknown, never the prototype of the settings (XML and binary)', async () => {
  const xml = '<?xml version="1.0" encoding="UTF-8"?><plist version="1.0"><dict><key>__proto__</key><dict><key>serviceUrl</key><string>https://evil.example</string></dict><key>checkFastSeconds</key><integer>5</integer></dict></plist>';
  const binary = execFileSync('python3', ['-c', 'import plistlib,sys; sys.stdout.buffer.write(plistlib.dumps({"__proto__": {"serviceUrl": "https://evil.example"}, "checkFastSeconds": 5}, fmt=plistlib.FMT_BINARY))']);
  for (const data of [Buffer.from(xml), binary]) {
    const parsed = parsePlist(data) as Record<string, unknown>;
    assert.ok(Object.hasOwn(parsed, '__proto__'), 'an own key');
    assert.equal((parsed as { serviceUrl?: unknown }).serviceUrl, undefined, 'not inherited');
    const root = tempFolderPath('dta-mac-');
    mkdirSync(join(root, '/Library/Managed Preferences'), { recursive: true });
    writeFileSync(root + MACOS_MANAGED_PREFERENCES, data);
    const { layers, problems } = await readMacManagedPreferences(root);
    const config = resolveConfig(layers, problems);
    assert.equal(config.settings.serviceUrl?.value, null);
    assert.equal(config.settings.checkFastSeconds?.value, 5);
    assert.deepEqual(config.problems.map((p) => p.key), ['__proto__']);
  }
});

test('a registry value named __proto__ or constructor is reported as unknown, never applied', () => {
  const key = 'HKEY_LOCAL_MACHINE\\Software\\Policies\\DeviceTrust\\Agent';
  const values = new Map([
    ['__proto__', { type: 'sz' as const, value: 'x' }],
    ['constructor', { type: 'sz' as const, value: 'y' }],
    ['checkFastSeconds', { type: 'dword' as const, value: 5 }],
  ]);
  const { layers } = readWindowsPolicies({ values: (k) => (k === key ? values : null) });
  const config = resolveConfig(layers);
  assert.equal(config.settings.checkFastSeconds?.value, 5);
  assert.deepEqual(config.problems.map((p) => p.key).sort(), ['__proto__', 'constructor']);
});

test('a setting is read only from a layer\'s own values, never from its prototype', () => {
  const values = Object.create({ serviceUrl: 'https://evil.example', allowQuit: true }) as Record<string, unknown>;
  const config = resolveConfig([{ source: 'policy.json', managed: true, values }]);
  assert.equal(config.settings.serviceUrl?.value, null);
  assert.equal(config.settings.allowQuit?.value, false);
});
