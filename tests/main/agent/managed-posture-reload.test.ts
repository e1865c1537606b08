// IT changes the managed posture policy while the system agent runs: the change applies to
// the next posture check at once, without a restart. Files are replaced as MDMs do (a new
// file renamed over the old one) in a real folder under a temporary /etc-like root; the
// agent is the real one (live probes on this machine, the real service on loopback).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import type { AgentLog } from '../../../main/agent/agent.js';
import { createAgent } from '../../../main/agent/create-agent.js';
import { openManagedPosturePolicy } from '../../../main/agent/managed-posture-policy.js';
import { LINUX_POLICY_DIR, MACOS_MANAGED_PREFERENCES, WINDOWS_POLICY_KEYS } from '../../../main/config/config-sources.js';
import type { RegistrySource, RegValue } from '../../../main/config/registry-export.js';
import { OS_PATCH_TIERS_POLICY, supportEndedEntry } from '../../kit/os-patch-tiers.js';
import { startTestService } from '../../kit/service.js';
import { waitUntil } from '../../kit/wait.js';

interface Logged {
  readonly level: 'info' | 'warn';
  readonly event: string;
  readonly fields: Record<string, unknown>;
}

function recordingLog(): AgentLog & { readonly lines: Logged[] } {
  const lines: Logged[] = [];
  return {
    lines,
    info: (event, fields = {}) => void lines.push({ level: 'info', event, fields }),
    warn: (event, fields = {}) => void lines.push({ level: 'warn', event, fields }),
  };
}

/** Writes the policy file as an MDM does: a whole new file renamed over the old one. */
function replacePolicy(root: string, content: string, name = 'policy.json'): void {
  const dir = root + LINUX_POLICY_DIR;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `.${name}.new`), content);
  renameSync(join(dir, `.${name}.new`), join(dir, name));
}

function tempRoot(t: { after: (f: () => void) => void }): string {
  const root = mkdtempSync(join(tmpdir(), 'dta-managed-reload-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  return root;
}

test('Linux: a stricter limit renamed into the policy folder is in force within the debounce, and what changed is logged', async (t) => {
  const root = tempRoot(t);
  replacePolicy(root, JSON.stringify({ updateFailAfterDays: 60, updateWarnAfterDays: 35 }));
  const live = await openManagedPosturePolicy('linux', { root });
  assert.equal(live.current().updates.failAfterDays, 60);
  const log = recordingLog();
  const seen: number[] = [];
  // The periodic re-read is far away: only the folder watcher can see this change in time.
  const stop = live.follow({ log, onChange: (p) => seen.push(p.updates.failAfterDays), debounceMs: 100, rereadMs: 3_600_000 });
  t.after(stop);

  replacePolicy(root, JSON.stringify({ updateFailAfterDays: 10, updateWarnAfterDays: 35 }));
  await waitUntil('the new limit', () => seen.includes(10), 5000, () => JSON.stringify(log.lines));
  assert.equal(live.current().updates.failAfterDays, 10);
  assert.deepEqual(
    log.lines.map((l) => [l.level, l.event, l.fields.changes]),
    [['info', 'managed-policy-changed', [{ setting: 'updateFailAfterDays', from: '60', to: '10', source: `${LINUX_POLICY_DIR}/policy.json` }]]],
  );
});

test('Linux: a broken or invalid new policy keeps the last valid one and logs CONFIG_INVALID once; a good one then applies', async (t) => {
  const root = tempRoot(t);
  replacePolicy(root, JSON.stringify({ updateFailAfterDays: 10 }));
  const live = await openManagedPosturePolicy('linux', { root });
  const log = recordingLog();
  const seen: number[] = [];
  // Re-read often too: a refusal that persists is still logged only once.
  const stop = live.follow({ log, onChange: (p) => seen.push(p.updates.failAfterDays), debounceMs: 100, rereadMs: 200 });
  t.after(stop);
  const refusals = (): Logged[] => log.lines.filter((l) => l.event === 'managed-policy-refused');

  // Half a file (an MDM writing in place): without the rule the default (60 days) would apply.
  replacePolicy(root, '{"updateFailAfterDays": 1');
  await waitUntil('the refusal of a half-written file', () => refusals().length === 1, 5000, () => JSON.stringify(log.lines));
  assert.equal(refusals()[0]?.fields.code, 'CONFIG_INVALID');
  assert.match(String(refusals()[0]?.fields.message), /policy\.json cannot be used.*The last valid policy stays in force\./);
  assert.equal(live.current().updates.failAfterDays, 10);

  // A value out of range: refused the same way, as its own refusal.
  replacePolicy(root, JSON.stringify({ updateFailAfterDays: 'soon' }));
  await waitUntil('the refusal of a bad value', () => refusals().length === 2, 5000, () => JSON.stringify(log.lines));
  assert.match(String(refusals()[1]?.fields.message), /updateFailAfterDays/);
  // Several re-reads later it has been said once, and the policy is still the last valid one.
  const rereadsDone = Date.now() + 1000;
  await waitUntil('a few re-reads', () => Date.now() > rereadsDone, 2000);
  assert.equal(refusals().length, 2, JSON.stringify(refusals()));
  assert.equal(live.current().updates.failAfterDays, 10);
  assert.equal(seen.length, 0, `no policy change reported: ${seen.join(", ")}`);

  replacePolicy(root, JSON.stringify({ updateFailAfterDays: 5 }));
  await waitUntil('the good policy', () => seen.includes(5), 5000, () => JSON.stringify(log.lines));
  assert.equal(live.current().updates.failAfterDays, 5);
});

test('Linux: a policy folder made after the agent started is read by the periodic re-read, and watched from then on', async (t) => {
  const root = tempRoot(t);
  const live = await openManagedPosturePolicy('linux', { root });
  const defaults = live.current().updates.failAfterDays;
  const log = recordingLog();
  const seen: number[] = [];
  const stop = live.follow({ log, onChange: (p) => seen.push(p.updates.failAfterDays), debounceMs: 50, rereadMs: 300 });
  t.after(stop);
  replacePolicy(root, JSON.stringify({ updateFailAfterDays: defaults - 1 }));
  await waitUntil('the new folder read', () => seen.includes(defaults - 1), 5000, () => JSON.stringify(log.lines));
  replacePolicy(root, JSON.stringify({ updateFailAfterDays: defaults - 2 }));
  await waitUntil('the next change', () => seen.includes(defaults - 2), 5000, () => JSON.stringify(log.lines));
  assert.deepEqual(seen, [defaults - 1, defaults - 2]);
});

test('Linux: a bad entry already reported at start does not hold back IT\'s later changes', async (t) => {
  const root = tempRoot(t);
  const badEntry = '{"kind":"windowsUpdate","build":"not a number"}';
  replacePolicy(root, JSON.stringify({ updateFailAfterDays: 30, postureSupportData: [badEntry] }));
  const live = await openManagedPosturePolicy('linux', { root });
  assert.equal(live.problems.length, 1, live.problems.join('\n'));
  const log = recordingLog();
  const seen: number[] = [];
  const stop = live.follow({ log, onChange: (p) => seen.push(p.updates.failAfterDays), debounceMs: 100, rereadMs: 3_600_000 });
  t.after(stop);
  replacePolicy(root, JSON.stringify({ updateFailAfterDays: 20, postureSupportData: [badEntry] }));
  await waitUntil('the change beside the old bad entry', () => seen.includes(20), 5000, () => JSON.stringify(log.lines));
  assert.deepEqual(log.lines.map((l) => l.event), ['managed-policy-changed']);
});

function plist(entries: Record<string, number>): string {
  const body = Object.entries(entries).map(([k, v]) => `<key>${k}</key><integer>${v}</integer>`).join('');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n<plist version="1.0"><dict>${body}</dict></plist>\n`;
}

test('macOS: the managed preferences replaced by a profile update are followed', async (t) => {
  const root = tempRoot(t);
  const folder = root + dirname(MACOS_MANAGED_PREFERENCES);
  mkdirSync(folder, { recursive: true });
  const install = (content: string): void => {
    writeFileSync(`${root}${MACOS_MANAGED_PREFERENCES}.new`, content);
    renameSync(`${root}${MACOS_MANAGED_PREFERENCES}.new`, root + MACOS_MANAGED_PREFERENCES);
  };
  install(plist({ maxScreenLockIdleSeconds: 900 }));
  const live = await openManagedPosturePolicy('darwin', { root });
  assert.equal(live.current().screenLock.maxIdleSeconds, 900);
  const log = recordingLog();
  const seen: number[] = [];
  const stop = live.follow({ log, onChange: (p) => seen.push(p.screenLock.maxIdleSeconds), debounceMs: 100, rereadMs: 3_600_000 });
  t.after(stop);
  install(plist({ maxScreenLockIdleSeconds: 120 }));
  await waitUntil('the new screen lock limit', () => seen.includes(120), 5000, () => JSON.stringify(log.lines));
  assert.deepEqual(log.lines.map((l) => l.fields.changes), [[{ setting: 'maxScreenLockIdleSeconds', from: '900', to: '120', source: MACOS_MANAGED_PREFERENCES }]]);
});

test('Windows: the policy keys are read again on a timer (the registry has no folder to watch)', async (t) => {
  const values = new Map<string, Map<string, RegValue>>([[WINDOWS_POLICY_KEYS[0], new Map([['maxScreenLockIdleSeconds', { type: 'dword', value: 600 }]])]]);
  const registry: RegistrySource = { values: (key) => values.get(key) ?? null };
  const live = await openManagedPosturePolicy('win32', { registry });
  assert.equal(live.current().screenLock.maxIdleSeconds, 600);
  const log = recordingLog();
  const seen: number[] = [];
  const stop = live.follow({ log, onChange: (p) => seen.push(p.screenLock.maxIdleSeconds), rereadMs: 100 });
  t.after(stop);
  // Group Policy writes the new value.
  values.set(WINDOWS_POLICY_KEYS[0], new Map([['maxScreenLockIdleSeconds', { type: 'dword', value: 300 }]]));
  await waitUntil('the new screen lock limit', () => seen.includes(300), 5000, () => JSON.stringify(log.lines));
  assert.equal(live.current().screenLock.maxIdleSeconds, 300);
  assert.deepEqual(log.lines.map((l) => l.fields.changes), [[{ setting: 'maxScreenLockIdleSeconds', from: '600', to: '300', source: WINDOWS_POLICY_KEYS[0] }]]);
});

test('the running agent: IT ends support for this machine\'s release in its policy, and the next check fails os-patch and lowers the tier within seconds', { timeout: 120_000 }, async (t) => {
  const root = tempRoot(t);
  replacePolicy(root, JSON.stringify({ updateFailAfterDays: 60 }));
  const service = await startTestService({ policyYaml: OS_PATCH_TIERS_POLICY });
  t.after(() => service.close());
  const dataDir = join(root, 'agent-data');
  const live = await openManagedPosturePolicy('linux', { root });
  const { agent } = createAgent(
    { serviceUrl: service.url, enrolmentSecret: service.enrolmentSecret, dataDir, keyStorage: 'file', allowedOrigins: new Map(), accessServices: new Map(), loopbackPort: 0, cadence: { fastSeconds: 600, fullSeconds: 3600 }, backoff: { initialMs: 200, maxMs: 1000 } },
    { posturePolicy: live.current },
  );
  const log = recordingLog();
  // As the system agent does: a new policy is checked against at once.
  const stop = live.follow({ log, onChange: () => void agent.checkNow(), debounceMs: 100 });
  t.after(() => {
    stop();
    agent.stop();
  });
  const osPatch = (): string | undefined => agent.state().report?.checks.find((c) => c.id === 'os-patch')?.verdict;
  await agent.start();
  await waitUntil('the first attestation', () => agent.state().tier !== null, 60_000, () => JSON.stringify(agent.state()));
  assert.equal(agent.state().tier, 'full', `os-patch is ${osPatch()} on this machine: ${JSON.stringify(agent.state().report?.checks.find((c) => c.id === 'os-patch'))}`);

  const changedAt = performance.now();
  replacePolicy(root, JSON.stringify({ updateFailAfterDays: 60, postureSupportData: [supportEndedEntry()] }));
  await waitUntil('the stricter policy to reach the token', () => agent.state().tier === 'limited', 30_000, () => `${JSON.stringify(log.lines)} ${JSON.stringify(agent.state())}`);
  const seconds = (performance.now() - changedAt) / 1000;
  assert.equal(osPatch(), 'fail');
  assert.match(agent.state().report?.checks.find((c) => c.id === 'os-patch')?.reason ?? '', /2020/);
  assert.deepEqual(log.lines.map((l) => l.event), ['managed-policy-changed']);
  t.diagnostic(`policy file renamed to a lower tier in ${seconds.toFixed(1)} s (a full posture check and an attestation)`);
});
