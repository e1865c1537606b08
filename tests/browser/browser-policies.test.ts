// `dta browser-policies`: the browsers' Local Network Access policies made from IT's managed
// allowedOrigins, read back with the agent's own readers (registry export, plist) so what IT
// deploys says what the generator meant; and every input form the agent reads gives the same
// origins, while a configuration the agent would refuse gives no policies at all.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { isAgentError } from '../../common/errors.js';
import { browserPoliciesCommand } from '../../main/agent/browser-policies-command.js';
import { browserPolicyFiles, LINUX_POLICY_FILE, originsOfAllowedOrigins, policyPattern } from '../../main/config/browser-policies.js';
import { parsePlist, type PlistValue } from '../../main/config/plist.js';
import { decodeRegFile, parseRegExport, type RegValue } from '../../main/config/registry-export.js';
import { mobileconfig } from '../../scripts/native-config.js';
import { tempFolder } from '../kit/temp-folder.js';

const ORIGINS = ['https://ehr.hospital.example', 'https://pacs.hospital.example:8443'];
/** The same origins as the policies' URL patterns: the port written out, so no other port of the host matches. */
const PATTERNS = ['https://ehr.hospital.example:443', 'https://pacs.hospital.example:8443'];
const BOTH = ['LocalNetworkAccessAllowedForUrls', 'LoopbackNetworkAllowedForUrls'];

function file(files: ReadonlyMap<string, string>, path: string): string {
  const content = files.get(path);
  assert.notEqual(content, undefined, `${path} is generated`);
  return content ?? '';
}

const dict = (v: PlistValue | undefined): Map<string, PlistValue> => {
  assert.ok(v !== undefined && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date) && !(v instanceof Uint8Array));
  return new Map(Object.entries(v));
};

test('the generated files are the three Linux policy folders, a .reg per browser, one PowerShell script, a profile and a plist per macOS domain', () => {
  assert.deepEqual([...browserPolicyFiles(ORIGINS).keys()].sort(), [
    `linux/etc/chromium/policies/managed/${LINUX_POLICY_FILE}`,
    `linux/etc/opt/chrome/policies/managed/${LINUX_POLICY_FILE}`,
    `linux/etc/opt/edge/policies/managed/${LINUX_POLICY_FILE}`,
    'macos/com.google.Chrome.plist',
    'macos/com.microsoft.Edge.plist',
    'macos/device-trust-browsers.mobileconfig',
    'windows/browser-local-network.ps1',
    'windows/chrome-local-network.reg',
    'windows/edge-local-network.reg',
  ]);
});

test('the Linux JSON sets both policies to the origins; loopback-only sets the narrower one alone', () => {
  const files = browserPolicyFiles(ORIGINS);
  for (const folder of ['etc/opt/chrome', 'etc/chromium', 'etc/opt/edge']) {
    assert.deepEqual(JSON.parse(file(files, `linux/${folder}/policies/managed/${LINUX_POLICY_FILE}`)), { LoopbackNetworkAllowedForUrls: PATTERNS, LocalNetworkAccessAllowedForUrls: PATTERNS });
  }
  const narrow = browserPolicyFiles(ORIGINS, { loopbackOnly: true });
  assert.deepEqual(JSON.parse(file(narrow, `linux/etc/chromium/policies/managed/${LINUX_POLICY_FILE}`)), { LoopbackNetworkAllowedForUrls: PATTERNS });
  assert.doesNotMatch(file(narrow, 'windows/chrome-local-network.reg'), /LocalNetworkAccessAllowedForUrls/);
});

test('each .reg, read as Windows reads an export, numbers the origins 1..n under the browser\'s policy key and deletes the old list first', () => {
  const files = browserPolicyFiles(ORIGINS);
  for (const [path, key] of [['windows/chrome-local-network.reg', 'HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Google\\Chrome'], ['windows/edge-local-network.reg', 'HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\Edge']] as const) {
    const text = file(files, path);
    assert.match(text, /^Windows Registry Editor Version 5\.00\r\n/);
    assert.doesNotMatch(text.replace(/\r\n/g, ''), /\n/, 'CRLF line ends only');
    const registry = parseRegExport(decodeRegFile(new TextEncoder().encode(text)));
    for (const policy of BOTH) {
      assert.ok(text.indexOf(`[-${key}\\${policy}]`) < text.indexOf(`[${key}\\${policy}]`), 'deleted before it is written');
      assert.deepEqual([...(registry.values(`${key}\\${policy}`) ?? new Map<string, RegValue>())].map(([n, v]) => [n, v.type, v.value]), [['1', 'sz', PATTERNS[0]], ['2', 'sz', PATTERNS[1]]]);
    }
  }
});

test('the macOS plists and profile carry the same lists under each browser\'s preference domain', () => {
  const files = browserPolicyFiles(ORIGINS);
  for (const domain of ['com.google.Chrome', 'com.microsoft.Edge']) {
    const prefs = dict(parsePlist(new TextEncoder().encode(file(files, `macos/${domain}.plist`))));
    for (const policy of BOTH) assert.deepEqual(prefs.get(policy), PATTERNS);
  }
  const profile = dict(parsePlist(new TextEncoder().encode(file(files, 'macos/device-trust-browsers.mobileconfig'))));
  assert.equal(profile.get('PayloadType'), 'Configuration');
  assert.equal(profile.get('PayloadScope'), 'System');
  const payloads = profile.get('PayloadContent');
  assert.ok(Array.isArray(payloads));
  assert.deepEqual(payloads.map((p) => dict(p).get('PayloadType')), ['com.google.Chrome', 'com.microsoft.Edge']);
  for (const p of payloads) for (const policy of BOTH) assert.deepEqual(dict(p).get(policy), PATTERNS);
  // Generated again, the profile keeps its identity, so MDM replaces it rather than adding a second.
  assert.equal(browserPolicyFiles(['https://other.example']).get('macos/device-trust-browsers.mobileconfig')?.match(/[0-9A-F]{8}-[0-9A-F-]{27}/g)?.join(), file(files, 'macos/device-trust-browsers.mobileconfig').match(/[0-9A-F]{8}-[0-9A-F-]{27}/g)?.join());
});

test('characters an origin may hold but a file format may not stay data in every format', () => {
  // The URL parser keeps ' and " in a host; each format escapes them its own way.
  const [odd] = originsOfAllowedOrigins(['https://a\'b"c.example=ehr'], 'test');
  assert.equal(odd, 'https://a\'b"c.example');
  const files = browserPolicyFiles([odd ?? '']);
  const pattern = `${odd ?? ''}:443`;
  assert.deepEqual((JSON.parse(file(files, `linux/etc/opt/chrome/policies/managed/${LINUX_POLICY_FILE}`)) as { LoopbackNetworkAllowedForUrls: unknown }).LoopbackNetworkAllowedForUrls, [pattern]);
  const registry = parseRegExport(file(files, 'windows/chrome-local-network.reg'));
  assert.equal(registry.values('HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Google\\Chrome\\LoopbackNetworkAllowedForUrls')?.get('1')?.value, pattern);
  assert.deepEqual(dict(parsePlist(new TextEncoder().encode(file(files, 'macos/com.google.Chrome.plist')))).get('LoopbackNetworkAllowedForUrls'), [pattern]);
  assert.match(file(files, 'windows/browser-local-network.ps1'), /\$origins = @\('https:\/\/a''b"c\.example:443'\)/);
});

test('origins are read as the agent reads them: the browsers\' form, each once, sorted; each policy pattern names its port', () => {
  assert.deepEqual(['https://ehr.hospital.example', 'http://127.0.0.1:8080', 'http://[::1]', 'https://xn--bcher-kva.example'].map(policyPattern), ['https://ehr.hospital.example:443', 'http://127.0.0.1:8080', 'http://[::1]:80', 'https://xn--bcher-kva.example:443']);
  assert.deepEqual(originsOfAllowedOrigins(['https://pacs.hospital.example:8443=pacs', 'https://EHR.Hospital.Example:443=ehr', 'https://ehr.hospital.example=ehr-admin', 'https://bücher.example=lib'], 'test'), ['https://ehr.hospital.example', 'https://pacs.hospital.example:8443', 'https://xn--bcher-kva.example']);
});

test('a configuration the agent would not use gives no policies: CONFIG_INVALID naming the file', () => {
  const refused = (value: unknown, pattern: RegExp) =>
    assert.throws(() => originsOfAllowedOrigins(value, '/etc/device-trust/policies/managed/it.json'), (e: unknown) => isAgentError(e, 'CONFIG_INVALID') && pattern.test(e.message) && e.message.includes('it.json'));
  refused(undefined, /sets no allowedOrigins/);
  refused([], /is empty/);
  refused('https://ehr.hospital.example=ehr', /expected a list/);
  refused(['https://ehr.hospital.example/path=ehr'], /not in the expected format|not usable/);
  refused(['https://ehr.hospital.example'], /not in the expected format/);
  refused(['https://user@ehr.hospital.example=ehr'], /not usable/);
});

test('the command reads the agent\'s managed configuration in each form IT has it and writes the same policies', async () => {
  const folder = tempFolder('dta-browser-policies-');
  const entries = ['https://ehr.hospital.example=ehr', 'https://pacs.hospital.example:8443=pacs'];
  const inputs = new Map<string, Uint8Array>([
    ['linux.json', new TextEncoder().encode(JSON.stringify({ serviceUrl: 'https://dts.hospital.example', allowedOrigins: entries }))],
    // The agent's own profile template with IT's origins filled in.
    ['agent.mobileconfig', new TextEncoder().encode(mobileconfig().replace('<key>allowedOrigins</key>\n\t\t\t<array/>', `<key>allowedOrigins</key>\n\t\t\t<array>${entries.map((e) => `<string>${e}</string>`).join('')}</array>`))],
    // `reg export` writes UTF-16LE with a byte order mark; list settings are a subkey of numbered values.
    ['agent.reg', Uint8Array.from([0xff, 0xfe, ...new Uint8Array(Buffer.from(`Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\Software\\Policies\\DeviceTrust\\Agent]\r\n"serviceUrl"="https://dts.hospital.example"\r\n\r\n[HKEY_LOCAL_MACHINE\\Software\\Policies\\DeviceTrust\\Agent\\allowedOrigins]\r\n"1"="${entries[0] ?? ''}"\r\n"2"="${entries[1] ?? ''}"\r\n`, 'utf16le'))])],
  ]);
  const expected = browserPolicyFiles(ORIGINS);
  for (const [name, data] of inputs) {
    const config = join(folder.path, name);
    writeFileSync(config, data);
    const out = join(folder.path, `out-${name}`);
    const printed: string[] = [];
    assert.equal(await browserPoliciesCommand(['--config', config, '--out', out], { out: (t) => printed.push(t) }), 0, name);
    const written = readdirSync(out, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).map((d) => relative(out, join(d.parentPath, d.name)));
    assert.deepEqual(written.sort(), [...expected.keys()].sort(), name);
    for (const path of written) assert.equal(readFileSync(join(out, path), 'utf8'), expected.get(path), `${name}: ${path}`);
    assert.match(printed.join(''), /https:\/\/ehr\.hospital\.example, https:\/\/pacs\.hospital\.example:8443/);
  }
  folder.remove();
});

test('the command refuses what it cannot use, with the code a script can branch on, and writes nothing', async () => {
  const folder = tempFolder('dta-browser-policies-');
  const out = join(folder.path, 'out');
  const run = (args: string[]) => browserPoliciesCommand(args, { out: () => undefined });
  const bad = join(folder.path, 'bad.json');
  writeFileSync(bad, JSON.stringify({ allowedOrigins: ['https://ehr.hospital.example/=ehr'] }));
  const notConfig = join(folder.path, 'notes.txt');
  writeFileSync(notConfig, 'allowedOrigins: https://ehr.hospital.example');
  const profile = join(folder.path, 'other.mobileconfig');
  writeFileSync(profile, '<?xml version="1.0"?><plist version="1.0"><dict><key>PayloadContent</key><array><dict><key>PayloadType</key><string>com.example.other</string></dict></array></dict></plist>');
  await assert.rejects(run(['--out', out]), (e: unknown) => isAgentError(e, 'USAGE'));
  await assert.rejects(run(['--config', bad]), (e: unknown) => isAgentError(e, 'USAGE'));
  await assert.rejects(run(['--config', join(folder.path, 'missing.json'), '--out', out]), (e: unknown) => isAgentError(e, 'CONFIG_INVALID') && /cannot be read/.test(e.message));
  await assert.rejects(run(['--config', bad, '--out', out]), (e: unknown) => isAgentError(e, 'CONFIG_INVALID'));
  await assert.rejects(run(['--config', notConfig, '--out', out]), (e: unknown) => isAgentError(e, 'CONFIG_INVALID') && /not a managed configuration/.test(e.message));
  await assert.rejects(run(['--config', profile, '--out', out]), (e: unknown) => isAgentError(e, 'CONFIG_INVALID') && /org\.devicetrust\.agent payload/.test(e.message));
  assert.deepEqual(readdirSync(folder.path).sort(), ['bad.json', 'notes.txt', 'other.mobileconfig']);
  folder.remove();
});
