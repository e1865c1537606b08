// The Linux firewall's probes in stages (probe-stages.linux.ts) must never change a verdict: for
// every recorded real ruleset, and for the machines where nft or the legacy tools cannot run, the
// check judged on only the records a staged run makes (derived from the records it reads, as a
// replayed support bundle does) comes to the same outcome, facts included, as on every record.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ProbeRecord } from '../../../../common/posture.js';
import { linuxFirewallCheck } from '../../../../main/posture/checks/firewall/probe.linux.js';
import { recordsForCheck } from '../../../../main/posture/probe.js';
import { createReplayProbeSource } from '../../../../main/posture/replay-probe-source.js';
import { firewallRecords, GROUND_TRUTH_RULESETS } from '../../../kit/firewall-fixtures.js';
import { judge, missingTool, rec } from '../../../kit/probe-records.js';

/** The records a staged live run would have made, given what each program would print. */
async function staged(all: readonly ProbeRecord[]): Promise<ProbeRecord[]> {
  const run = createReplayProbeSource(all).start(linuxFirewallCheck.probes, 10_000);
  return (await recordsForCheck(run, linuxFirewallCheck.probes)).filter((r) => r.error?.code !== 'NOT_RECORDED');
}

async function sameOutcome(name: string, all: readonly ProbeRecord[]): Promise<readonly string[]> {
  const some = await staged(all);
  assert.deepEqual(judge(linuxFirewallCheck, some), judge(linuxFirewallCheck, [...all]), name);
  return some.map((r) => r.id);
}

const denied = (id: string): ProbeRecord => rec(id, '', { exitCode: 1, stderr: 'Error: Operation not permitted' });

test('every recorded real ruleset: the staged records give the outcome every record gives', async () => {
  for (const ruleset of GROUND_TRUTH_RULESETS) await sameOutcome(ruleset, firewallRecords(ruleset));
});

test('nftables alone: iptables-save, ip6tables-save and firewall-cmd are not run', async () => {
  const ids = await sameOutcome('arch-default', firewallRecords('arch-default'));
  assert.ok(!ids.includes('linux.iptables-save') && !ids.includes('linux.ip6tables-save') && !ids.includes('linux.firewalld-state'), ids.join(', '));
});

test('iptables-nft tables of one IP version: only that version\'s iptables-save runs', async () => {
  const ids = await sameOutcome('docker', firewallRecords('docker'));
  assert.ok(ids.includes('linux.iptables-save') && !ids.includes('linux.ip6tables-save'), ids.join(', '));
});

test('no root: iptables-save and firewall-cmd run, and firewalld running is still not a pass', async () => {
  const all = [denied('linux.nft-ruleset'), denied('linux.iptables-save'), denied('linux.ip6tables-save'), denied('linux.iptables-legacy-save'), denied('linux.ip6tables-legacy-save'), rec('linux.ipv6-addresses', ''), rec('linux.firewalld-state', 'running\n')];
  const ids = await sameOutcome('no root', all);
  assert.ok(ids.includes('linux.iptables-save') && ids.includes('linux.firewalld-state'), ids.join(', '));
});

test('no nft, legacy iptables only (iptables before 1.8: iptables-save is the legacy one, no iptables-legacy-save)', async () => {
  const legacyText = firewallRecords('legacy-next-to-nft').find((r) => r.id === 'linux.iptables-legacy-save')?.stdout ?? '';
  const all = firewallRecords('legacy-next-to-nft', [missingTool('linux.nft-ruleset'), missingTool('linux.iptables-legacy-save'), missingTool('linux.ip6tables-legacy-save'), rec('linux.iptables-save', legacyText)]);
  const ids = await sameOutcome('legacy only', all);
  assert.ok(ids.includes('linux.iptables-save'), ids.join(', '));
});

test('nft runs but no legacy save is installed: iptables-save runs, since it may be the only view of legacy tables', async () => {
  const legacyText = firewallRecords('legacy-next-to-nft').find((r) => r.id === 'linux.iptables-legacy-save')?.stdout ?? '';
  const all = firewallRecords('legacy-next-to-nft', [missingTool('linux.iptables-legacy-save'), missingTool('linux.ip6tables-legacy-save'), rec('linux.iptables-save', legacyText)]);
  const ids = await sameOutcome('nft with legacy iptables-save', all);
  assert.ok(ids.includes('linux.iptables-save'), ids.join(', '));
  assert.deepEqual(judge(linuxFirewallCheck, all).facts.legacyTables, ['ip filter (legacy)']);
});

test('an nft answer that is not its JSON: every program the judge could fall back on runs, and the judge reports the same parser error', async () => {
  const all = firewallRecords('arch-default', [rec('linux.nft-ruleset', 'not json')]);
  const some = await staged(all);
  const ids = some.map((r) => r.id);
  assert.ok(ids.includes('linux.iptables-save') && ids.includes('linux.ip6tables-save'), ids.join(', '));
  const thrown = (records: ProbeRecord[]): string => {
    try {
      judge(linuxFirewallCheck, records);
    } catch (e) {
      return String(e);
    }
    return 'no error';
  };
  assert.match(thrown(some), /JSON/);
  assert.equal(thrown(some), thrown(all));
});
