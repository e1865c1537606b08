// The packaging inputs, checked on their own: the config against electron-builder's own schema,
// the autostart entry with desktop-file-validate, the LaunchAgent, LaunchDaemon and entitlements
// as property lists, the install scripts' syntax, the fail-closed update signature settings, and
// the icons. A real build from them is electron-builder-build.test.ts (Linux, with a stub
// Electron); the system agent's services are checked in depth in system-service.test.ts.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { parsePlist } from '../../main/config/plist.js';

const ROOT = join(import.meta.dirname, '..', '..');
const config = parse(readFileSync(join(ROOT, 'electron-builder.yml'), 'utf8')) as Record<string, Record<string, unknown>>;

test('electron-builder.yml validates against electron-builder\'s own schema', () => {
  const schema = JSON.parse(readFileSync(createRequire(import.meta.url).resolve('app-builder-lib/scheme.json'), 'utf8')) as object;
  const ajv = new Ajv({ strict: false, allErrors: true, allowUnionTypes: true });
  const validate = ajv.compile(schema);
  const ok = validate(config);
  assert.ok(ok, JSON.stringify(validate.errors?.slice(0, 5), null, 2));
  assert.equal(ajv.compile(schema)({ ...config, nsis: { ...config.nsis, perMachin: true } }), false, 'a typo is caught');
});

test('electron-builder is a pinned devDependency in step with app-builder-lib, and the scripts call the local one', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string>; devDependencies: Record<string, string> };
  const pinned = pkg.devDependencies['electron-builder'];
  assert.match(pinned ?? '', /^\d+\.\d+\.\d+$/, 'an exact version: npx would otherwise fetch whatever is newest');
  const installed = (name: string): string => (JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')) as { version: string }).version;
  assert.equal(installed('electron-builder'), pinned);
  assert.equal(installed('app-builder-lib'), pinned, 'electron-builder and the app-builder-lib the tests read are one release');
  assert.match(pkg.scripts.package ?? '', /^electron-builder /, 'npm run package runs node_modules/.bin/electron-builder');
  assert.deepEqual(Object.values(pkg.scripts).filter((s) => /\bnpx\s+(--yes\s+)?electron-builder/.test(s)), []);
});

test('per-machine installers for every OS, and no signing secret in the config', () => {
  assert.deepEqual(config.win?.target, ['msi', 'nsis']);
  assert.equal(config.nsis?.perMachine, true);
  assert.equal(config.msi?.perMachine, true);
  assert.deepEqual(config.mac?.target, ['pkg', 'dmg', 'zip']);
  assert.equal(config.mac?.hardenedRuntime, true);
  assert.deepEqual(config.linux?.target, ['deb', 'rpm', 'AppImage']);
  const text = readFileSync(join(ROOT, 'electron-builder.yml'), 'utf8');
  assert.doesNotMatch(text, /^\s*(cscLink|cscKeyPassword|certificatePassword|appleIdPassword|password)\s*:/m);
});

test('Windows update signatures fail closed: publisherName is set and verification stays on', () => {
  const names = (config.win?.signtoolOptions as { publisherName?: string[] } | undefined)?.publisherName;
  assert.ok(Array.isArray(names) && names.length > 0 && names.every((n) => n.trim() !== ''));
  assert.notEqual(config.win?.verifyUpdateCodeSignature, false);
});

test('the XDG autostart entry passes desktop-file-validate', () => {
  execFileSync('desktop-file-validate', [join(ROOT, 'build/linux/device-trust-agent-autostart.desktop')]);
});

test('the LaunchAgent and the entitlements parse as property lists (ours, Python\'s plistlib, xmllint)', () => {
  const agentPath = join(ROOT, 'build/mac/org.devicetrust.agent.plist');
  const agent = parsePlist(readFileSync(agentPath)) as Record<string, unknown>;
  assert.equal(agent.Label, 'org.devicetrust.agent');
  assert.equal(agent.RunAtLoad, true);
  assert.equal(agent.LimitLoadToSessionType, 'Aqua');
  assert.match(String((agent.ProgramArguments as string[])[0]), /^\/Applications\/Device Trust Agent\.app\/Contents\/MacOS\//);
  const entitlements = parsePlist(readFileSync(join(ROOT, 'build/mac/entitlements.mac.plist'))) as Record<string, unknown>;
  assert.equal(entitlements['com.apple.security.cs.allow-jit'], true);
  assert.ok(!('com.apple.security.cs.disable-library-validation' in entitlements), 'library validation stays on');
  for (const p of [agentPath, join(ROOT, 'build/mac/org.devicetrust.agent.daemon.plist'), join(ROOT, 'build/mac/entitlements.mac.plist')]) {
    execFileSync('xmllint', ['--noout', p]);
    execFileSync('python3', ['-c', 'import plistlib,sys; plistlib.load(open(sys.argv[1],"rb"))', p]);
  }
});

test('the entitlements hold only what the hardened runtime must relax, with no Xcode build variable left in', () => {
  // codesign signs the file as it is: nothing outside Xcode expands $(AppIdentifierPrefix) or any
  // other $(…), so such a value would be a wrong entitlement on every release.
  const text = readFileSync(join(ROOT, 'build/mac/entitlements.mac.plist'), 'utf8');
  assert.doesNotMatch(text, /\$\(/);
  const entitlements = parsePlist(Buffer.from(text)) as Record<string, unknown>;
  assert.deepEqual(Object.keys(entitlements), ['com.apple.security.cs.allow-jit']);
  assert.equal(config.mac?.entitlementsInherit, 'build/mac/entitlements.mac.plist');
});

test('the pkg and deb/rpm scripts are valid shell and executable', () => {
  for (const script of ['build/mac/pkg-scripts/postinstall', 'build/linux/after-install.sh', 'build/linux/after-remove.sh']) {
    const shell = readFileSync(join(ROOT, script), 'utf8').startsWith('#!/bin/bash') ? 'bash' : 'sh';
    execFileSync(shell, ['-n', join(ROOT, script)]);
    assert.ok((statSync(join(ROOT, script)).mode & 0o111) !== 0, `${script} is executable`);
  }
});

test('the application icon is a 512 px PNG generated with the tray icons', () => {
  const png = readFileSync(join(ROOT, 'build/icon.png'));
  assert.equal(png.subarray(1, 4).toString(), 'PNG');
  assert.equal(png.readUInt32BE(16), 512);
});

test('the MSI gets a per-machine run-at-login value through the msiProjectCreated hook', async () => {
  const hook = require(join(ROOT, 'build/win/msi-project-created.cjs')) as { addRunAtLogin: (wxs: string) => string; addSystemService: (wxs: string) => string };
  const template = readFileSync(require.resolve('app-builder-lib/templates/msi/template.xml'), 'utf8');
  const out = hook.addRunAtLogin(template);
  const group = /<ComponentGroup Id="ProductComponents" Directory="APPLICATIONFOLDER">([\s\S]*?)<\/ComponentGroup>/.exec(out)?.[1] ?? '';
  assert.match(group, /<RegistryValue Root="HKLM" Key="Software\\Microsoft\\Windows\\CurrentVersion\\Run" Name="Device Trust Agent"/);
  assert.equal(hook.addRunAtLogin(out), out, 'idempotent');
  assert.throws(() => hook.addRunAtLogin('<Wix/>'), /template changed/);
  // The same hook adds the system agent's service; the template alone has no files to add it to.
  assert.throws(() => hook.addSystemService(out), /no component for DeviceTrustAgentService\.exe/);
  assert.deepEqual((config.msi as { additionalWixArgs?: string[] }).additionalWixArgs, ['-ext', 'WixUtilExtension']);
  assert.equal(config.msiProjectCreated, 'build/win/msi-project-created.cjs');
  await Promise.resolve();
});

const require = createRequire(import.meta.url);

test('the deb/rpm scripts keep electron-builder\'s own steps (link, chrome-sandbox, AppArmor), which ours replace', () => {
  for (const [ours, theirs] of [['build/linux/after-install.sh', 'after-install.tpl'], ['build/linux/after-remove.sh', 'after-remove.tpl']] as const) {
    const script = readFileSync(join(ROOT, ours), 'utf8');
    const template = readFileSync(require.resolve(`app-builder-lib/templates/linux/${theirs}`), 'utf8');
    const body = template.split('\n').slice(1).join('\n').trim(); // without its #! line
    assert.ok(script.includes(body), `${ours} starts from electron-builder's ${theirs}; copy the new template in`);
  }
});

test('deb and rpm depends add to electron-builder\'s defaults (setting depends replaces them)', () => {
  const fpm = require('app-builder-lib/out/targets/FpmTarget.js') as { default: { prototype: { getDefaultDepends(this: unknown, target: string): string[] } } };
  for (const target of ['deb', 'rpm']) {
    const defaults = fpm.default.prototype.getDefaultDepends.call({}, target);
    const ours = (config[target] as { depends?: string[] } | undefined)?.depends ?? [];
    assert.ok(defaults.length > 0);
    assert.deepEqual(defaults.filter((d) => !ours.includes(d)), [], `${target} depends lacks electron-builder's defaults`);
  }
});

test('every file an install script copies out of the app\'s resources is packaged there (extraResources)', () => {
  for (const [script, platform] of [['build/linux/after-install.sh', 'linux'], ['build/mac/pkg-scripts/postinstall', 'mac']] as const) {
    const text = readFileSync(join(ROOT, script), 'utf8');
    const wanted = [...text.matchAll(/[Rr]esources\/(build\/[\w./-]+)/g)].map((m) => m[1]);
    assert.ok(wanted.length > 0, `${script} copies something from resources`);
    const packaged = ((config[platform] as { extraResources?: { from: string; to: string }[] } | undefined)?.extraResources ?? []).map((r) => r.to);
    for (const file of wanted) {
      assert.ok(packaged.includes(file ?? ''), `${script} needs ${file} in ${platform}.extraResources`);
      statSync(join(ROOT, file ?? ''));
    }
  }
});
