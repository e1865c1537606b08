// The shared workstation for minutes, not seconds (issue 12's Show): the machine's agent as
// root, two ordinary accounts each running a tray (the tray's Node-side client) and a
// `dta status --json` loop the whole time, the firewall turned off at a third of the run and on
// again at two thirds. At the end: one device in the service, exactly one enrolment in the
// audit log, no re-enrolment, both trays saw the same states in the same order, and every
// status call named the one device. Prints the counts; exits 1 when any of that fails.
// The scene is tests/kit/shared-machine.ts, as in tests/integration/system-agent.test.ts.
// Runs as root on Linux (network namespace, useradd). Everything it made goes at the end.
// Usage: DTA_SOAK_MINUTES=3 node --import tsx scripts/shared-machine-soak.ts
import { join } from 'node:path';
import type { SharedMachine } from '../tests/kit/shared-machine.js';
import { output } from '../tests/kit/child-output.js';
import { ROOT, startSharedMachine } from '../tests/kit/shared-machine.js';

const MAX_MINUTES = 60;

function soakMinutes(value: string | undefined): number {
  if (value === undefined || value === '') return 3;
  const minutes = Number(value);
  if (!Number.isFinite(minutes) || minutes <= 0 || minutes > MAX_MINUTES) throw new Error(`DTA_SOAK_MINUTES must be a number of minutes above 0 and at most ${MAX_MINUTES}, not ${JSON.stringify(value)}`);
  return minutes;
}

interface TrayLine {
  readonly at: number;
  readonly link: string;
  readonly state: string;
  readonly deviceId: string | null;
}

/** The states in the order they were shown, each run of the same state once. */
function sequence(lines: readonly TrayLine[]): string[] {
  const seen: string[] = [];
  for (const l of lines) {
    const shown = l.link === 'connected' ? l.state : `link:${l.link}`;
    if (seen.at(-1) !== shown) seen.push(shown);
  }
  return seen;
}

/** Compliant and warning are both "may open patient data"; which of the two depends on when a check ran. */
function access(state: string): string {
  return state === 'compliant' || state === 'warning' ? 'access' : state;
}

async function statusLoop(m: SharedMachine, user: string, until: number): Promise<{ calls: number; failed: string[]; deviceIds: Set<string>; states: Map<string, number> }> {
  const result = { calls: 0, failed: [] as string[], deviceIds: new Set<string>(), states: new Map<string, number>() };
  // Bounded by time and by count: one call takes a second or more (su + node).
  while (Date.now() < until && result.calls < 10_000) {
    const r = await output(m.asUser(user, [process.execPath, join(ROOT, 'bin', 'dta.mjs'), 'status', '--ipc', m.ipcPath, '--json']));
    result.calls++;
    if (r.code !== 0 && r.code !== 1) {
      result.failed.push(`exit ${String(r.code)}: ${r.err.trim()}`);
      continue;
    }
    const s = JSON.parse(r.out) as { state: string; deviceId: string | null };
    if (s.deviceId !== null) result.deviceIds.add(s.deviceId);
    result.states.set(s.state, (result.states.get(s.state) ?? 0) + 1);
  }
  return result;
}

async function soak(m: SharedMachine, minutes: number): Promise<string[]> {
  const problems: string[] = [];
  const ms = minutes * 60_000;
  const start = Date.now();
  const until = start + ms;
  const trays = m.users.map((u) => output(m.asUser(u, [process.execPath, '--import', 'tsx', join(ROOT, 'tests', 'kit', 'tray-client.ts'), m.ipcPath, String(Math.ceil(ms / 1000) + 10)])));
  const loops = m.users.map((u) => statusLoop(m, u, until));
  const firewall = (async () => {
    await new Promise((r) => setTimeout(r, ms / 3));
    m.firewall(false);
    process.stdout.write(`firewall off at ${Math.round((Date.now() - start) / 1000)} s\n`);
    await new Promise((r) => setTimeout(r, ms / 3));
    m.firewall(true);
    process.stdout.write(`firewall on at ${Math.round((Date.now() - start) / 1000)} s\n`);
  })();
  const [statuses, trayResults] = await Promise.all([Promise.all(loops), Promise.all(trays), firewall]);

  const deviceIds = new Set<string>();
  const sequences: string[][] = [];
  for (const [i, user] of m.users.entries()) {
    const st = statuses[i];
    const tray = trayResults[i];
    if (st === undefined || tray === undefined) continue;
    const lines = tray.out.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as TrayLine);
    for (const l of lines) if (l.deviceId !== null) deviceIds.add(l.deviceId);
    for (const id of st.deviceIds) deviceIds.add(id);
    const seq = sequence(lines).map(access);
    sequences.push(seq);
    process.stdout.write(`${user}: ${st.calls} dta status calls (${[...st.states].map(([s, n]) => `${s} ${n}`).join(', ')}), ${st.failed.length} failed; tray: ${lines.length} updates, states ${seq.join(' -> ')}\n`);
    if (st.failed.length > 0) problems.push(`${user}'s dta status failed ${st.failed.length} times: ${st.failed.slice(0, 3).join(' | ')}`);
    if (tray.code !== 0) problems.push(`${user}'s tray ended with ${String(tray.code)}: ${tray.err.slice(-300)}`);
    if (!seq.includes('blocked')) problems.push(`${user}'s tray never showed the block while the firewall was off`);
  }
  if (JSON.stringify(sequences[0]) !== JSON.stringify(sequences[1])) problems.push(`the trays saw different states: ${JSON.stringify(sequences)}`);
  if (deviceIds.size !== 1) problems.push(`the accounts saw ${deviceIds.size} device ids: ${[...deviceIds].join(', ')}`);

  const devices = m.deviceCount();
  const actions = m.auditActions();
  const enrolments = actions.filter((a) => a.action === 'enrol' && a.outcome === 'ok').length;
  const reEnrolments = actions.filter((a) => a.action.startsWith('re-enrol') || a.action.startsWith('enrol.rekey')).length;
  const attestations = actions.filter((a) => a.action === 'attest').length;
  const agentEnded = m.agentLines.filter((l) => 'stderr' in l).length;
  process.stdout.write(`service: ${devices} device(s), ${enrolments} enrolment(s), ${reEnrolments} re-enrolment(s), ${attestations} attestations in ${minutes} min; agent stderr lines: ${agentEnded}\n`);
  if (devices !== 1) problems.push(`${devices} devices in the service`);
  if (enrolments !== 1) problems.push(`${enrolments} enrolments in the audit log`);
  if (reEnrolments !== 0) problems.push(`${reEnrolments} re-enrolments in the audit log`);
  return problems;
}

const minutes = soakMinutes(process.env.DTA_SOAK_MINUTES);
process.stdout.write(`shared machine soak: ${minutes} min, two accounts\n`);
const m = await startSharedMachine();
let problems: string[];
try {
  problems = await soak(m, minutes);
} finally {
  await m.close();
}
if (problems.length > 0) {
  process.stdout.write(`FAILED:\n${problems.map((p) => `- ${p}`).join('\n')}\n`);
  process.exitCode = 1;
} else {
  process.stdout.write('ok: one device, one enrolment, no re-enrolment, both accounts saw the same states\n');
}
