// The Windows deployment guides say the MSI is the managed package and how a machine moves from
// an NSIS install to it (issue 16). The migration script there depends on names the installers
// and the agent fix: the uninstaller's file name (electron-builder's NSIS template, and what the
// agent looks for to tell the two installs apart), the install folder, the service both
// register. This keeps the guides in step with them.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';

const ROOT = join(import.meta.dirname, '..', '..');
const require = createRequire(import.meta.url);
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');
const config = parse(read('electron-builder.yml')) as { productName: string; win: { target: string[] }; nsis: { perMachine: boolean } };
const groupPolicy = read('docs/deploy/group-policy.md');
const intune = read('docs/deploy/intune.md');

/** The PowerShell block of the Group Policy guide's migration section. */
function migrationScript(): string {
  const section = groupPolicy.split('### Moving a machine from the NSIS install to the MSI')[1] ?? '';
  const script = /```powershell\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(script !== undefined, 'the migration section holds a PowerShell script');
  return script;
}

test('both guides name the MSI as the managed package and NSIS as not for managed fleets', () => {
  assert.ok(config.win.target.includes('msi') && config.win.target.includes('nsis') && config.nsis.perMachine, 'the build makes both, NSIS per machine');
  for (const [name, text] of [['group-policy.md', groupPolicy], ['intune.md', intune]] as const) {
    assert.match(text, /MSI is the Windows package for managed\s+fleets/, `${name} names the MSI for managed fleets`);
    assert.match(text, /NSIS[\s\S]{0,80}\*\*not\s+for managed fleets\*\*/, `${name} says NSIS is not for managed fleets`);
  }
  assert.match(intune, /group-policy\.md#moving-a-machine-from-the-nsis-install-to-the-msi/, 'Intune points to the migration script');
});

test('the migration script uninstalls the file electron-builder\'s NSIS installer writes, from the folder it installs to, before the MSI', () => {
  const script = migrationScript();
  // electron-builder's NSIS template: !define UNINSTALL_FILENAME "Uninstall ${PRODUCT_FILENAME}.exe".
  const common = readFileSync(require.resolve('app-builder-lib/templates/nsis/common.nsh'), 'utf8');
  assert.match(common, /!define UNINSTALL_FILENAME "Uninstall \$\{PRODUCT_FILENAME\}\.exe"/);
  const uninstaller = `Uninstall ${config.productName}.exe`;
  assert.ok(script.includes(`'${uninstaller}'`), `the script runs ${uninstaller}`);
  assert.ok(script.includes(`Join-Path $env:ProgramFiles '${config.productName}'`), 'in the per-machine install folder');
  // The agent tells an NSIS install from the MSI by that very file: the guide's check afterwards.
  assert.ok(read('main/update/install-type.ts').includes(`\\\\${uninstaller}`), 'the agent looks for the same file');
  assert.ok(groupPolicy.includes(`\`${uninstaller}\` is gone`), 'the guide says to check that it is gone');
  // Silent, for the whole machine, and waited for (_?= keeps NSIS from returning at once).
  assert.match(script, /'\/S', '\/allusers', "_\?=\$dir"/);
  assert.match(script, /-Wait -PassThru[\s\S]*ExitCode -ne 0\) \{ exit/, 'a failed uninstall stops before the MSI');
  assert.ok(script.indexOf('Uninstall') < script.indexOf('msiexec.exe'), 'the NSIS install goes first');
  assert.match(script, /msiexec\.exe -ArgumentList '\/i', '[^']+\.msi', '\/qn', 'ALLUSERS=1'/);
});

test('the service both installers register is the one the guides name', () => {
  const { SERVICE_NAME } = require(join(ROOT, 'build/win/msi-project-created.cjs')) as { SERVICE_NAME: string };
  assert.match(read('build/win/installer.nsh'), new RegExp(`sc\\.exe" create ${SERVICE_NAME} `), 'NSIS creates the same service');
  for (const text of [groupPolicy, intune]) assert.ok(text.includes(`\`${SERVICE_NAME}\``), `the guide names ${SERVICE_NAME}`);
  assert.ok(groupPolicy.includes(`sc.exe qc ${SERVICE_NAME}`));
});
