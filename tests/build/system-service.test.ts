// The system agent's service definitions and their installation (docs/system-agent.md): the
// systemd unit (checked by systemd-analyze), the deb/rpm scripts and the macOS postinstall
// (run in a scratch root with logging stand-ins for systemctl and launchctl), the
// LaunchDaemon (as a property list), the MSI's service (electron-builder's own WiX project for
// our files, edited by our hook) and the NSIS installer's (compiled by makensis).
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { parse } from 'yaml';
import { defaultIpcPath } from '../../main/agent/ipc-path.js';
import { startIpcServer } from '../../main/agent/ipc-server.js';
import { parsePlist } from '../../main/config/plist.js';

const ROOT = join(import.meta.dirname, '..', '..');
const require = createRequire(import.meta.url);

interface FileSet { from: string; to: string }
interface BuilderConfig {
  productName: string;
  directories: { buildResources: string };
  linux: { extraResources: FileSet[]; extraFiles: FileSet[] };
  mac: { extraResources: FileSet[]; extraFiles: FileSet[] };
  win: { extraFiles: FileSet[] };
  msi: { additionalWixArgs?: string[] };
  pkg: { scripts: string };
}
const config = parse(readFileSync(join(ROOT, 'electron-builder.yml'), 'utf8')) as BuilderConfig;

const scratch = mkdtempSync(join(tmpdir(), 'dta-system-service-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let scratchCount = 0;
function scratchDir(name: string): string {
  const dir = join(scratch, `${name}-${scratchCount++}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

function read(path: string): string {
  return readFileSync(join(ROOT, path), 'utf8');
}

/** Where electron-builder puts an extraFiles entry, by its destination name. */
function shipped(files: FileSet[], name: string): FileSet {
  const entry = files.find((f) => f.to.split('/').pop() === name);
  assert.ok(entry, `${name} is in extraFiles`);
  return entry;
}

// ---- systemd ----

const UNIT_PATH = 'build/linux/dta-agent.service';
const unitText = read(UNIT_PATH);

/** The unit as [section, key, value] triples, in order (a key may repeat). */
function unitEntries(text: string): [string, string, string][] {
  let section = '';
  const entries: [string, string, string][] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(\w+)\]$/.exec(line);
    if (header) {
      section = header[1] ?? '';
      continue;
    }
    const at = line.indexOf('=');
    assert.ok(at > 0, `not a key=value line: ${line}`);
    entries.push([section, line.slice(0, at), line.slice(at + 1)]);
  }
  return entries;
}
const unit = unitEntries(unitText);
const values = (section: string, key: string): string[] => unit.filter(([s, k]) => s === section && k === key).map(([, , v]) => v);
const value = (section: string, key: string): string | undefined => values(section, key).at(-1);

/** A copy of the unit whose ExecStart runs an executable that exists here (verify checks it). */
function verifiableUnit(): string {
  const dir = scratchDir('unit');
  const path = join(dir, 'dta-agent.service');
  const rewritten = unitText.replace(/^ExecStart="[^"]+"/m, `ExecStart=${process.execPath}`);
  assert.notEqual(rewritten, unitText, 'ExecStart was rewritten');
  writeFileSync(path, rewritten);
  return path;
}

function systemdAnalyze(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync('systemd-analyze', args, { encoding: 'utf8' });
  assert.ifError(run.error); // systemd-analyze comes with Debian's systemd package (scripts/setup.sh)
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

test('systemd-analyze verify finds nothing to say about the unit', () => {
  const { status, stderr } = systemdAnalyze(['verify', '--man=no', verifiableUnit()]);
  const aboutUs = stderr.split('\n').filter((l) => l.includes('dta-agent'));
  assert.deepEqual(aboutUs, [], `systemd-analyze verify said:\n${stderr}`);
  assert.equal(status, 0, stderr);
});

test('systemd-analyze verify does read the unit: the shipped ExecStart is refused where the agent is not installed', () => {
  const dir = scratchDir('unit-as-shipped');
  copyFileSync(join(ROOT, UNIT_PATH), join(dir, 'dta-agent.service'));
  const { stderr } = systemdAnalyze(['verify', '--man=no', join(dir, 'dta-agent.service')]);
  assert.match(stderr, /dta-agent\.service: Command \/opt\/Device Trust Agent\/dta-agent is not executable/);
});

test('the unit stays hardened: systemd-analyze security rates its exposure 4.5 or lower', () => {
  const { stdout, stderr } = systemdAnalyze(['security', '--offline=yes', '--no-pager', verifiableUnit()]);
  const level = /Overall exposure level for dta-agent\.service: ([\d.]+)/.exec(stdout + stderr)?.[1];
  assert.ok(level !== undefined, `no exposure level in:\n${stdout}${stderr}`);
  assert.ok(Number(level) <= 4.5, `exposure ${level}:\n${stdout}`);
});

test('the unit runs the shipped agent as a system service that always comes back', () => {
  const execStart = value('Service', 'ExecStart') ?? '';
  const binary = /^"([^"]+)" agent --config \/etc\/dta\/agent\.json$/.exec(execStart)?.[1];
  assert.equal(binary, `/opt/${config.productName}/${shipped(config.linux.extraFiles, 'dta-agent').to}`, 'ExecStart runs the agent electron-builder puts beside the tray');
  assert.equal(value('Service', 'Type'), 'simple');
  assert.equal(value('Service', 'Restart'), 'always');
  assert.match(value('Service', 'RestartSec') ?? '', /^[1-9]\d*s?$/);
  assert.equal(value('Unit', 'StartLimitIntervalSec'), '0', 'the start limit never leaves the agent failed');
  assert.deepEqual(values('Install', 'WantedBy'), ['multi-user.target']);
  for (const key of ['After', 'Wants', 'Requires', 'BindsTo']) {
    assert.ok(!values('Unit', key).join(' ').includes('network'), `${key}: it starts before the network and handles being offline`);
  }
  assert.equal(value('Service', 'User'), undefined, 'root: the probes need it');
});

test('the unit makes the socket, state and config folders with the right modes', () => {
  assert.equal(value('Service', 'RuntimeDirectory'), 'dta');
  assert.equal(value('Service', 'RuntimeDirectoryMode'), '0755', '/run/dta: root-owned, every tray can reach the socket');
  assert.equal(value('Service', 'StateDirectory'), 'dta');
  assert.equal(value('Service', 'StateDirectoryMode'), '0700');
  assert.equal(value('Service', 'ConfigurationDirectory'), 'dta');
  assert.equal(value('Service', 'ConfigurationDirectoryMode'), '0700', 'agent.json holds the enrolment secret');
});

test('under the unit, the IPC socket is in the folder systemd makes and another account can connect to it despite UMask=0077', async () => {
  const runtimeDir = `/run/${value('Service', 'RuntimeDirectory') ?? ''}`;
  assert.equal(dirname(defaultIpcPath('linux')), runtimeDir, 'the agent listens in RuntimeDirectory, the one place under /run it may write');
  // /run/dta as systemd makes it (RuntimeDirectoryMode, root's), in a stand-in for /run.
  const run = mkdtempSync(join(tmpdir(), 'dta-run-'));
  chmodSync(run, 0o755);
  const dir = join(run, 'dta');
  mkdirSync(dir);
  chmodSync(dir, Number.parseInt(value('Service', 'RuntimeDirectoryMode') ?? '', 8));
  const path = join(dir, 'agent.sock');
  const notAsked = (): never => {
    throw new Error('no request is sent');
  };
  const umask = process.umask(Number.parseInt(value('Service', 'UMask') ?? '', 8));
  let server;
  try {
    server = await startIpcServer({ path, agentVersion: 'test', handlers: { status: notAsked, subscribe: notAsked, checkNow: notAsked, supportBundle: notAsked } });
  } finally {
    process.umask(umask);
  }
  try {
    assert.equal(statSync(dir).mode & 0o777, 0o755, 'the folder: root may replace the socket, nobody else');
    assert.equal(statSync(path).mode & 0o777, 0o666, 'the socket: the agent chmods it after binding under the umask');
    // A tray in a person's session: an account with no privileges, another process.
    const client = `require('node:net').createConnection(${JSON.stringify(path)}).on('connect', () => process.exit(0)).on('error', (e) => { console.error(e.message); process.exit(1); })`;
    const connect = spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, '-e', client], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(connect.status, 0, `nobody could not connect: ${connect.stderr}`);
  } finally {
    await server.close();
    rmSync(run, { recursive: true, force: true });
  }
});

test('the unit is sandboxed without breaking the probes (TPM, nft, lsblk, cryptsetup, gsettings as a person)', () => {
  assert.equal(value('Service', 'NoNewPrivileges'), 'yes');
  assert.equal(value('Service', 'ProtectSystem'), 'strict');
  assert.equal(value('Service', 'ProtectHome'), 'read-only', 'gsettings reads each person\'s dconf and session bus');
  assert.equal(value('Service', 'PrivateTmp'), 'yes');
  assert.ok(values('Service', 'DeviceAllow').includes('/dev/tpmrm0 rw'), 'the TPM');
  assert.ok(values('Service', 'DeviceAllow').some((d) => /^block-\S+ r$/.test(d)), 'lsblk and cryptsetup read block devices');
  for (const family of ['AF_UNIX', 'AF_NETLINK', 'AF_INET', 'AF_INET6']) {
    assert.ok((value('Service', 'RestrictAddressFamilies') ?? '').split(/\s+/).includes(family), `${family} stays allowed`);
  }
  for (const [key, breaks] of [['PrivateDevices', 'lsblk/cryptsetup/TPM'], ['PrivateNetwork', 'nft and the service'], ['MemoryDenyWriteExecute', 'V8'], ['PrivateUsers', 'root\'s probes'], ['ProcSubset', '/proc/sys/kernel/osrelease']] as const) {
    assert.ok(!['yes', 'true', 'pid'].includes(value('Service', key) ?? ''), `${key} would break ${breaks}`);
  }
  const capabilities = value('Service', 'CapabilityBoundingSet') ?? '';
  assert.ok(capabilities.startsWith('~'), 'capabilities are a deny-list');
  for (const needed of ['CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_SETUID', 'CAP_SETGID', 'CAP_SYS_ADMIN', 'CAP_DAC_READ_SEARCH', 'CAP_DAC_OVERRIDE', 'CAP_KILL']) {
    assert.ok(!capabilities.includes(needed), `${needed} stays`);
  }
  const allowed = allowedSyscalls(value('Service', 'SystemCallFilter') ?? '');
  // setresuid/setgroups: probes run as a signed-in person; ioctl: cryptsetup and the TPM;
  // socket/sendmsg: nft's netlink; mlock: cryptsetup; execve: every probe.
  for (const call of ['setresuid', 'setgroups', 'ioctl', 'socket', 'sendmsg', 'mlock', 'execve']) assert.ok(allowed.has(call), `${call} is allowed`);
  assert.ok(!allowed.has('init_module') && !allowed.has('reboot'), 'the filter still filters');
});

/** The system calls an allow-list such as `@system-service` expands to (groups nest). */
function allowedSyscalls(filter: string): Set<string> {
  const groups = new Map<string, string[]>();
  let current: string[] = [];
  for (const line of systemdAnalyze(['syscall-filter', '--no-pager']).stdout.split('\n')) {
    if (line.startsWith('@')) groups.set(line.trim(), (current = []));
    else if (/^\s+[@\w]/.test(line)) current.push(line.trim());
  }
  const out = new Set<string>();
  const add = (name: string): void => {
    if (!name.startsWith('@')) {
      out.add(name);
      return;
    }
    const members = groups.get(name);
    assert.ok(members, `systemd knows ${name}`);
    members.forEach(add);
  };
  assert.ok(!filter.startsWith('~'), 'SystemCallFilter is an allow-list');
  filter.split(/\s+/).filter(Boolean).forEach(add);
  add('@default');
  return out;
}

// ---- deb/rpm scripts, run in a scratch root ----

// electron-builder's macros for these scripts (app-builder-lib FpmTarget createScripts).
const LINUX_MACROS: Record<string, string> = { executable: 'device-trust-agent', sanitizedProductName: config.productName, productFilename: config.productName };

function renderLinuxScript(path: string): string {
  return read(path).replace(/\$\{([a-zA-Z]+)\}/g, (_, name: string) => {
    const macro = LINUX_MACROS[name];
    if (macro === undefined) throw new Error(`${path}: \${${name}} is not an electron-builder macro; write shell variables as $name`);
    return macro;
  });
}

/** Stand-ins that log their arguments to $LOG; `exitCodes` makes some fail. */
function fakeTools(dir: string, tools: string[], exitCodes: Record<string, number> = {}): string {
  const bin = join(dir, 'fakebin');
  mkdirSync(bin);
  for (const tool of tools) {
    writeFileSync(join(bin, tool), `#!/bin/sh\necho "${tool} $*" >> "$LOG"\nexit ${exitCodes[tool] ?? 0}\n`);
    chmodSync(join(bin, tool), 0o755);
  }
  return bin;
}

interface LinuxRoot { root: string; bin: string; log: string }

function linuxRoot(options: { systemdRunning: boolean }): LinuxRoot {
  const root = scratchDir('linux-root');
  const resources = join(root, 'opt', config.productName, 'resources');
  for (const { from, to } of config.linux.extraResources) {
    mkdirSync(dirname(join(resources, to)), { recursive: true });
    copyFileSync(join(ROOT, from), join(resources, to));
  }
  if (options.systemdRunning) mkdirSync(join(root, 'run', 'systemd', 'system'), { recursive: true });
  const bin = fakeTools(root, ['systemctl', 'update-alternatives', 'apparmor_parser', 'update-mime-database', 'update-desktop-database', 'apparmor_status'], { apparmor_status: 1 });
  return { root, bin, log: join(root, 'calls.log') };
}

/** Runs a rendered package script with every absolute path it writes moved under `root`. */
function runLinuxScript(path: string, where: LinuxRoot, arg: string): string[] {
  const script = renderLinuxScript(path).replace(/(?<=[\s'"])\/(etc|opt|usr\/lib\/systemd|run\/systemd|usr\/bin|usr\/share)\//g, `${where.root}/$1/`);
  assert.doesNotMatch(script, /[\s'"]\/(etc|opt|usr\/lib|run\/systemd)\//, 'every path the script writes is in the scratch root');
  const run = spawnSync('bash', ['-c', script, path, arg], { encoding: 'utf8', env: { PATH: `${where.bin}:/usr/sbin:/usr/bin:/sbin:/bin`, LOG: where.log } });
  assert.equal(run.status, 0, `${path} ${arg} failed:\n${run.stderr}`);
  const calls = existsSync(where.log) ? readFileSync(where.log, 'utf8').trim().split('\n').filter(Boolean) : [];
  rmSync(where.log, { force: true });
  return calls;
}

const systemctlCalls = (calls: string[]): string[] => calls.filter((c) => c.startsWith('systemctl '));
const UNIT_INSTALLED = 'usr/lib/systemd/system/dta-agent.service';

test('after-install installs the unit, enables it and starts or restarts it (deb configure, rpm 1 and 2)', () => {
  for (const arg of ['configure', '1', '2']) {
    const where = linuxRoot({ systemdRunning: true });
    const calls = runLinuxScript('build/linux/after-install.sh', where, arg);
    assert.deepEqual(systemctlCalls(calls), ['systemctl enable dta-agent.service', 'systemctl daemon-reload', 'systemctl restart dta-agent.service'], `after-install ${arg}`);
    assert.equal(readFileSync(join(where.root, UNIT_INSTALLED), 'utf8'), unitText);
    assert.equal(statSync(join(where.root, UNIT_INSTALLED)).mode & 0o777, 0o644);
    assert.ok(existsSync(join(where.root, 'etc/xdg/autostart/device-trust-agent.desktop')), 'the tray still starts at login');
  }
});

test('after-install without a running systemd (container, chroot, image build) enables the unit and starts nothing', () => {
  const where = linuxRoot({ systemdRunning: false });
  const calls = runLinuxScript('build/linux/after-install.sh', where, 'configure');
  assert.deepEqual(systemctlCalls(calls), ['systemctl enable dta-agent.service']);
  assert.ok(existsSync(join(where.root, UNIT_INSTALLED)));
});

test('after-remove on an upgrade (deb upgrade, rpm 1) leaves the agent, the unit, the link and the autostart alone', () => {
  for (const arg of ['upgrade', 'failed-upgrade', '1']) {
    const where = linuxRoot({ systemdRunning: true });
    runLinuxScript('build/linux/after-install.sh', where, arg === '1' ? '2' : 'configure');
    const calls = runLinuxScript('build/linux/after-remove.sh', where, arg);
    assert.deepEqual(calls, [], `after-remove ${arg} ran ${calls.join('; ')}`);
    assert.ok(existsSync(join(where.root, UNIT_INSTALLED)), `after-remove ${arg} kept the unit`);
    assert.ok(existsSync(join(where.root, 'etc/xdg/autostart/device-trust-agent.desktop')), `after-remove ${arg} kept the autostart entry`);
  }
});

test('after-remove on a real removal (deb remove and purge, rpm 0) stops, disables and deletes the unit', () => {
  for (const arg of ['remove', 'purge', '0']) {
    const where = linuxRoot({ systemdRunning: true });
    runLinuxScript('build/linux/after-install.sh', where, 'configure');
    const calls = runLinuxScript('build/linux/after-remove.sh', where, arg);
    assert.deepEqual(systemctlCalls(calls), ['systemctl stop dta-agent.service', 'systemctl disable dta-agent.service', 'systemctl daemon-reload', 'systemctl reset-failed dta-agent.service'], `after-remove ${arg}`);
    assert.ok(calls.includes(`update-alternatives --remove device-trust-agent ${where.root}/opt/${config.productName}/device-trust-agent`), 'electron-builder\'s own removal still runs');
    assert.ok(!existsSync(join(where.root, UNIT_INSTALLED)), `after-remove ${arg} deleted the unit`);
    assert.ok(!existsSync(join(where.root, 'etc/xdg/autostart/device-trust-agent.desktop')));
  }
});

test('the scripts use only electron-builder\'s macros in ${...} (it refuses any other)', () => {
  for (const path of ['build/linux/after-install.sh', 'build/linux/after-remove.sh']) assert.doesNotThrow(() => renderLinuxScript(path));
});

// ---- macOS ----

const DAEMON_LABEL = 'org.devicetrust.agent.daemon';

test('the LaunchDaemon is a property list that runs the shipped agent at boot and keeps it alive', () => {
  const path = join(ROOT, 'build/mac/org.devicetrust.agent.daemon.plist');
  const daemon = parsePlist(readFileSync(path)) as Record<string, unknown>;
  assert.equal(daemon.Label, DAEMON_LABEL);
  assert.deepEqual(daemon.ProgramArguments, [
    `/Applications/${config.productName}.app/Contents/${shipped(config.mac.extraFiles, 'dta-agent').to}`,
    'agent', '--config', '/Library/Application Support/DeviceTrust/agent.json',
  ]);
  assert.equal(daemon.RunAtLoad, true);
  assert.equal(daemon.KeepAlive, true, 'restarted whenever it exits, not only after a crash');
  assert.ok(typeof daemon.ThrottleInterval === 'number' && daemon.ThrottleInterval >= 1);
  assert.equal(daemon.StandardOutPath, '/Library/Logs/DeviceTrust/agent.log');
  assert.equal(daemon.StandardErrorPath, '/Library/Logs/DeviceTrust/agent.log');
  assert.equal(daemon.UserName, undefined, 'a LaunchDaemon runs as root');
  assert.equal(daemon.LimitLoadToSessionType, undefined, 'it runs with nobody signed in');
  execFileSync('xmllint', ['--noout', path]);
  execFileSync('python3', ['-c', 'import plistlib,sys; plistlib.load(open(sys.argv[1],"rb"))', path]);
});

test('pkg.scripts resolves, as electron-builder resolves it (against build/), to the folder with postinstall', () => {
  // app-builder-lib targets/pkg.js resolveScriptsDir: path.resolve(buildResourcesDir, scripts).
  const scripts = resolve(join(ROOT, config.directories.buildResources), config.pkg.scripts);
  assert.ok(existsSync(join(scripts, 'postinstall')), `${scripts} has no postinstall: pkgbuild would get no scripts`);
  assert.equal(scripts, join(ROOT, 'build/mac/pkg-scripts'));
});

function runPostinstall(targetVolume: string): { installs: string[]; launchctl: string[] } {
  const dir = scratchDir('mac');
  const bin = fakeTools(dir, ['install']);
  // `launchctl print` says the daemon is not loaded, so the wait after bootout ends at once.
  writeFileSync(join(bin, 'launchctl'), '#!/bin/sh\necho "launchctl $*" >> "$LOG"\n[ "$1" != print ]\n');
  writeFileSync(join(bin, 'stat'), '#!/bin/sh\necho nurse.alice\n'); // the console user
  writeFileSync(join(bin, 'id'), '#!/bin/sh\necho 501\n');
  for (const tool of ['launchctl', 'stat', 'id']) chmodSync(join(bin, tool), 0o755);
  const script = read('build/mac/pkg-scripts/postinstall')
    .replaceAll('/bin/launchctl', join(bin, 'launchctl'))
    .replaceAll('/usr/bin/install', join(bin, 'install'))
    .replaceAll('/usr/bin/stat', join(bin, 'stat'))
    .replaceAll('/usr/bin/id', join(bin, 'id'));
  const log = join(dir, 'calls.log');
  const run = spawnSync('sh', ['-c', script, 'postinstall', '/tmp/DeviceTrustAgent.pkg', '/Applications', targetVolume, '/'], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', LOG: log } });
  assert.equal(run.status, 0, run.stderr);
  const calls = readFileSync(log, 'utf8').trim().split('\n');
  return { installs: calls.filter((c) => c.startsWith('install ')), launchctl: calls.filter((c) => c.startsWith('launchctl ')) };
}

test('the pkg postinstall installs the LaunchDaemon and restarts it on the new version, then the tray for the signed-in person', () => {
  const { installs, launchctl } = runPostinstall('/');
  const app = `/Applications/${config.productName}.app/Contents/Resources`;
  assert.ok(installs.includes(`install -m 0644 -o root -g wheel ${app}/build/mac/${DAEMON_LABEL}.plist /Library/LaunchDaemons/${DAEMON_LABEL}.plist`), installs.join('\n'));
  assert.ok(installs.includes('install -d -m 0700 -o root -g wheel /Library/Application Support/DeviceTrust'), 'the data folder is root\'s alone');
  assert.ok(installs.some((c) => c.startsWith('install -d ') && c.endsWith(' /Library/Logs/DeviceTrust')), 'launchd needs the log folder');
  assert.deepEqual(launchctl, [
    `launchctl bootout system/${DAEMON_LABEL}`,
    `launchctl print system/${DAEMON_LABEL}`,
    `launchctl enable system/${DAEMON_LABEL}`,
    `launchctl bootstrap system /Library/LaunchDaemons/${DAEMON_LABEL}.plist`,
    `launchctl kickstart -k system/${DAEMON_LABEL}`,
    'launchctl bootout gui/501 /Library/LaunchAgents/org.devicetrust.agent.plist',
    'launchctl bootstrap gui/501 /Library/LaunchAgents/org.devicetrust.agent.plist',
  ]);
});

test('the pkg postinstall on another volume (an image being prepared) puts the files there and starts nothing', () => {
  const { installs, launchctl } = runPostinstall('/Volumes/Golden Image');
  assert.deepEqual(launchctl, []);
  assert.ok(installs.some((c) => c.endsWith(`/Volumes/Golden Image/Library/LaunchDaemons/${DAEMON_LABEL}.plist`)), installs.join('\n'));
  assert.ok(installs.every((c) => c.includes('/Volumes/Golden Image/')), installs.join('\n'));
});

// ---- Windows ----

interface MsiHook {
  addRunAtLogin(wxs: string): string;
  addSystemService(wxs: string): string;
  serviceArguments(app: string, data: string): string;
  SERVICE_NAME: string;
}
const hook = require(join(ROOT, 'build/win/msi-project-created.cjs')) as MsiHook;

/** electron-builder's own WiX project (MsiTarget.writeManifest) for an app folder holding `files`. */
async function electronBuilderWix(files: string[]): Promise<string> {
  const appOutDir = scratchDir('win-unpacked');
  for (const file of files) {
    mkdirSync(dirname(join(appOutDir, file)), { recursive: true });
    writeFileSync(join(appOutDir, file), '');
  }
  require('app-builder-lib'); // loads its modules in the order MsiTarget's imports expect
  const MsiTarget = (require('app-builder-lib/out/targets/MsiTarget.js') as { default: new (packager: unknown, outDir: string) => { options: unknown; writeManifest(appOutDir: string, arch: number, options: unknown): Promise<string> } }).default;
  const { getEffectiveOptions } = require('app-builder-lib/out/options/CommonWindowsInstallerConfiguration.js') as { getEffectiveOptions: (options: unknown, packager: unknown) => unknown };
  const { Arch } = require('builder-util') as { Arch: { x64: number } };
  const full = parse(readFileSync(join(ROOT, 'electron-builder.yml'), 'utf8')) as Record<string, unknown>;
  const appInfo = { productFilename: config.productName, productName: config.productName, sanitizedProductName: config.productName, id: full.appId, companyName: 'Device Trust contributors', description: '', getVersionInWeirdWindowsForm: () => '0.1.0.0' };
  const packager = { appInfo, platformSpecificBuildOptions: full.win, config: full, getIconPath: () => Promise.resolve(null), compression: 'normal', fileAssociations: [], expandMacro: (s: string) => s };
  const target = new MsiTarget(packager, scratchDir('msi-out'));
  return target.writeManifest(appOutDir, Arch.x64, getEffectiveOptions(target.options, packager));
}

const WIN_APP_FILES = [`${config.productName}.exe`, ...config.win.extraFiles.map((f) => f.to), 'vulkan-1.dll', 'resources/app.asar'];

/** xmllint's answer to an XPath over the WiX project (namespaces matched by local name). */
function xpath(wxsPath: string, expression: string): string {
  return execFileSync('xmllint', ['--xpath', expression, wxsPath], { encoding: 'utf8' }).trim();
}
const el = (name: string): string => `*[local-name()='${name}']`;

test('the MSI installs the agent as an automatic LocalSystem service, with SCM recovery, stopped and started around installs', async () => {
  const wxs = hook.addSystemService(hook.addRunAtLogin(await electronBuilderWix(WIN_APP_FILES)));
  const path = join(scratchDir('wix'), 'project.wxs');
  writeFileSync(path, wxs);
  execFileSync('xmllint', ['--noout', path]);

  const service = `//${el('Component')}[${el('File')}[@Name='DeviceTrustAgentService.exe' and @KeyPath='yes']]/${el('ServiceInstall')}`;
  assert.equal(xpath(path, `count(${service})`), '1', 'ServiceInstall sits in the component whose key path is the service host');
  for (const [attribute, expected] of [['Name', hook.SERVICE_NAME], ['Start', 'auto'], ['Account', 'LocalSystem'], ['Type', 'ownProcess'], ['ErrorControl', 'normal'], ['Vital', 'yes']]) {
    assert.equal(xpath(path, `string(${service}/@${attribute})`), expected, `ServiceInstall/@${attribute}`);
  }
  const args = xpath(path, `string(${service}/@Arguments)`);
  assert.equal(args, hook.serviceArguments('[APPLICATIONFOLDER]', '[CommonAppDataFolder]'));
  assert.match(args, /^run .*--restart .*-- "\[APPLICATIONFOLDER\]dta-agent\.exe" agent --config "\[CommonAppDataFolder\]DeviceTrust\\agent\.json"$/);
  assert.doesNotMatch(args, /\\"/, 'no quoted path ends in a backslash');

  const recovery = `${service}/*[local-name()='ServiceConfig' and namespace-uri()='http://wixtoolset.org/schemas/v4/wxs/util']`;
  for (const n of ['First', 'Second', 'Third']) assert.equal(xpath(path, `string(${recovery}/@${n}FailureActionType)`), 'restart', `${n} failure restarts`);
  assert.match(xpath(path, `string(${recovery}/@RestartServiceDelayInSeconds)`), /^\d+$/);
  assert.ok(config.msi.additionalWixArgs?.join(' ').includes('-ext WixUtilExtension'), 'candle and light load WixUtilExtension for util:ServiceConfig');

  const control = `//${el('Component')}[${el('ServiceInstall')}]/${el('ServiceControl')}`;
  for (const [attribute, expected] of [['Name', hook.SERVICE_NAME], ['Start', 'install'], ['Stop', 'both'], ['Remove', 'uninstall'], ['Wait', 'yes']]) {
    assert.equal(xpath(path, `string(${control}/@${attribute})`), expected, `ServiceControl/@${attribute}`);
  }

  assert.equal(xpath(path, `string(//${el('Directory')}[@Id='TARGETDIR']/${el('Directory')}[@Id='CommonAppDataFolder']/${el('Directory')}/@Name)`), 'DeviceTrust');
  assert.match(xpath(path, `string(//${el('CreateFolder')}/${el('PermissionEx')}/@Sddl)`), /^D:P/, 'the data folder\'s DACL is protected: nothing inherited from ProgramData');
  assert.equal(hook.addSystemService(wxs), wxs, 'idempotent');
});

test('the MSI hook refuses a project without the service host or the agent (a release must not ship a service with nothing to run)', async () => {
  assert.throws(() => hook.addSystemService(hook.addRunAtLogin(readFileSync(require.resolve('app-builder-lib/templates/msi/template.xml'), 'utf8'))), /DeviceTrustAgentService\.exe/);
  const withoutAgent = await electronBuilderWix(WIN_APP_FILES.filter((f) => f !== 'dta-agent.exe'));
  assert.throws(() => hook.addSystemService(withoutAgent), /dta-agent\.exe/);
});

const nsh = read('build/win/installer.nsh');
const macro = (name: string): string => new RegExp(`!macro ${name}\\n([\\s\\S]*?)!macroend`).exec(nsh)?.[1] ?? '';

test('the NSIS installer creates the same service with sc.exe: automatic, LocalSystem, restarted on failure, started', () => {
  const install = macro('customInstall');
  const command = /StrCpy \$R1 `([^`]+)`/.exec(install)?.[1];
  assert.equal(command, `"$INSTDIR\\DeviceTrustAgentService.exe" ${hook.serviceArguments('$INSTDIR\\', '$R0\\')}`, 'the NSIS service runs what the MSI service runs');
  assert.match(install, /sc\.exe" create DeviceTrustAgent binPath= "\$R1" start= auto obj= LocalSystem/);
  assert.match(install, /sc\.exe" config DeviceTrustAgent binPath= "\$R1" start= auto obj= LocalSystem/, 'an existing service is reconfigured');
  assert.match(install, /sc\.exe" failure DeviceTrustAgent reset= \d+ actions= restart\/\d+\/restart\/\d+\/restart\/\d+`/);
  assert.match(install, /sc\.exe" start DeviceTrustAgent`/);
  assert.ok(install.indexOf(' failure ') < install.indexOf(' start DeviceTrustAgent'), 'recovery is set before it starts');
  const uninstall = macro('customUnInstall');
  assert.match(uninstall, /net\.exe" stop DeviceTrustAgent`/, 'stopped (and waited for) before its files go');
  assert.match(uninstall, /\$\{ifNot\} \$\{isUpdated\}\s+nsExec::ExecToLog `"\$SYSDIR\\sc\.exe" delete DeviceTrustAgent`/, 'deleted only on a real uninstall');
});

test('the NSIS include compiles with makensis -WX, in the installer and in the uninstaller', () => {
  const dir = scratchDir('nsis');
  // electron-builder defines isUpdated (the --updated option) as a LogicLib test; a stand-in here.
  writeFileSync(join(dir, 'harness.nsi'), [
    'Unicode true', '!include LogicLib.nsh',
    '!macro _isUpdated _a _b _t _f', '  StrCmp "$CMDLINE" "--updated" `${_t}` `${_f}`', '!macroend', '!define isUpdated `"" isUpdated ""`',
    'Name "harness"', 'OutFile "${OUT}"', 'RequestExecutionLevel user', `!include "${join(ROOT, 'build/win/installer.nsh')}"`,
    '!ifdef BUILD_UNINSTALLER',
    'Section "-write"', '  WriteUninstaller "$TEMP\\harness-uninstall.exe"', 'SectionEnd',
    'Section "un.uninstall"', '  !insertmacro customUnInstall', 'SectionEnd',
    '!else',
    'Section "install"', '  StrCpy $INSTDIR "C:\\Program Files\\Device Trust Agent"', '  !insertmacro customInstall', 'SectionEnd',
    '!endif', '',
  ].join('\n'));
  for (const variant of [[], ['-DBUILD_UNINSTALLER']]) {
    const run = spawnSync('makensis', ['-WX', '-V2', ...variant, `-DOUT=${join(dir, 'out.exe')}`, join(dir, 'harness.nsi')], { encoding: 'utf8' });
    assert.ifError(run.error); // makensis comes with Debian's nsis package (scripts/setup.sh)
    assert.equal(run.status, 0, `makensis ${variant.join(' ')}:\n${run.stdout}${run.stderr}`);
  }
});
