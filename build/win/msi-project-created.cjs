// electron-builder hook (msiProjectCreated): electron-builder's MSI template has no
// run-at-login, so add one per-machine HKLM Run value to the generated WiX project. The
// value is a component of the product, so a repair restores it and an uninstall removes it.
const { readFile, writeFile } = require('node:fs/promises');

const COMPONENT = [
  '      <Component Id="RunAtLoginForEveryUser" Guid="6F0E1D53-2B7A-4C8E-9A51-3D2C7B1E4F90">',
  '        <RegistryValue Root="HKLM" Key="Software\\Microsoft\\Windows\\CurrentVersion\\Run" Name="Device Trust Agent" Type="string" Value="&quot;[APPLICATIONFOLDER]Device Trust Agent.exe&quot; --hidden" KeyPath="yes"/>',
  '      </Component>',
].join('\n');

function addRunAtLogin(wxs) {
  const anchor = '<ComponentGroup Id="ProductComponents" Directory="APPLICATIONFOLDER">';
  const at = wxs.indexOf(anchor);
  if (at < 0) throw new Error('the WiX project has no ProductComponents group: the template changed');
  if (wxs.includes('Id="RunAtLoginForEveryUser"')) return wxs;
  return `${wxs.slice(0, at + anchor.length)}\n${COMPONENT}${wxs.slice(at + anchor.length)}`;
}

module.exports = async function msiProjectCreated(path) {
  await writeFile(path, addRunAtLogin(await readFile(path, 'utf8')));
};
module.exports.addRunAtLogin = addRunAtLogin;
