// The system agent trusts its --config file only while nobody but root (or its own account)
// could have written it: real files, modes and owners in a temporary folder.
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { isAgentError } from '../../../common/errors.js';
import { checkConfigFileTrust } from '../../../main/config/trusted-config-file.js';

const NOBODY = 65_534;
let root: string;

before(() => {
  assert.equal(process.getuid?.(), 0, 'this test runs as root (as CI does): it gives files to another owner');
  root = mkdtempSync(join(tmpdir(), 'dta-trust-'));
});

after(() => rmSync(root, { recursive: true, force: true }));

function place(name: string, fileMode: number, folderMode = 0o755): string {
  const folder = join(root, name);
  mkdirSync(folder);
  chmodSync(folder, folderMode);
  const file = join(folder, 'agent.json');
  writeFileSync(file, '{}');
  chmodSync(file, fileMode);
  return file;
}

const refused = (path: string, pattern: RegExp): void =>
  assert.throws(() => checkConfigFileTrust(path, 'linux', 0), (e: unknown) => isAgentError(e, 'CONFIG_UNTRUSTED') && pattern.test(e.message), path);

test('root\'s file, not writable by others, in root\'s folder: trusted (also read-only for all, and in a sticky shared folder)', () => {
  checkConfigFileTrust(place('ok', 0o600), 'linux', 0);
  checkConfigFileTrust(place('readable', 0o644), 'linux', 0);
  checkConfigFileTrust(place('sticky', 0o600, 0o1777), 'linux', 0);
});

test('a file or folder others can write is refused, naming the fix', () => {
  refused(place('world', 0o666), /can be changed by other accounts \(mode 666\).*chmod go-w/);
  refused(place('group', 0o620), /mode 620/);
  refused(place('loose-folder', 0o600, 0o777), /folder .* can be changed by other accounts/);
});

test('a file another account owns is refused; the agent\'s own account may own it (developer mode)', () => {
  const file = place('foreign', 0o600);
  chownSync(file, NOBODY, NOBODY);
  refused(file, /belongs to user 65534, not to root.*chown root/);
  checkConfigFileTrust(file, 'linux', NOBODY);
});

test('a missing file is CONFIG_INVALID (not there yet); Windows keeps this in the folder\'s ACL', () => {
  assert.throws(() => checkConfigFileTrust(join(root, 'none', 'agent.json'), 'linux', 0), (e: unknown) => isAgentError(e, 'CONFIG_INVALID'));
  checkConfigFileTrust(place('windows', 0o666), 'win32', 0);
});
