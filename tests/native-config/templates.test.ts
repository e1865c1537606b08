// The MDM templates are generated from the schema and kept in native-config/: they must not
// drift, the ADMX/ADML must be well-formed and structurally complete, and the profiles must
// parse as property lists with the payload fields an MDM requires.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { MANAGED_SETTINGS } from '../../common/managed-config.js';
import { parsePlist } from '../../main/config/plist.js';
import { PREFERENCE_DOMAIN, REGISTRY_KEY, TEMPLATE_FILES } from '../../scripts/native-config.js';

const DIR = join(import.meta.dirname, '..', '..', 'native-config');

test('the committed templates match what the schema generates (run `npm run config:generate` after a schema change)', () => {
  for (const [path, make] of Object.entries(TEMPLATE_FILES)) {
    assert.equal(readFileSync(join(DIR, path), 'utf8'), make(), `${path} drifted from common/managed-config.ts`);
  }
});

test('ADMX and ADML are well-formed XML (xmllint)', () => {
  for (const path of ['windows/DeviceTrust.admx', 'windows/en-US/DeviceTrust.adml', `macos/${PREFERENCE_DOMAIN}.mobileconfig`, `macos/${PREFERENCE_DOMAIN}.plist`]) {
    execFileSync('xmllint', ['--noout', join(DIR, path)]);
  }
});

test('ADMX structure: every policy has its strings and presentation; keys, value names and types match the schema', () => {
  const admx = readFileSync(join(DIR, 'windows/DeviceTrust.admx'), 'utf8');
  const adml = readFileSync(join(DIR, 'windows/en-US/DeviceTrust.adml'), 'utf8');
  const strings = new Set([...adml.matchAll(/<string id="([^"]+)">/g)].map((m) => m[1]));
  const presentations = new Map([...adml.matchAll(/<presentation id="([^"]+)">([\s\S]*?)<\/presentation>/g)].map((m) => [m[1], m[2] ?? '']));
  for (const ref of admx.matchAll(/\$\(string\.([^)]+)\)/g)) assert.ok(strings.has(ref[1]), `string ${ref[1]} is in the ADML`);
  const policies = [...admx.matchAll(/<policy name="([^"]+)"([^>]*)>([\s\S]*?)<\/policy>/g)];
  assert.equal(policies.length, MANAGED_SETTINGS.length);
  for (const spec of MANAGED_SETTINGS) {
    const policy = policies.find((p) => p[1] === spec.key);
    assert.ok(policy, `policy ${spec.key}`);
    const [, , attrs = '', body = ''] = policy;
    assert.match(attrs, new RegExp(`key="${REGISTRY_KEY.replace(/\\/g, '\\\\')}"`));
    const element = { string: 'text', integer: 'decimal', enum: 'enum', 'string-list': 'list', boolean: '' }[spec.type];
    if (spec.type === 'boolean') {
      assert.match(attrs, new RegExp(`valueName="${spec.key}"`));
      assert.match(body, /<enabledValue><decimal value="1" \/><\/enabledValue>/);
      assert.ok(!/presentation=/.test(attrs));
    } else {
      assert.match(body, new RegExp(`<${element} id="${spec.key}"`), `${spec.key} is a ${element}`);
      if (spec.type !== 'string-list') assert.match(body, new RegExp(`valueName="${spec.key}"`));
      const presentation = presentations.get(spec.key);
      assert.ok(presentation, `presentation for ${spec.key}`);
      assert.match(presentation, new RegExp(`refId="${spec.key}"`));
      if (spec.type === 'integer') assert.match(body, new RegExp(`minValue="${spec.min}" maxValue="${spec.max}"`));
      if (spec.type === 'enum') for (const v of spec.values ?? []) assert.match(body, new RegExp(`<string>${v}</string>`));
    }
  }
});

test('the mobileconfig parses (ours and Python\'s plistlib) with the payload fields an MDM requires', () => {
  const path = join(DIR, `macos/${PREFERENCE_DOMAIN}.mobileconfig`);
  const profile = parsePlist(readFileSync(path)) as Record<string, unknown>;
  for (const field of ['PayloadContent', 'PayloadDisplayName', 'PayloadIdentifier', 'PayloadType', 'PayloadUUID', 'PayloadVersion']) assert.ok(field in profile, field);
  assert.equal(profile.PayloadType, 'Configuration');
  const payload = (profile.PayloadContent as Record<string, unknown>[])[0] ?? {};
  assert.equal(payload.PayloadType, PREFERENCE_DOMAIN);
  assert.match(String(payload.PayloadUUID), /^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-8[0-9A-F]{3}-[0-9A-F]{12}$/);
  assert.equal(payload.updateMode, 'automatic');
  const python = execFileSync('python3', ['-c', 'import plistlib,sys,json; p=plistlib.load(open(sys.argv[1],"rb")); print(json.dumps({"type": p["PayloadType"], "inner": p["PayloadContent"][0]["PayloadType"], "fast": p["PayloadContent"][0]["checkFastSeconds"]}))', path], { encoding: 'utf8' });
  assert.deepEqual(JSON.parse(python), { type: 'Configuration', inner: PREFERENCE_DOMAIN, fast: 2 });
});
