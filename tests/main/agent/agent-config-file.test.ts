// The agent's JSON configuration file (`dta agent --config`): the tables keyed by what a web
// page names become Maps, origins are normalized as browsers send them, and every access
// service URL is checked, a bad one refused with the file and the URL named.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { isAgentError } from '../../../common/errors.js';
import { readAgentConfig } from '../../../main/agent/create-agent.js';
import { tempFolderPath } from '../../kit/temp-folder.js';

function configFile(extra: Record<string, unknown>): string {
  const path = join(tempFolderPath('dta-config-file-'), 'agent.json');
  writeFileSync(path, JSON.stringify({ serviceUrl: 'https://dts.hospital.example', dataDir: '/var/lib/dta', ...extra }));
  return path;
}

test('origins and access services become Maps; origins as browsers send them, URL prefixes parsed', () => {
  const config = readAgentConfig(configFile({ allowedOrigins: { 'https://EHR.hospital.example:443': ['ehr'] }, accessServices: { ehr: ['https://ehr.hospital.example/api/', 'http://127.0.0.1:8080'] } }));
  assert.deepEqual(config.allowedOrigins, new Map([['https://ehr.hospital.example', ['ehr']]]));
  assert.deepEqual(config.accessServices, new Map([['ehr', [{ origin: 'https://ehr.hospital.example', path: '/api' }, { origin: 'http://127.0.0.1:8080', path: '' }]]]));
  for (const name of ['constructor', '__proto__', 'toString']) {
    assert.equal(config.allowedOrigins.get(name), undefined);
    assert.equal(config.accessServices.get(name), undefined);
  }
  const empty = readAgentConfig(configFile({}));
  assert.equal(empty.allowedOrigins.size, 0);
  assert.equal(empty.accessServices.size, 0, 'no access service: no proofs at all');
});

test('a bad access service URL or origin is CONFIG_INVALID naming the file and the value', () => {
  for (const [extra, named] of [
    [{ accessServices: { ehr: ['http://ehr.hospital.example'] } }, 'http://ehr.hospital.example'],
    [{ accessServices: { ehr: ['https://ehr.hospital.example/api?x=1'] } }, 'https://ehr.hospital.example/api?x=1'],
    [{ accessServices: { ehr: ['https://ehr.hospital.example/a/../b'] } }, 'https://ehr.hospital.example/a/../b'],
    [{ accessServices: { ehr: ['https://u:p@ehr.hospital.example'] } }, 'https://u:p@ehr.hospital.example'],
    [{ allowedOrigins: { 'https://u@ehr.hospital.example': ['ehr'] } }, 'https://u@ehr.hospital.example'],
  ] as const) {
    const path = configFile(extra);
    assert.throws(
      () => readAgentConfig(path),
      (e: unknown) => isAgentError(e, 'CONFIG_INVALID') && e.message.includes(path) && e.message.includes(JSON.stringify(named)),
      named,
    );
  }
});

test('a "__proto__" key in the file is data, refused by the schema like any unknown origin', () => {
  const path = join(tempFolderPath('dta-config-file-'), 'agent.json');
  writeFileSync(path, '{"serviceUrl": "https://dts.hospital.example", "dataDir": "/x", "allowedOrigins": {"__proto__": ["ehr"]}, "accessServices": {"__proto__": ["https://evil.example"]}}');
  assert.throws(() => readAgentConfig(path), (e: unknown) => isAgentError(e, 'CONFIG_INVALID') && /allowedOrigins/.test(e.message));
  writeFileSync(path, '{"serviceUrl": "https://dts.hospital.example", "dataDir": "/x", "accessServices": {"__proto__": ["https://ehr.hospital.example"]}}');
  const config = readAgentConfig(path);
  assert.deepEqual([...config.accessServices.keys()], ['__proto__'], 'an audience named __proto__ is just a name');
  assert.equal(Object.getPrototypeOf(config.accessServices), Map.prototype);
});
