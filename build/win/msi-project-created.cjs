// electron-builder hook (msiProjectCreated): electron-builder's MSI template has neither a
// run-at-login nor services, so this edits the generated WiX project:
// - one per-machine HKLM Run value: the tray starts at every person's login. The value is a
//   component of the product, so a repair restores it and an uninstall removes it.
// - the system agent as a Windows service (docs/system-agent.md). The SCM starts Shawl
//   (DeviceTrustAgentService.exe, a small maintained service host: github.com/mtkennerly/shawl),
//   which runs `dta-agent.exe agent --config ...` and stops it with ctrl-C; the agent itself
//   does not speak the service protocol. ServiceInstall/ServiceControl go into the component
//   electron-builder generated for that file, since a service must be installed by the
//   component whose key path is its executable.
// - %ProgramData%\DeviceTrust, the agent's data folder, readable only by SYSTEM and
//   Administrators (a protected DACL: nothing inherited from ProgramData, where Users may read).
// The util:ServiceConfig element needs WixUtilExtension (msi.additionalWixArgs).
const { readFile, writeFile } = require('node:fs/promises');

const SERVICE_NAME = 'DeviceTrustAgent';
const SERVICE_HOST = 'DeviceTrustAgentService.exe';
const AGENT = 'dta-agent.exe';
const UTIL_NS = 'http://wixtoolset.org/schemas/v4/wxs/util';

/**
 * Shawl's command line, with {app} and {data} for the install and data folders (each ending
 * in a backslash, as MSI and NSIS give them). No quoted path ends in a backslash: `\"` would
 * escape the quote. --restart: Shawl restarts the agent whatever its exit code, after 10 s.
 */
const SERVICE_ARGUMENTS_TEMPLATE = [
  'run', `--name ${SERVICE_NAME}`, '--restart', '--restart-delay 10000', '--stop-timeout 10000', '--kill-process-tree',
  '--log-dir "{data}DeviceTrust\\logs"', '--log-as service', '--log-cmd-as agent',
  '--', `"{app}${AGENT}"`, 'agent', '--config "{data}DeviceTrust\\agent.json"',
].join(' ');

function serviceArguments(app, data) {
  return SERVICE_ARGUMENTS_TEMPLATE.replaceAll('{app}', app).replaceAll('{data}', data);
}

function xmlAttribute(value) {
  return value.replaceAll('&', '&amp;').replaceAll('"', '&quot;').replaceAll('<', '&lt;');
}

const RUN_AT_LOGIN = [
  '      <Component Id="RunAtLoginForEveryUser" Guid="6F0E1D53-2B7A-4C8E-9A51-3D2C7B1E4F90">',
  '        <RegistryValue Root="HKLM" Key="Software\\Microsoft\\Windows\\CurrentVersion\\Run" Name="Device Trust Agent" Type="string" Value="&quot;[APPLICATIONFOLDER]Device Trust Agent.exe&quot; --hidden" KeyPath="yes"/>',
  '      </Component>',
].join('\n');

const SERVICE = [
  `        <ServiceInstall Id="${SERVICE_NAME}Service" Name="${SERVICE_NAME}" DisplayName="Device Trust Agent" Description="Checks this device's security posture and proves it to the hospital's access services." Type="ownProcess" Start="auto" ErrorControl="normal" Account="LocalSystem" Vital="yes" Arguments="${xmlAttribute(serviceArguments('[APPLICATIONFOLDER]', '[CommonAppDataFolder]'))}">`,
  // The SCM restarts Shawl itself if it ever dies: after 10 s, on every failure (the third
  // action repeats), the count starting again after a day without one.
  `          <util:ServiceConfig xmlns:util="${UTIL_NS}" FirstFailureActionType="restart" SecondFailureActionType="restart" ThirdFailureActionType="restart" RestartServiceDelayInSeconds="10" ResetPeriodInDays="1"/>`,
  '        </ServiceInstall>',
  // Stopped before its files are replaced or removed (an upgrade uninstalls the old version
  // first), deleted on uninstall, started at the end of every install and upgrade.
  `        <ServiceControl Id="${SERVICE_NAME}Control" Name="${SERVICE_NAME}" Start="install" Stop="both" Remove="uninstall" Wait="yes"/>`,
].join('\n');

const DATA_DIRECTORY = [
  '      <Directory Id="CommonAppDataFolder">',
  '        <Directory Id="DeviceTrustDataFolder" Name="DeviceTrust"/>',
  '      </Directory>',
].join('\n');

const DATA_FOLDER = [
  '      <Component Id="DeviceTrustDataFolderAcl" Directory="DeviceTrustDataFolder" Guid="3C7A9E21-5B4D-4F6A-8E1C-92D0B7F4A613">',
  '        <CreateFolder>',
  '          <PermissionEx Sddl="D:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"/>',
  '        </CreateFolder>',
  '      </Component>',
].join('\n');

const GROUP_ANCHOR = '<ComponentGroup Id="ProductComponents" Directory="APPLICATIONFOLDER">';

function insertAfter(wxs, anchor, text, what) {
  const at = wxs.indexOf(anchor);
  if (at < 0) throw new Error(`the WiX project has no ${what}: the template changed`);
  return `${wxs.slice(0, at + anchor.length)}\n${text}${wxs.slice(at + anchor.length)}`;
}

function addRunAtLogin(wxs) {
  if (wxs.includes('Id="RunAtLoginForEveryUser"')) return wxs;
  return insertAfter(wxs, GROUP_ANCHOR, RUN_AT_LOGIN, 'ProductComponents group');
}

function addSystemService(wxs) {
  if (wxs.includes(`<ServiceInstall Id="${SERVICE_NAME}Service"`)) return wxs;
  // electron-builder's component for a file at the top of the install folder:
  // <Component>\n <File Name="X" Source="..." ReadOnly="yes" KeyPath="yes" Id="X_f"/>\n </Component>
  const name = SERVICE_HOST.replaceAll('.', '\\.');
  const component = new RegExp(`(<Component>\\s*<File Name="${name}"[^>]*\\bKeyPath="yes"[^>]*/>)(\\s*</Component>)`);
  if (!component.test(wxs)) {
    throw new Error(`the WiX project has no component for ${SERVICE_HOST}: put it beside the app (win.extraFiles), or the template changed`);
  }
  if (!wxs.includes(`<File Name="${AGENT}"`)) throw new Error(`the WiX project has no ${AGENT}: put it beside the app (win.extraFiles)`);
  let out = wxs.replace(component, (_, file, end) => `${file}\n${SERVICE}${end}`);
  out = insertAfter(out, '<Directory Id="TARGETDIR" Name="SourceDir">', DATA_DIRECTORY, 'TARGETDIR directory');
  return insertAfter(out, GROUP_ANCHOR, DATA_FOLDER, 'ProductComponents group');
}

module.exports = async function msiProjectCreated(path) {
  await writeFile(path, addSystemService(addRunAtLogin(await readFile(path, 'utf8'))));
};
module.exports.addRunAtLogin = addRunAtLogin;
module.exports.addSystemService = addSystemService;
module.exports.serviceArguments = serviceArguments;
module.exports.SERVICE_NAME = SERVICE_NAME;
