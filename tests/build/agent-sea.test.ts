// The system agent as it ships: scripts/build-agent.ts builds the Node.js single executable
// once here (bundle, SEA blob, copy of this Node.js, postject), and the tests run that
// executable as the service would, against the real service on loopback.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, linkSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PostureReportSchema } from '../../common/posture.js';
import { isValid } from '../../common/validate.js';
import { DEFAULT_POLICY_YAML } from '../../service/policy/policy-schema.js';
import { LINUX_POLICY_DIR } from '../../main/config/config-sources.js';
import { buildAgent, type AgentBuild } from '../../scripts/build-agent.js';
import { runToEnd, type ChildOutput } from '../kit/child-output.js';
import { OS_PATCH_TIERS_POLICY, supportEndedEntry } from '../kit/os-patch-tiers.js';
import { startTestService, type TestService } from '../kit/service.js';
import { tempFolderPath } from '../kit/temp-folder.js';
import { waitUntil } from '../kit/wait.js';

const ROOT = join(import.meta.dirname, '..', '..');
const PACKAGE_VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
// As a service runs it: no NODE_OPTIONS or anything else of the test runner's environment.
const SERVICE_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', LANG: 'C.UTF-8' };

const work = tempFolderPath('dta-agent-sea-');
let built: AgentBuild;
/** The services the two tests that run the agent against the real service use: one each. */
let attestService: TestService | undefined;
let policyService: TestService | undefined;

// The build mostly waits for postject, one process on one core: the services start meanwhile.
before(async () => {
  const [build, attest, policy] = await Promise.allSettled([
    buildAgent({ outDir: join(work, 'out') }),
    // This machine's disk is not encrypted: give that check grace, as the demo does.
    startTestService({ policyYaml: DEFAULT_POLICY_YAML.replace('disk-encryption: 0', 'disk-encryption: 720') }),
    startTestService({ policyYaml: OS_PATCH_TIERS_POLICY }),
  ]);
  if (attest.status === 'fulfilled') attestService = attest.value;
  if (policy.status === 'fulfilled') policyService = policy.value;
  for (const started of [build, attest, policy]) if (started.status === 'rejected') throw started.reason;
  if (build.status === 'fulfilled') built = build.value;
});

after(async () => {
  await Promise.all([attestService?.close(), policyService?.close()]);
});

/** Runs the executable to its end (a minute at most): its exit code and what it printed. */
function runAgent(binary: string, args: readonly string[], env: Record<string, string> = SERVICE_ENV): Promise<ChildOutput> {
  return runToEnd(binary, args, { env, timeoutMs: 60_000 });
}

interface RunningAgent {
  /** Its JSON lines on stdout so far. */
  readonly lines: Record<string, unknown>[];
  /** The last lines and stderr, for a failure's message. */
  readonly detail: () => string;
  /** SIGTERM, then its exit code (at once if it already ended). */
  stop(): Promise<number | null>;
}

/** `dta-agent agent --config F --json` as a service runs it (`argv` may put it inside a wrapper), its JSON lines collected. */
function startAgent(file: string, args: readonly string[]): RunningAgent {
  const agent = spawn(file, [...args], { env: SERVICE_ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => agent.once('exit', (code) => resolve(code)));
  const lines: Record<string, unknown>[] = [];
  let partial = '';
  let stderr = '';
  agent.stdout.on('data', (d: Buffer) => {
    partial += d.toString();
    const complete = partial.split('\n');
    partial = complete.pop() ?? '';
    for (const l of complete) if (l.trim() !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
  });
  agent.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return {
    lines,
    detail: () => `${JSON.stringify(lines.slice(-3))} ${stderr.slice(-500)}`,
    stop() {
      if (agent.exitCode === null && agent.signalCode === null) agent.kill('SIGTERM');
      return exited;
    },
  };
}

// The tests share the one build and each works in folders (and with a service) of its own, so
// they run side by side: mostly they wait for the executable.
describe('the agent as a single executable', { concurrency: true }, () => {
  test('the executable is one file beside its optional keytar.node, and says the version in package.json', async () => {
    assert.equal(built.binary, join(work, 'out', process.arch, 'dta-agent'), "electron-builder.yml's extraFiles take out/agent/${arch}/dta-agent");
    assert.deepEqual(built.nativeModules, [join(work, 'out', process.arch, 'keytar.node'), join(work, 'out', process.arch, 'quickjs.wasm')]);
    const r = await runAgent(built.binary, ['--version']);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, `${PACKAGE_VERSION}\n`);
    assert.equal(r.err, '', 'no experimental-feature warning or other noise');
  });

  test('`dta-agent posture --json` runs the real probes and prints a schema-valid report', async () => {
    const r = await runAgent(built.binary, ['posture', '--json']);
    assert.ok(r.code === 0 || r.code === 1, `exit ${r.code}: ${r.err}`);
    const report: unknown = JSON.parse(r.out);
    assert.ok(isValid(PostureReportSchema, report), r.out.slice(0, 500));
    assert.equal(report.platform, 'linux');
    const ids = report.checks.map((c) => c.id);
    for (const id of ['os-patch', 'disk-encryption', 'firewall']) assert.ok(ids.includes(id as (typeof ids)[number]), `${id} in ${ids.join(', ')}`);
    // Real probes ran: at least one check judged facts read from this machine.
    assert.ok(report.checks.some((c) => c.verdict !== 'unknown'), JSON.stringify(report.checks.map((c) => [c.id, c.verdict, c.reason])));
  });

  test('NODE_OPTIONS does not reach the agent: it refuses to run with a typed error, and command-line Node.js options are plain arguments', async () => {
    const preload = join(work, 'preload.cjs');
    const marker = join(work, 'preload-ran');
    writeFileSync(preload, `require('node:fs').writeFileSync(${JSON.stringify(marker)}, 'ran');\n`);
    const viaEnv = await runAgent(built.binary, ['posture', '--json'], { ...SERVICE_ENV, NODE_OPTIONS: `--require=${preload}` });
    assert.equal(viaEnv.code, 2);
    assert.equal(viaEnv.out, '', 'no posture, no output: the agent did not go on');
    assert.match(viaEnv.err, /^dta-agent: CONFIG_INVALID: NODE_OPTIONS is set/);
    // Node.js 20 has run the preload before the agent's first line (docs/system-agent.md says
    // so); what the agent controls is that it does not go on in such a process.
    rmSync(marker, { force: true });

    const viaArgs = await runAgent(built.binary, [`--require=${preload}`, '--version']);
    assert.equal(existsSync(marker), false, 'a --require on the command line is not a Node.js option to a single executable');
    assert.equal(viaArgs.code, 2);
    assert.match(viaArgs.err, /USAGE: Unknown command "--require=/);
  });

  test('without keytar.node the agent runs, and only the OS keystore is unavailable (typed), not a crash', async () => {
    const alone = join(work, 'alone');
    mkdirSync(alone);
    const binary = join(alone, 'dta-agent');
    // The same file under a second name (no 100 MB copy): the executable looks beside the name it
    // was started by, and here no keytar.node is.
    linkSync(built.binary, binary);
    const dataDir = join(work, 'keytar-data');
    const config = join(work, 'keytar-agent.json');
    // An unreachable service: the keystore is opened before the service is asked anything.
    writeFileSync(config, JSON.stringify({ serviceUrl: 'http://127.0.0.1:9', dataDir, keyStorage: 'os-keystore' }), { mode: 0o600 });
    const withoutNative = await runAgent(binary, ['token', '--config', config, '--audience', 'ehr']);
    assert.equal(withoutNative.code, 2, withoutNative.err);
    assert.match(withoutNative.err, /^dta: KEYSTORE_UNAVAILABLE: No token: .*keystore library could not be loaded/);

    const posture = await runAgent(binary, ['--version']);
    assert.equal(posture.code, 0, 'the rest of the agent still runs without keytar.node');

    // Beside the built executable keytar.node loads: what remains is the keystore itself (a
    // service has no session bus, so no Secret Service), never the library.
    const withNative = await runAgent(built.binary, ['token', '--config', config, '--audience', 'ehr']);
    assert.doesNotMatch(withNative.err, /could not be loaded/);
  });

  test('`dta-agent agent --config F` enrols and attests against the real service; `dta-agent status --json` shows its state', { timeout: 120_000 }, async (t) => {
    const service = attestService ?? assert.fail('the service did not start');
    const dataDir = join(work, 'agent-data');
    const ipcPath = join(work, 'run', 'agent.sock');
    const config = join(work, 'agent.json');
    writeFileSync(config, JSON.stringify({ serviceUrl: service.url, enrolmentSecret: service.enrolmentSecret, dataDir, keyStorage: 'file', ipcPath, loopbackPort: 0, cadence: { fastSeconds: 5, fullSeconds: 120 } }), { mode: 0o600 });

    const agent = startAgent(built.binary, ['agent', '--config', config, '--json']);
    t.after(() => agent.stop());
    const { lines } = agent;
    const attested = (): Record<string, unknown> | undefined => lines.findLast((l) => l.state === 'compliant' || l.state === 'warning' || l.state === 'blocked');
    await waitUntil('the executable to enrol and attest', () => attested() !== undefined, 60_000, agent.detail);
    assert.ok(lines.some((l) => l.event === 'listening' && l.ipc === ipcPath), JSON.stringify(lines));

    const status = await runAgent(built.binary, ['status', '--ipc', ipcPath, '--json']);
    assert.ok(status.code === 0 || status.code === 1, status.err);
    const s = JSON.parse(status.out) as Record<string, unknown>;
    assert.equal(s.state, attested()?.state);
    assert.match(String(s.deviceId), /^[0-9a-f]{32}$/);
    assert.equal(s.keyProtection, 'software');
    assert.equal(s.keyStorage, 'file');
    assert.equal(s.serviceUrl, service.url);
    assert.equal(s.agentVersion, PACKAGE_VERSION);

    const enrolments = (await service.audit()).filter((r) => r.deviceId === s.deviceId && r.action === 'enrol' && r.outcome === 'ok');
    assert.equal(enrolments.length, 1, JSON.stringify(enrolments));

    assert.equal(await agent.stop(), 0, 'SIGTERM (systemd, launchd) stops it cleanly');
    assert.equal(existsSync(ipcPath), false, 'its socket is gone');
  });

  test('IT makes the posture policy stricter while the executable runs: the renamed policy file lowers its tier within seconds, no restart', { timeout: 120_000 }, async (t) => {
    assert.equal(process.getuid?.(), 0, 'this test runs as root (as CI does): the system agent is root, and the test mounts in a namespace of its own');
    const service = policyService ?? assert.fail('the service did not start');
    const dir = join(work, 'policy-run');
    const policies = join(dir, 'managed');
    mkdirSync(policies, { recursive: true });
    mkdirSync(join(dir, 'etc-upper'));
    const config = join(dir, 'agent.json');
    const ipcPath = join(dir, 'agent.sock');
    writeFileSync(config, JSON.stringify({ serviceUrl: service.url, enrolmentSecret: service.enrolmentSecret, dataDir: join(dir, 'data'), keyStorage: 'file', ipcPath, loopbackPort: 0, cadence: { fastSeconds: 600, fullSeconds: 3600 } }), { mode: 0o600 });
    // The agent reads /etc/device-trust/policies/managed: in a mount namespace of its own, /etc
    // is this machine's under a throw-away overlay, with that folder bound to the test's.
    const mounts = [
      'mount -t tmpfs tmpfs "$0/etc-upper"',
      'mkdir "$0/etc-upper/u" "$0/etc-upper/w"',
      'mount -t overlay overlay -o "lowerdir=/etc,upperdir=$0/etc-upper/u,workdir=$0/etc-upper/w" /etc',
      `mkdir -p ${LINUX_POLICY_DIR}`,
      `mount --bind "$0/managed" ${LINUX_POLICY_DIR}`,
      'exec "$@"',
    ].join(' && ');
    const agent = startAgent('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', mounts, dir, built.binary, 'agent', '--config', config, '--json']);
    t.after(() => agent.stop());
    const { lines } = agent;
    const tiers = (): unknown[] => lines.filter((l) => 'tier' in l && l.tier !== null).map((l) => l.tier);
    await waitUntil('the first attestation', () => tiers().length > 0, 60_000, agent.detail);
    assert.deepEqual(tiers(), ['full'], JSON.stringify(lines));

    // As configuration management does: a whole new file renamed into the folder.
    const changedAt = performance.now();
    writeFileSync(join(policies, '.policy.json.new'), JSON.stringify({ postureSupportData: [supportEndedEntry()] }));
    renameSync(join(policies, '.policy.json.new'), join(policies, 'policy.json'));
    await waitUntil('the stricter policy to reach the token', () => tiers().includes('limited'), 30_000, agent.detail);
    t.diagnostic(`policy file renamed to a lower tier in ${((performance.now() - changedAt) / 1000).toFixed(1)} s`);

    const status = JSON.parse((await runAgent(built.binary, ['status', '--ipc', ipcPath, '--json'])).out) as Record<string, unknown>;
    assert.equal(status.tier, 'limited');
    const log = readFileSync(join(dir, 'data', 'logs', 'agent.log'), 'utf8');
    assert.match(log, /"event":"managed-policy-changed".*"setting":"postureSupportData","from":"0 entries","to":"1 entries"/);
  });
});
