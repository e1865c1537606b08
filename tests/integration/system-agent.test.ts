// The system agent for real on Linux: run as root as its systemd unit would (inside a
// network namespace with its own nftables firewall and its own service), with a root-only
// key file; two ordinary local accounts run `dta status --json` and the tray's client at
// the same time. One device, one enrolment, the same state for both, the key unreadable to
// them, and a firewall turned off reaches both within seconds.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { NetNamespace } from '../kit/netns.js';
import { waitUntil } from '../kit/wait.js';
import { spawnService } from '../kit/service-process.js';

const ROOT = join(import.meta.dirname, '..', '..');
const USERS = ['dtanurse1', 'dtanurse2'];
const PORT = 18_000 + (process.pid % 2000);

let ns: NetNamespace;
let work: string;
let service: ChildProcess;
let agent: ChildProcess;
const agentLines: Record<string, unknown>[] = [];
let ipcPath: string;
let serviceDir: string;
let dataDir: string;

function sh(argv: string[], input?: string): string {
  return execFileSync(argv[0] ?? '', argv.slice(1), { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
}
function asUser(user: string, argv: string[]): ChildProcess {
  const command = argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return spawn('su', ['-s', '/bin/bash', user, '-c', `cd '${ROOT}' && ${command}`], { stdio: ['ignore', 'pipe', 'pipe'] });
}
function output(child: ChildProcess, live?: { out: string }): Promise<{ out: string; err: string; code: number | null }> {
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
    if (live) live.out = out;
  });
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ out, err, code })));
}
before(async () => {
  assert.equal(process.getuid?.(), 0, 'this test runs as root (as CI does): the system agent is root and the test makes local accounts');
  for (const user of USERS) {
    try {
      sh(['id', user]);
    } catch {
      sh(['useradd', '--no-create-home', '--shell', '/usr/sbin/nologin', user]);
    }
  }
  work = mkdtempSync(join(tmpdir(), 'dta-system-'));
  chmodSync(work, 0o755);
  ns = NetNamespace.create('dta-sys');
  ns.exec(['ip', 'link', 'set', 'lo', 'up']);
  ns.nft('table inet filter {\n chain input {\n  type filter hook input priority 0; policy drop;\n  ct state established,related accept\n  iif "lo" accept\n }\n}');

  serviceDir = join(work, 'service');
  const started = spawnService(['--init', serviceDir, '--port', String(PORT)], { netns: ns.name, capture: true });
  service = started.child;
  const serviceLog = (): string => started.log();
  await waitUntil('the service', () => /Server listening/.test(serviceLog()), 90_000, () => serviceLog().slice(-500));
  // This machine's disk is not encrypted: give that check grace (as the demo does), so the
  // device starts with full access and the firewall decides the block.
  const policyPath = join(serviceDir, 'policy.yaml');
  writeFileSync(policyPath, readFileSync(policyPath, 'utf8').replace('version: 1', 'version: 2').replace(/disk-encryption: 0\b/, 'disk-encryption: 720'));
  await waitUntil('the policy edit', () => /policy applied/.test(serviceLog()), 10_000, () => serviceLog().slice(-500));

  dataDir = join(work, 'agent-data');
  ipcPath = join(work, 'run', 'dta', 'agent.sock');
  const config = join(work, 'agent.json');
  writeFileSync(config, JSON.stringify({
    serviceUrl: `http://127.0.0.1:${PORT}`,
    enrolmentSecret: readFileSync(join(serviceDir, 'enrolment-secret.txt'), 'utf8').trim(),
    dataDir,
    keyStorage: 'file',
    ipcPath,
    loopbackPort: 0,
    cadence: { fastSeconds: 1, fullSeconds: 120 },
  }), { mode: 0o600 });
  // As the unit runs it: root, no person's session, no keyring.
  agent = spawn('ip', ['netns', 'exec', ns.name, process.execPath, '--import', 'tsx', join(ROOT, 'main', 'agent', 'cli.ts'), 'agent', '--config', config, '--json'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/root' } });
  let partial = '';
  agent.stdout?.on('data', (d: Buffer) => {
    partial += d.toString();
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) if (l.trim()) agentLines.push(JSON.parse(l) as Record<string, unknown>);
  });
  agent.stderr?.on('data', (d: Buffer) => agentLines.push({ stderr: d.toString() }));
  await waitUntil('the agent to attest', () => agentLines.some((l) => l.state === 'compliant' || l.state === 'warning' || l.state === 'blocked'), 60_000, () => JSON.stringify(agentLines.slice(-5)));
});

after(() => {
  agent?.kill('SIGTERM');
  service?.kill('SIGTERM');
  ns?.delete();
  for (const user of USERS) {
    try {
      sh(['userdel', user]);
    } catch {
      // already gone
    }
  }
  rmSync(work, { recursive: true, force: true });
});

test('two ordinary accounts see the same machine agent at once; one device, one enrolment; a firewall turned off reaches both within seconds', { timeout: 180_000 }, async () => {
  // The trays watch until they see the block (at most two minutes: a busy CI machine starts
  // each `su` + node slowly, so the test counts calls, not seconds).
  const live = USERS.map(() => ({ out: '' }));
  const trays = USERS.map((u, i) => output(asUser(u, [process.execPath, '--import', 'tsx', join(ROOT, 'tests', 'kit', 'tray-client.ts'), ipcPath, '120', 'blocked']), live[i]));
  // Meanwhile each account runs `dta status --json` three times.
  const statuses: Record<string, unknown>[][] = USERS.map(() => []);
  const polling = USERS.map(async (u, i) => {
    for (let call = 0; call < 3; call++) {
      const r = await output(asUser(u, [process.execPath, join(ROOT, 'bin', 'dta.mjs'), 'status', '--ipc', ipcPath, '--json']));
      assert.ok(r.code === 0 || r.code === 1, `dta status as ${u}: exit ${r.code}: ${r.err}`);
      statuses[i]?.push(JSON.parse(r.out) as Record<string, unknown>);
    }
  });
  await Promise.all(polling);
  for (const list of statuses) {
    assert.ok(list.length >= 2, 'several status calls per account');
    for (const s of list) {
      assert.ok(s.state === 'compliant' || s.state === 'warning', JSON.stringify(s));
      assert.equal(s.tier, 'full');
      assert.equal(s.keyProtection, 'software');
      assert.match(String(s.deviceId), /^[0-9a-f]{32}$/);
      assert.ok(!('token' in s));
    }
  }
  assert.equal(statuses[0]?.[0]?.deviceId, statuses[1]?.[0]?.deviceId, 'both accounts see the same device');

  // The firewall goes off once both trays watch.
  await waitUntil('both trays to show the device', () => live.every((l) => /"link":"connected","state":"(compliant|warning)"/.test(l.out)), 60_000, () => JSON.stringify(live));
  const offAt = Date.now();
  ns.exec(['nft', 'flush', 'ruleset']);
  const results = await Promise.all(trays);
  const seen = results.map((r) => r.out.split('\n').filter((l) => l).map((l) => JSON.parse(l) as { at: number; link: string; state: string; deviceId: string | null }));
  for (const [i, lines] of seen.entries()) {
    assert.ok(lines.some((l) => l.link === 'connected' && (l.state === 'compliant' || l.state === 'warning')), `tray ${i} saw the device with access: ${results[i]?.err ?? ''}`);
    const blocked = lines.find((l) => l.at >= offAt && l.state === 'blocked');
    assert.ok(blocked, `tray ${i} saw the block: ${JSON.stringify(lines.slice(-3))}`);
    const ms = blocked.at - offAt;
    assert.ok(ms < 10_000, `tray ${i} saw it after ${ms} ms`);
    process.stdout.write(`# tray of ${USERS[i]}: firewall off -> blocked shown after ${ms} ms\n`);
  }

  // One device in the service, one enrolment, no re-enrolment.
  const db = new Database(join(serviceDir, 'service.db'), { readonly: true });
  try {
    assert.equal((db.prepare('SELECT count(*) AS n FROM devices').get() as { n: number }).n, 1);
    const actions = (db.prepare('SELECT action, outcome FROM audit').all() as { action: string; outcome: string }[]);
    assert.equal(actions.filter((a) => a.action === 'enrol' && a.outcome === 'ok').length, 1, JSON.stringify(actions.filter((a) => a.action !== 'attest')));
    assert.equal(actions.filter((a) => a.action.startsWith('re-enrol') || a.action.startsWith('enrol.rekey')).length, 0);
  } finally {
    db.close();
  }
});

test('without a TPM the device key is a root-only file the signed-in people can neither read nor use', () => {
  const keys = join(dataDir, 'keys');
  assert.equal(statSync(keys).mode & 0o777, 0o700);
  const files = readdirSync(keys).filter((f) => f.endsWith('.key'));
  assert.equal(files.length, 1, files.join(','));
  const file = join(keys, files[0] ?? '');
  const st = statSync(file);
  assert.equal(st.uid, 0);
  assert.equal(st.mode & 0o777, 0o600);
  for (const user of USERS) {
    assert.throws(() => sh(['su', '-s', '/bin/bash', user, '-c', `cat '${file}'`]), 'an ordinary account cannot read the key');
    assert.throws(() => sh(['su', '-s', '/bin/bash', user, '-c', `ls '${keys}'`]), 'nor list the key folder');
  }
  // The IPC offers no signing at all: an ordinary account asking for it gets a typed refusal.
  const answer = sh(['su', '-s', '/bin/bash', USERS[0] ?? '', '-c', `printf '%s\\n' '{"v":1,"id":1,"method":"sign"}' | timeout 2 ${process.execPath} -e "const s=require('net').createConnection(process.argv[1]);process.stdin.pipe(s);s.on('data',d=>{process.stdout.write(d);s.end()})" '${ipcPath}'`]);
  assert.match(answer, /IPC_MALFORMED/);
  assert.ok(existsSync(ipcPath));
});
