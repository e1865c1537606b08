import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { isAgentError } from '../../../common/errors.js';
import { DEVICE_ID_PATTERN, deriveDeviceId, normalizeMachineId } from '../../../main/identity/device-id.js';
import { parseIoregPlatformUuid, readMachineId } from '../../../main/identity/machine-id.js';
import { createCommandRunner } from '../../../main/posture/command-runner.js';
import { tempFolderPath } from '../../kit/temp-folder.js';

const MACHINE_ID = '4c4c4544004d3510804bb4c04f4e5632';

test('the device id is a keyed hash: stable, 128 bits, and not the plain SHA-256 node-machine-id would send', () => {
  const id = deriveDeviceId(MACHINE_ID);
  assert.match(id, DEVICE_ID_PATTERN);
  assert.equal(deriveDeviceId(MACHINE_ID), id);
  assert.equal(deriveDeviceId(`${MACHINE_ID.toUpperCase()}\n`), id, 'case and whitespace do not change it');
  assert.ok(!createHash('sha256').update(MACHINE_ID).digest('hex').startsWith(id));
  assert.ok(!id.includes(MACHINE_ID.slice(0, 8)));
  assert.notEqual(deriveDeviceId('4c4c4544004d3510804bb4c04f4e5633'), id, 'a re-imaged machine is a new device');
});

test('a Windows MachineGuid and a macOS IOPlatformUUID are accepted in their usual forms', () => {
  assert.equal(normalizeMachineId('{6B29FC40-CA47-1067-B31D-00DD010662DA}'), '6b29fc40ca471067b31d00dd010662da');
  assert.equal(normalizeMachineId('564D1F6B-0E6E-4A3B-9C55-1F2E3D4C5B6A'), '564d1f6b0e6e4a3b9c551f2e3d4c5b6a');
});

test('a hostname (node-machine-id\'s Linux fallback), an empty or an all-zero id is refused with MACHINE_ID_UNAVAILABLE', () => {
  for (const bad of ['ward-3-workstation-12', '', 'uninitialized', '00000000000000000000000000000000', 'ffffffffffffffffffffffffffffffff']) {
    assert.throws(() => deriveDeviceId(bad), (e) => isAgentError(e, 'MACHINE_ID_UNAVAILABLE'), bad);
  }
});

test('Linux: /etc/machine-id is read first, /var/lib/dbus/machine-id second; neither gives MACHINE_ID_UNAVAILABLE', async () => {
  const runner = createCommandRunner({ allowList: new Set() });
  const root = tempFolderPath('dta-root-');
  mkdirSync(join(root, 'etc'));
  mkdirSync(join(root, 'var/lib/dbus'), { recursive: true });
  await assert.rejects(readMachineId({ platform: 'linux', runner, fileRoot: root }), (e) => isAgentError(e, 'MACHINE_ID_UNAVAILABLE'));
  writeFileSync(join(root, 'var/lib/dbus/machine-id'), `${MACHINE_ID}\n`);
  assert.equal(await readMachineId({ platform: 'linux', runner, fileRoot: root }), MACHINE_ID);
  writeFileSync(join(root, 'etc/machine-id'), 'uninitialized\n');
  assert.equal(await readMachineId({ platform: 'linux', runner, fileRoot: root }), MACHINE_ID, 'an uninitialized /etc/machine-id falls through');
  writeFileSync(join(root, 'etc/machine-id'), '0123456789abcdef0123456789abcdef\n');
  assert.equal(await readMachineId({ platform: 'linux', runner, fileRoot: root }), '0123456789abcdef0123456789abcdef');
});

test('this machine has a machine id, and it makes a device id', async () => {
  const raw = await readMachineId({ platform: 'linux', runner: createCommandRunner({ allowList: new Set() }) });
  assert.match(deriveDeviceId(raw), DEVICE_ID_PATTERN);
});

test('macOS: IOPlatformUUID is read from ioreg output', () => {
  // Shape of `ioreg -rd1 -c IOPlatformExpertDevice` (see tests/fixtures/darwin/SOURCES.md).
  const out = '+-o J314sAP  <class IOPlatformExpertDevice, id 0x100000202, registered, matched, active, busy 0 (0 ms), retain 34>\n    {\n      "IOPlatformSerialNumber" = "C02XXXXXXXX"\n      "IOPlatformUUID" = "564D1F6B-0E6E-4A3B-9C55-1F2E3D4C5B6A"\n    }\n';
  assert.equal(parseIoregPlatformUuid(out), '564D1F6B-0E6E-4A3B-9C55-1F2E3D4C5B6A');
  assert.equal(parseIoregPlatformUuid('nothing here'), undefined);
});
