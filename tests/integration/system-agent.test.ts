// The system agent for real on Linux: run as root as its systemd unit would (inside a
// network namespace with its own nftables firewall and its own service), with a root-only
// key file; two ordinary local accounts run `dta status --json` and the tray's client at
// the same time. One device, one enrolment, the same state for both, the key unreadable to
// them, and a firewall turned off reaches both within seconds. The one loopback listener of
// the machine serves both accounts' web pages. The scene is tests/kit/shared-machine.ts
// (scripts/shared-machine-soak.ts runs the same for minutes).
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { createRelyingParty } from '../../service/relying-party/index.js';
import type { SharedMachine } from '../kit/shared-machine.js';
import { ROOT, sh, startSharedMachine } from '../kit/shared-machine.js';
import { output } from '../kit/child-output.js';
import { spawn } from 'node:child_process';
import { waitUntil } from '../kit/wait.js';
import { agentCli } from '../kit/hanging-tools.js';

const ORIGIN = 'https://ehr.example';
const AUDIENCE = 'patient-records';
const RECORDS = 'https://records.example/';

let m: SharedMachine;
let USERS: readonly string[] = [];
let ipcPath: string;
let dataDir: string;
/** `dta` as the executable carries it: through tsx each call as a person took seconds on a busy machine. */
let DTA: readonly string[] = [];
const asUser = (user: string, argv: string[]): ReturnType<SharedMachine['asUser']> => m.asUser(user, argv);
const spawnAsRoot = (argv: string[]): ReturnType<typeof spawn> => spawn(argv[0] ?? '', argv.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });

before(async () => {
  assert.equal(process.getuid?.(), 0, 'this test runs as root (as CI does): the system agent is root and the test makes local accounts');
  // The bundle is built while the machine starts (a failed build is reported below, once the
  // machine is in `m` for after() to close).
  const bundling = agentCli();
  bundling.catch(() => undefined);
  m = await startSharedMachine({ allowedOrigins: { [ORIGIN]: [AUDIENCE] }, accessServices: { [AUDIENCE]: [RECORDS] } });
  DTA = await bundling;
  chmodSync(dirname(DTA[1] ?? ''), 0o755); // the signed-in people run it too
  USERS = m.users;
  ipcPath = m.ipcPath;
  dataDir = m.dataDir;
});

after(() => m?.close());

/** A device token and proof for RECORDS, asked for by `user` from the machine's loopback endpoint as a page of ORIGIN would. */
async function tokenAs(user: string, htu: string): Promise<{ status: number; body: { token?: string; dpop?: string; tier?: string; error?: { code: string } } }> {
  const url = `http://127.0.0.1:${m.loopbackPort}/v1/token?audience=${AUDIENCE}&htm=GET&htu=${encodeURIComponent(htu)}`;
  const r = await output(m.asUser(user, ['curl', '-sS', '-H', `Origin: ${ORIGIN}`, '-w', '\n%{http_code}', url], { inNamespace: true }));
  const lines = r.out.trimEnd().split('\n');
  const status = Number(lines.pop());
  return { status, body: JSON.parse(lines.join('\n') || '{}') as { token?: string; dpop?: string; tier?: string; error?: { code: string } } };
}

function claimsOf(token: string): { sub: string; aud: string } {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { sub: string; aud: string };
}

test('one loopback listener for the machine serves both accounts: tokens for the same device, each proof verified by the access service', async () => {
  // The listener is the agent's: root's process inside the namespace holds the port, and no other.
  const listeners = m.ns.exec(['ss', '-Hltnp', `sport = :${m.loopbackPort}`]).trim().split('\n').filter((l) => l.trim() !== '');
  assert.equal(listeners.length, 1, listeners.join('\n'));
  assert.match(listeners[0] ?? '', /127\.0\.0\.1:47100/);
  assert.match(listeners[0] ?? '', /"node"/);
  assert.ok(m.agentLines.some((l) => l.event === 'listening' && l.port === m.loopbackPort), 'the agent said it listens on its port');

  const answers = await Promise.all(USERS.map((u, i) => tokenAs(u, `${RECORDS}patients/${i + 1}`)));
  for (const [i, a] of answers.entries()) assert.equal(a.status, 200, `${USERS[i] ?? ''}: ${JSON.stringify(a.body)}`);
  const claims = answers.map((a) => claimsOf(a.body.token ?? ''));
  assert.equal(claims[0]?.sub, claims[1]?.sub, 'both accounts got tokens for the one device');
  assert.match(claims[0]?.sub ?? '', /^[0-9a-f]{32}$/);
  assert.equal(claims[0]?.aud, AUDIENCE);

  // The access service checks each request offline, with the service's keys and status list
  // (fetched inside the namespace, where the service is).
  const documents = new Map<string, string>();
  for (const path of ['/.well-known/jwks.json', '/v1/status-list']) documents.set(`${m.serviceUrl}${path}`, m.ns.exec(['curl', '-sSf', `${m.serviceUrl}${path}`]));
  const asked: string[] = [];
  const rp = createRelyingParty({
    issuer: m.serviceUrl,
    audience: AUDIENCE,
    fetch: (input) => {
      const url = input instanceof Request ? input.url : String(input);
      asked.push(url);
      const text = documents.get(url);
      return Promise.resolve(text === undefined ? new Response('', { status: 404 }) : new Response(text, { status: 200, headers: { 'content-type': url.endsWith('status-list') ? 'application/statuslist+jwt' : 'application/json' } }));
    },
  });
  try {
    for (const [i, a] of answers.entries()) {
      const decision = await rp.verifyRequest({ method: 'GET', url: `${RECORDS}patients/${i + 1}`, authorization: `DPoP ${a.body.token ?? ''}`, dpop: a.body.dpop, requiredTier: 'full' });
      assert.ok(decision.allow, `${USERS[i] ?? ''}'s request: ${JSON.stringify(decision)} (fetched ${asked.join(', ')})`);
      assert.equal(decision.deviceId, claims[0]?.sub);
    }
  } finally {
    rp.close();
  }
  // A page of another origin gets nothing, whoever asks.
  const other = await output(m.asUser(USERS[0] ?? '', ['curl', '-sS', '-H', 'Origin: https://evil.example', `http://127.0.0.1:${m.loopbackPort}/v1/token?audience=${AUDIENCE}`], { inNamespace: true }));
  assert.match(other.out, /ORIGIN_REFUSED/);
});

test('dta status --config as an ordinary account: the root-only file is not read; the default place is asked, and the person is told so', async () => {
  const asNurse = await output(asUser(USERS[0] ?? '', [...DTA, 'status', '--config', m.configPath, '--json']));
  assert.doesNotMatch(asNurse.err, /CONFIG_INVALID/, asNurse.err);
  assert.match(asNurse.err, new RegExp(`${m.configPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} cannot be read: this account may not read it`));
  assert.match(asNurse.err, /Asking the agent at its default place, \/run\/dta\/agent\.sock\./);
  // Nothing serves the default place in this test (the agent here listens in its own folder), so the answer names it.
  assert.match(asNurse.err, /AGENT_UNAVAILABLE: The device trust agent cannot be reached at \/run\/dta\/agent\.sock/);
  assert.equal(asNurse.code, 2);
  // Whoever may read the file (root, IT) is sent where it says.
  const asRoot = await output(spawnAsRoot([...DTA, 'status', '--config', m.configPath, '--json']));
  assert.equal(asRoot.err, '');
  assert.match(String((JSON.parse(asRoot.out) as { deviceId: unknown }).deviceId), /^[0-9a-f]{32}$/);
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
      const r = await output(asUser(u, [...DTA, 'status', '--ipc', ipcPath, '--json']));
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
  m.firewall(false);
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
  assert.equal(m.deviceCount(), 1);
  const actions = m.auditActions();
  assert.equal(actions.filter((a) => a.action === 'enrol' && a.outcome === 'ok').length, 1, JSON.stringify(actions.filter((a) => a.action !== 'attest')));
  assert.equal(actions.filter((a) => a.action.startsWith('re-enrol') || a.action.startsWith('enrol.rekey')).length, 0);
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
